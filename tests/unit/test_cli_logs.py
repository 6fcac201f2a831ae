"""`logs` on moto's CloudWatch Logs: Powertools JSON rendered, filters, --follow ending on Ctrl-C, colour."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from support.cli import LOG_GROUP

from darknet_lambda.cli import loglines

REQUEST = "0193f0e2-8a4b-7c1d-9e2f-3a4b5c6d7e8f"


def powertools(level: str, message: str, **keys) -> str:
    return json.dumps(
        {
            "level": level,
            "location": "handler:1",
            "message": message,
            "timestamp": "2026-12-01 10:00:00,000+0000",
            "service": "darknet-lambda",
            "function_request_id": "aaaaaaaa-0000-4000-8000-000000000000",
            **keys,
        }
    )


@pytest.fixture
def logged(cli_stack):
    client = boto3.client("logs", region_name="us-east-1")
    client.create_log_group(logGroupName=LOG_GROUP)
    client.create_log_stream(logGroupName=LOG_GROUP, logStreamName="s")
    now = int(time.time() * 1000)
    lines = [
        "START RequestId: aaaaaaaa-0000-4000-8000-000000000000 Version: $LATEST",
        powertools("INFO", "detected", request_id=REQUEST, detections=2),
        powertools(
            "ERROR",
            "image rejected",
            request_id="bbbbbbbb-0000-4000-8000-000000000000",
            error="the bytes are not an image",
        ),
        powertools("INFO", "old line"),
    ]
    times = [now - 3000, now - 2000, now - 1000, now - 3 * 3600 * 1000]
    events = sorted(
        ({"timestamp": t, "message": m} for t, m in zip(times, lines, strict=True)),
        key=lambda e: e["timestamp"],
    )
    client.put_log_events(logGroupName=LOG_GROUP, logStreamName="s", logEvents=events)
    return cli_stack


def test_lines_are_rendered_time_level_request_id_message(logged):
    result = logged.run("logs", "--since", "10m")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # the old line is outside --since
    assert lines[0].split()[1:3] == ["INFO", "aaaaaaaa-0000-4000-8000-000000000000"]
    assert lines[1].split()[1:4] == ["INFO", REQUEST, "detected"] and "detections=2" in lines[1]
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_filters_by_request_and_errors_and_json(logged):
    only = logged.run("logs", "--request-id", REQUEST, "--json")
    documents = [json.loads(line) for line in only.stdout.splitlines()]
    assert [d["message"] for d in documents] == ["detected"]
    assert documents[0]["request_id"] == REQUEST and documents[0]["extra"] == {"detections": 2}
    errors = logged.run("logs", "--errors", "--since", "1d")
    assert errors.stdout.count("\n") == 1 and "image rejected" in errors.stdout
    assert "error=the bytes are not an image" in errors.stdout


def test_follow_prints_each_event_once_and_ctrl_c_ends_it_with_0(logged, monkeypatch):
    seen = []
    client = boto3.client("logs", region_name="us-east-1")
    loglines.follow(
        client, [LOG_GROUP], loglines.since_millis("10m"), seen.append, sleep=lambda s: None, rounds=3
    )
    assert len(seen) == 3 and len({e["eventId"] for e in seen}) == 3

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loglines, "follow", interrupted)
    result = logged.run("logs", "--follow")
    assert result.exit_code == 0 and result.stderr == ""


def test_since_takes_durations_and_iso_times():
    assert loglines.since_millis("10m", now=1000.0) == 400_000
    assert loglines.since_millis("2h", now=10_000.0) == 2_800_000
    assert loglines.since_millis("2026-12-01T10:00:00") == 1_796_119_200_000


def test_a_bad_since_and_a_missing_group_are_one_line(cli_stack):
    bad = cli_stack.run("logs", "--since", "yesterday")
    assert bad.exit_code == 2 and "give a duration like 10m" in bad.stderr
    missing = cli_stack.run("logs")
    assert missing.exit_code == 2 and f"no log group {LOG_GROUP}" in missing.stderr


def test_colour_on_a_terminal_and_off_with_no_color(monkeypatch):
    from rich.console import Console

    line = loglines.parse({"timestamp": 0, "message": powertools("ERROR", "boom")})
    terminal = Console(force_terminal=True, color_system="standard", width=200)
    with terminal.capture() as captured:
        terminal.print(loglines.render(line))
    assert "\x1b[" in captured.get()
    monkeypatch.setenv("NO_COLOR", "1")
    from darknet_lambda.cli.output import consoles

    out, err = consoles()
    assert out.no_color and err.no_color


def test_plain_runtime_lines_keep_their_level():
    debug = loglines.parse(
        {"timestamp": 0, "message": "05 Dec 2026 23:26:09,402 [DEBUG] (rapid) Await runtime"}
    )
    assert (debug.level, debug.request_id) == ("DEBUG", "")
    report = loglines.parse({"timestamp": 0, "message": f"END RequestId: {REQUEST}"})
    assert (report.level, report.request_id) == ("INFO", REQUEST)
    crash = loglines.parse({"timestamp": 0, "message": "Traceback (most recent call last):"})
    assert crash.level == "ERROR"
