"""Reads a stack's configuration into DarknetServiceArgs; a bad value is reported under its key.

The configuration has the shape of DarknetServiceArgs, with names in camelCase: each of its fields is
a key (`bucketName`, `s3Delivery`, `tags`), and each part is a structured value whose keys are the
part's own fields (`function: {memorySize: 3008, timeout: 120}`). So a new field of an Args class is
a new setting, with no table to keep. Pulumi.yaml declares the same keys (checked by a unit test).
"""

import dataclasses
import types
import typing

import pulumi

from .checks import InvalidArgument
from .service import PARTS, DarknetServiceArgs


class StackConfigError(ValueError):
    """A configuration value the service cannot be deployed with, named by its full key."""


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def config_kind(hint: object) -> str:
    """bool, object or str: how a top-level key's value is read from the stack configuration."""
    kinds = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if bool in kinds:
        return "bool"
    if dataclasses.is_dataclass(hint) or dict in kinds or typing.get_origin(hint) is dict:
        return "object"
    return "str"


def service_args_from_config(config: pulumi.Config | None = None) -> DarknetServiceArgs:
    config = config or pulumi.Config()
    values: dict[str, object] = {}
    for field in dataclasses.fields(DarknetServiceArgs):
        key = camel_case(field.name)
        value = _read(config, key, config_kind(field.type))
        if value is None:
            continue
        values[field.name] = (
            _part_fields(config, key, PARTS[field.name], typing.cast(dict, value))
            if field.name in PARTS
            else value
        )
    try:
        return DarknetServiceArgs(**values)  # type: ignore[arg-type]
    except InvalidArgument as error:
        key = ".".join(camel_case(name) for name in error.argument.split("."))
        raise StackConfigError(f"{config.full_key(key)}: {error.reason}") from None


def _part_fields(config: pulumi.Config, key: str, part: type, value: dict) -> dict:
    """A part's structured value, keys from camelCase to the Args field names."""
    names = {camel_case(field.name): field.name for field in dataclasses.fields(part)}
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise StackConfigError(
            f"{config.full_key(key)}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(names)}"
        )
    return {names[name]: item for name, item in value.items()}


def _read(config: pulumi.Config, key: str, kind: str) -> object:
    """Pulumi's typed getters already name the key when a value has the wrong type; an empty value,
    which Pulumi.yaml declares as the default of an optional key, means not set."""
    if config.get(key) in (None, ""):
        return None
    if kind == "bool":
        return config.get_bool(key)
    if kind == "object":
        value = config.get_object(key)
        if not isinstance(value, dict):
            raise StackConfigError(f"{config.full_key(key)}: expected a map, got {value!r}")
        return value or None
    return config.get(key)
