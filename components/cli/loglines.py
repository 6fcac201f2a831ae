"""`logs`: the function's CloudWatch log events, rendered (time, level, request id, message)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import CliError

SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ERROR_LEVELS = ("ERROR", "CRITICAL")
# Powertools' own keys and the handler's; what remains of a line is shown after its message.
KNOWN_KEYS = {
    "level",
    "message",
    "timestamp",
    "service",
    "location",
    "function_request_id",
    "request_id",
    "function_name",
    "function_arn",
    "function_memory_size",
    "cold_start",
    "xray_trace_id",
    "sampling_rate",
}
FOLLOW_SECONDS = 2.0
LAMBDA_ID = re.compile(r"RequestId: ([0-9a-f-]{36})")
PLAIN_LEVEL = re.compile(r"\[(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\]")


def since_millis(since: str, now: float | None = None) -> int:
    """`10m`, `2h`, `30s`, `1d` before now, or an ISO time; Unix milliseconds."""
    now = time.time() if now is None else now
    match = SINCE.fullmatch(since.strip())
    if match:
        return int((now - float(match[1]) * UNIT_SECONDS[match[2]]) * 1000)
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise CliError(f"--since {since!r}: give a duration like 10m, 2h, 30s, 1d, or an ISO time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass
class Line:
    """One log event, read: its Powertools JSON when it is JSON, Lambda's plain lines otherwise."""

    timestamp: int
    level: str
    request_id: str
    message: str
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": iso(self.timestamp),
            "level": self.level,
            "request_id": self.request_id,
            "message": self.message,
            **({"extra": self.extra} if self.extra else {}),
        }


def iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse(event: dict[str, Any]) -> Line:
    text = event.get("message", "").rstrip("\n")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and "message" in document:
        # The detection's own id (request_id) names an image across invocations; the invocation's
        # id (function_request_id) is the fallback.
        request_id = document.get("request_id") or document.get("function_request_id") or ""
        message = document["message"]
        if not isinstance(message, str):
            message = json.dumps(message)
        extra = {key: value for key, value in document.items() if key not in KNOWN_KEYS}
        return Line(event["timestamp"], str(document.get("level", "INFO")), str(request_id), message, extra)
    found = LAMBDA_ID.search(text)
    tagged = PLAIN_LEVEL.search(text)  # the runtime's own lines: "[DEBUG] (rapid) ..."
    if re.search(r"\b(Traceback|Task timed out)\b", text):
        level = "ERROR"
    elif tagged:
        level = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(tagged[1], tagged[1])
    else:
        level = "INFO"
    return Line(event["timestamp"], level, found[1] if found else "", text, {})


def matches(line: Line, raw: str, request_id: str | None, errors: bool) -> bool:
    if errors and line.level not in ERROR_LEVELS:
        return False
    return not request_id or request_id in raw


def log_groups(outputs: dict[str, Any]) -> list[str]:
    """The function's log group, as the stack exports it (logGroupName)."""
    if not outputs.get("logGroupName"):
        raise CliError("the stack exports no logGroupName: no logs to read")
    return [str(outputs["logGroupName"])]


def fetch(logs, groups: list[str], start_ms: int) -> Iterator[dict[str, Any]]:
    """Every event of the groups from start_ms on, oldest first; a group that does not exist is skipped,
    none existing is an error."""
    events, found = [], False
    for group in groups:
        try:
            for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=group, startTime=start_ms, interleaved=True
            ):
                events.extend(page.get("events", []))
            found = True
        except logs.exceptions.ResourceNotFoundException:
            continue
    if not found:
        raise CliError(
            f"no log group {' or '.join(groups)}: the function has not logged yet, or the stack is gone"
        )
    yield from sorted(events, key=lambda event: (event["timestamp"], event.get("eventId", "")))


def follow(
    logs,
    groups: list[str],
    start_ms: int,
    emit: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Prints new events as they arrive, until interrupted (or `rounds` polls, for tests)."""
    seen: set[str] = set()
    polls = 0
    while rounds is None or polls < rounds:
        newest = start_ms
        for event in fetch(logs, groups, start_ms):
            newest = max(newest, event["timestamp"])
            if event["eventId"] not in seen:
                seen.add(event["eventId"])
                emit(event)
        start_ms = newest  # events of the same millisecond come again, and are skipped by their id
        polls += 1
        if rounds is None or polls < rounds:
            sleep(FOLLOW_SECONDS)


LEVEL_STYLES = {
    "DEBUG": "dim",
    "INFO": "cyan",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold red",
}


def render(line: Line):
    """A Rich Text of one line: time, level, request id, message, then the other keys in short."""
    from rich.text import Text

    text = Text()
    text.append(iso(line.timestamp)[11:23], style="dim")
    text.append(" ")
    text.append(f"{line.level:<7}", style=LEVEL_STYLES.get(line.level, ""))
    text.append(" ")
    text.append(f"{line.request_id or '-':<36}", style="magenta")
    text.append(" ")
    text.append(line.message)
    if line.extra:
        text.append(" " + " ".join(f"{k}={_short(v)}" for k, v in line.extra.items()), style="dim")
    return text


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
