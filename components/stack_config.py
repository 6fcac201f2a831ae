"""Reads a stack's configuration into DarknetServiceArgs; a bad value is reported under its key.

Each configuration key maps to one or more paths in DarknetServiceArgs (`memorySize` is
`function.memory_size`); its type comes from the field it sets, and its default is the field's.
Pulumi.yaml declares the same keys with their types and defaults, checked against this table by a test.
"""

import dataclasses
import types
import typing

import pulumi

from .checks import InvalidArgument
from .service import DarknetServiceArgs

CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "image": ("image.image_uri",),
    "buildContext": ("image.context",),
    "model": ("image.model",),
    "architecture": ("image.architecture",),
    "pushToEcr": ("image.push_to_ecr",),
    "keepImages": ("image.keep_images",),
    "engine": ("function.engine",),
    "threshold": ("function.threshold",),
    "inputPrefix": ("function.input_prefix",),
    "outputPrefix": ("function.output_prefix",),
    "memorySize": ("function.memory_size",),
    "timeout": ("function.timeout",),
    "ephemeralStorage": ("function.ephemeral_storage",),
    "reservedConcurrency": ("function.reserved_concurrency",),
    "environment": ("function.environment",),
    "logLevel": ("function.log_level",),
    "logRetentionDays": ("function.log_retention_days", "api.log_retention_days"),
    "maxRetryAttempts": ("function.max_retry_attempts",),
    "maxEventAgeSeconds": ("function.max_event_age_seconds",),
    "bucketName": ("bucket_name",),
    "bucketVersioning": ("bucket.versioning",),
    "outputExpirationDays": ("bucket.output_expiration_days",),
    "kmsKeyArn": ("bucket.kms_key_arn",),
    "forceDestroy": ("bucket.force_destroy", "image.force_delete"),
    "s3Trigger": ("enable_s3_trigger",),
    "s3Delivery": ("s3_delivery",),
    "httpApi": ("enable_http_api",),
    "apiStageName": ("api.stage_name",),
    "apiThrottleRateLimit": ("api.throttle_rate_limit",),
    "apiThrottleBurstLimit": ("api.throttle_burst_limit",),
    "apiManageAccountLogsRole": ("api.manage_account_logs_role",),
    "tags": ("tags",),
}


class StackConfigError(ValueError):
    """A configuration value the service cannot be deployed with, named by its full key."""


def field_of(path: str) -> dataclasses.Field:
    """The Args field a path such as `function.memory_size` names."""
    owner: object = DarknetServiceArgs
    for name in path.split("."):
        field = next(f for f in dataclasses.fields(owner) if f.name == name)  # type: ignore[arg-type]
        owner = field.type
    return field


def config_kind(path: str) -> str:
    """int, float, bool, object or str: how the key's value is read from the stack configuration."""
    hint = field_of(path).type
    kinds = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (dict, "object")):
        if hint is kind or kind in kinds or typing.get_origin(hint) is kind:
            return name
    return "str"


def service_args_from_config(config: pulumi.Config | None = None) -> DarknetServiceArgs:
    config = config or pulumi.Config()
    values: dict[str, dict] = {}
    top: dict[str, object] = {}
    for key, paths in CONFIG_KEYS.items():
        value = _read(config, key, config_kind(paths[0]))
        if value is None:
            continue
        for path in paths:
            part, _, name = path.rpartition(".")
            (values.setdefault(part, {}) if part else top)[name] = value
    try:
        return DarknetServiceArgs(**top, **values)  # type: ignore[arg-type]
    except InvalidArgument as error:
        raise StackConfigError(f"{config.full_key(_key_of(error.argument))}: {error.reason}") from None


def _key_of(argument: str) -> str:
    """The configuration key that sets an argument path; a part's own check names a field of it."""
    for key, paths in CONFIG_KEYS.items():
        if argument in paths:
            return key
    return argument


def _read(config: pulumi.Config, key: str, kind: str) -> object:
    """Pulumi's typed getters already name the key when a value has the wrong type; an empty value,
    which Pulumi.yaml declares as the default of an optional key, means not set."""
    if config.get(key) in (None, ""):
        return None
    if kind == "int":
        return config.get_int(key)
    if kind == "float":
        return config.get_float(key)
    if kind == "bool":
        return config.get_bool(key)
    if kind == "object":
        value = config.get_object(key)
        if not (isinstance(value, dict) and all(isinstance(item, str) for item in value.values())):
            raise StackConfigError(f"{config.full_key(key)}: expected a map of strings, got {value!r}")
        return value or None
    return config.get(key)
