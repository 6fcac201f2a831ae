"""Reads a stack's configuration into DarknetServiceArgs; a bad value is reported under its key."""

from __future__ import annotations

import pulumi

from .checks import InvalidArgument
from .service import DarknetServiceArgs

# Configuration key -> (DarknetServiceArgs field, kind). Unset keys keep the component defaults.
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "image": ("image_uri", "str"),
    "buildContext": ("build_context", "str"),
    "pushToEcr": ("push_to_ecr", "bool"),
    "keepImages": ("keep_images", "int"),
    "engine": ("engine", "str"),
    "model": ("model", "str"),
    "threshold": ("threshold", "float"),
    "memorySize": ("memory_size", "int"),
    "timeout": ("timeout", "int"),
    "ephemeralStorage": ("ephemeral_storage", "int"),
    "architecture": ("architecture", "str"),
    "reservedConcurrency": ("reserved_concurrency", "int"),
    "environment": ("environment", "object"),
    "logLevel": ("log_level", "str"),
    "logRetentionDays": ("log_retention_days", "int"),
    "maxRetryAttempts": ("max_retry_attempts", "int"),
    "maxEventAgeSeconds": ("max_event_age_seconds", "int"),
    "bucketName": ("bucket_name", "str"),
    "inputPrefix": ("input_prefix", "str"),
    "outputPrefix": ("output_prefix", "str"),
    "bucketVersioning": ("bucket_versioning", "bool"),
    "outputExpirationDays": ("output_expiration_days", "int"),
    "kmsKeyArn": ("kms_key_arn", "str"),
    "forceDestroy": ("force_destroy", "bool"),
    "s3Trigger": ("enable_s3_trigger", "bool"),
    "httpApi": ("enable_http_api", "bool"),
    "apiStageName": ("api_stage_name", "str"),
    "apiThrottleRateLimit": ("api_throttle_rate_limit", "float"),
    "apiThrottleBurstLimit": ("api_throttle_burst_limit", "int"),
    "apiManageAccountLogsRole": ("api_manage_account_logs_role", "bool"),
    "tags": ("tags", "object"),
}


class StackConfigError(ValueError):
    """A configuration value the service cannot be deployed with, named by its full key."""


def service_args_from_config(config: pulumi.Config | None = None) -> DarknetServiceArgs:
    config = config or pulumi.Config()
    fields_by_key = {field: key for key, (field, _) in CONFIG_KEYS.items()}
    values = {}
    for key, (field, kind) in CONFIG_KEYS.items():
        value = _read(config, key, kind)
        if value is not None:
            values[field] = value
    try:
        return DarknetServiceArgs(**values)
    except InvalidArgument as error:
        key = fields_by_key.get(error.argument, error.argument)
        raise StackConfigError(f"{config.full_key(key)}: {error.reason}") from None


def _read(config: pulumi.Config, key: str, kind: str) -> object:
    """Pulumi's typed getters already name the key when a value has the wrong type."""
    if kind == "int":
        return config.get_int(key)
    if kind == "float":
        return config.get_float(key)
    if kind == "bool":
        return config.get_bool(key)
    if kind == "object":
        value = config.get_object(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(item, str) for item in value.values())
        ):
            raise StackConfigError(f"{config.full_key(key)}: expected a map of strings, got {value!r}")
        return value
    return config.get(key)
