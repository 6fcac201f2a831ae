"""Argument checks shared by the component Args classes and the stack configuration reader.

Each check raises InvalidArgument naming the argument, so the service can report a part's argument
under its path (`function.memory_size`) and the stack configuration reader under the key the user
typed. The detector's own settings (engine, threshold, prefixes, model names) are checked by the
contract the handler shares (`contract.py`), translated here by `contract_checked`.
"""

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from darknet_detector.contract import (
    CORS_ORIGINS_ENV,
    ENGINE_MIN_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MB_PER_VCPU,
    MAX_IMAGE_PIXELS,
    ContractError,
    cors_origins_problem,
)

MIN_MEMORY_MB = 1024
"""The detector's own floor, above Lambda's: less starves a detection of CPU."""

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

T = TypeVar("T")


class InvalidArgument(ValueError):
    """A component argument outside what the component can deploy safely."""

    def __init__(self, argument: str, message: str):
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.reason = message


@contextmanager
def argument_path(prefix: str) -> Iterator[None]:
    """Report the arguments of a part under its place in a larger Args (`function.timeout`)."""
    try:
        yield
    except InvalidArgument as error:
        raise InvalidArgument(f"{prefix}.{error.argument}", error.reason) from None


def contract_checked(build: Callable[[], T]) -> T:
    """Run a contract check, reporting its setting as the argument of the same name."""
    try:
        return build()
    except ContractError as error:
        raise InvalidArgument(error.setting, error.reason) from None


def check_memory(argument: str, value: object) -> None:
    if not isinstance(value, int):
        raise InvalidArgument(argument, f"{value!r} is not a whole number of MB")
    if value < MIN_MEMORY_MB:
        raise InvalidArgument(
            argument,
            f"{value} MB is too little: Lambda sizes the CPU share by memory ({LAMBDA_MB_PER_VCPU} MB is one "
            f"vCPU), and under {MIN_MEMORY_MB} MB a detection is CPU-starved (the function itself peaks at "
            "about 170 MiB)",
        )
    if value > LAMBDA_MAX_MEMORY_MB:
        raise InvalidArgument(argument, f"{value} MB is above Lambda's maximum of {LAMBDA_MAX_MEMORY_MB} MB")


def check_engine_memory(argument: str, engine: str, value: int) -> None:
    """Every photo is decoded whole, on every stack, so a memory size too small for the largest one
    (contract.MAX_IMAGE_PIXELS) is refused here rather than discovered per photo."""
    needed = ENGINE_MIN_MEMORY_MB[engine]
    if value < needed:
        raise InvalidArgument(
            argument,
            f"{value} MB is too little for the {engine} engine: every photo is decoded whole, so that it "
            f"gets the same detections on every stack, and the largest taken ({MAX_IMAGE_PIXELS} pixels) "
            f"needs {needed} MB with this engine; give it at least {needed} MB",
        )


def check_range(argument: str, value: object, low: float, high: float, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(argument, f"{value!r} is not a number")
    if not low <= value <= high:
        suffix = f" {unit}" if unit else ""
        raise InvalidArgument(argument, f"{value} is outside {low}..{high}{suffix}")


def check_choice(argument: str, value: object, choices: Iterable[object]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise InvalidArgument(argument, f"{value!r} is not one of {', '.join(map(str, choices))}")


def args_from(cls: type[T], value: object, argument: str = "args") -> T:
    """An Args dataclass from itself or from a plain dict of its fields (how Pulumi's provider host,
    serving other languages, passes inputs), so both paths get the same defaults and checks."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise InvalidArgument(argument, f"expected {cls.__name__} or a dict of its fields, got {value!r}")
    hints = {field.name: field.type for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    known = set(hints)
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidArgument(argument, f"unknown field(s) {', '.join(unknown)} for {cls.__name__}")
    # Unset inputs arrive as None: leave them out so that the defaults apply.
    values = {name: _plain(hints[name], item, name) for name, item in value.items() if item is not None}
    return cls(**values)


def _plain(hint: object, value: object, name: str) -> object:
    """Checks a plain value against its field's type. Pulumi's wire format carries every number as a
    float: 2048.0 from another language is 2048."""
    kinds = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if int in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    simple = [kind for kind in kinds if kind in _SIMPLE_NAMES]
    if not simple or len(simple) < len([kind for kind in kinds if kind is not type(None)]):
        return value  # maps, lists, nested Args, pulumi.Input: checked where they are used
    if any(isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool) for kind in simple):
        return value
    if float in simple and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidArgument(name, f"{value!r} is not {' or '.join(_SIMPLE_NAMES[kind] for kind in simple)}")


_SIMPLE_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


def check_cors_origins(argument: str, origins: object) -> None:
    """A CORS setting (None: not set) by the contract's rule, reported as `argument`."""
    problem = None if origins is None else cors_origins_problem(origins)
    if problem:
        raise InvalidArgument(argument, problem)


def cors_environment(origins: list[str] | None) -> dict[str, str]:
    """A function's CORS_ALLOWED_ORIGINS, empty when no origin is allowed (same origin only)."""
    return {CORS_ORIGINS_ENV: ",".join(origins or [])}
