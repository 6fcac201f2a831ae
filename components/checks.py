"""Argument checks shared by the component Args classes and the stack configuration reader.

Each check raises InvalidArgument naming the argument, so the stack configuration reader can
translate the argument into the configuration key the user actually typed.
"""

from __future__ import annotations

from collections.abc import Iterable

MIN_MEMORY_MB = 1024
MAX_MEMORY_MB = 10240

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


class InvalidArgument(ValueError):
    """A component argument outside what the component can deploy safely."""

    def __init__(self, argument: str, message: str):
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.reason = message


def check_memory(argument: str, value: object) -> None:
    if not isinstance(value, int):
        return
    if value < MIN_MEMORY_MB:
        raise InvalidArgument(
            argument,
            f"{value} MB is too little: Darknet needs at least {MIN_MEMORY_MB} MB to load the network "
            "and run a detection",
        )
    if value > MAX_MEMORY_MB:
        raise InvalidArgument(argument, f"{value} MB is above Lambda's maximum of {MAX_MEMORY_MB} MB")


def check_range(argument: str, value: object, low: float, high: float, unit: str = "") -> None:
    if isinstance(value, int | float) and not low <= value <= high:
        suffix = f" {unit}" if unit else ""
        raise InvalidArgument(argument, f"{value} is outside {low}..{high}{suffix}")


def check_choice(argument: str, value: object, choices: Iterable[object]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise InvalidArgument(argument, f"{value!r} is not one of {', '.join(map(str, choices))}")


def check_prefixes(input_argument: str, input_prefix: str, output_argument: str, output_prefix: str) -> None:
    """Outputs must never land under the input prefix, or each result would trigger a new detection."""
    for argument, prefix in ((input_argument, input_prefix), (output_argument, output_prefix)):
        if not prefix or not prefix.endswith("/") or prefix.startswith("/"):
            raise InvalidArgument(argument, f"{prefix!r} must be a key prefix like 'input/' (ending in '/')")
    if input_prefix.startswith(output_prefix) or output_prefix.startswith(input_prefix):
        raise InvalidArgument(
            output_argument,
            f"{output_prefix!r} overlaps the input prefix {input_prefix!r}: "
            "results would trigger new detections",
        )
