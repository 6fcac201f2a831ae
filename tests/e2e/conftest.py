"""Fixtures for the end-to-end tests: the stack `localstack/run.sh e2e` deployed to LocalStack.

These tests need the running harness; run them through `make e2e` (or `make test`). Without it
they fail at once, naming what is missing: they never skip.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from e2e_harness.client import POLL_SECONDS, Stack, aws
from support.divergences import expected
from support.event_rules import documented_patterns

LATENCIES = pytest.StashKey[dict[str, list[float]]]()
FIGURES = pytest.StashKey[list[str]]()


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    return value


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack.from_outputs(_required_env("E2E_OUTPUTS"))


@pytest.fixture(scope="session")
def async_retry_delay() -> float:
    """Seconds the target waits before it retries a failed asynchronous invocation."""
    return float(expected("async_retry_delay_seconds"))


class Subscriber:
    """An SQS queue that a rule on the stack's bus (docs/events.md's `all-results` pattern) fills with
    every completion event, as an application would subscribe; events are kept by their detail's id."""

    def __init__(self, bus: str) -> None:
        self.sqs, self.events, name = aws("sqs"), aws("events"), f"e2e-events-{uuid.uuid4().hex[:8]}"
        self.bus, self.rule = bus, name
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = documented_patterns()["all-results"]
        self.events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
        self.events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
        self.by_id: dict[str, list[dict]] = defaultdict(list)
        # When each event was received (time.monotonic()), in the order of by_id's lists.
        self.received_at: dict[str, list[float]] = defaultdict(list)

    def poll(self, seconds: float) -> None:
        """Receive events for `seconds`, and until the queue answers empty: what arrived is read."""
        deadline = time.monotonic() + seconds
        while True:
            wait = max(0, min(2, int(deadline - time.monotonic())))
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            for message in messages:
                event = json.loads(message["Body"])
                self.by_id[event["detail"]["id"]].append(event)
                self.received_at[event["detail"]["id"]].append(time.monotonic())
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and time.monotonic() >= deadline:
                return

    def listen_past(self, request_id: str, count: int, window: float) -> None:
        """Receive until `window` seconds after request_id's count-th event was received."""
        self.poll(self.received_at[request_id][count - 1] + window - time.monotonic())

    def wait_for(self, request_id: str, count: int = 1, timeout: float = 120) -> list[dict]:
        """The events of request_id once there are `count` of them (fails after timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.by_id[request_id]) < count and time.monotonic() < deadline:
            self.poll(2)
        events = self.by_id[request_id]
        assert len(events) >= count, (
            f"{len(events)} events for {request_id} within {timeout:.0f} s, not {count}"
        )
        return events

    def close(self) -> None:
        self.events.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["queue"])
        self.events.delete_rule(Name=self.rule, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


@pytest.fixture(scope="session")
def subscriber(stack) -> Iterator[Subscriber]:
    if not stack.event_bus_name:
        pytest.fail("the localstack stack publishes no completion events (events.enabled)", pytrace=False)
    subscriber = Subscriber(stack.event_bus_name)
    yield subscriber
    subscriber.close()


@pytest.fixture(scope="session")
def redelivery_window(stack, async_retry_delay) -> float:
    """How long to keep listening for a second event of one result: past the image queue's visibility
    timeout (a redelivered message) and the asynchronous retry delay (a retried invocation), plus the
    publish's own retries."""
    visibility = 0.0
    if stack.queue_url:
        attributes = aws("sqs").get_queue_attributes(
            QueueUrl=stack.queue_url, AttributeNames=["VisibilityTimeout"]
        )
        visibility = float(attributes["Attributes"]["VisibilityTimeout"])
    return max(visibility, async_retry_delay) + 5


@pytest.fixture(scope="session")
def dog_jpg() -> bytes:
    return Path(_required_env("E2E_DOG_JPG")).read_bytes()


@pytest.fixture(scope="session")
def s3():
    return aws("s3")


@pytest.fixture
def timed(request) -> Callable[[str], AbstractContextManager[None]]:
    """`with timed("what"):` records how long the block took; the run ends with a table of them."""
    store = request.config.stash.setdefault(LATENCIES, {})

    @contextmanager
    def measure(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        store.setdefault(name, []).append(time.perf_counter() - started)

    return measure


@pytest.fixture
def figures(request) -> Callable[[str], None]:
    """`figures("...")` adds a line to the figures printed at the end of the run (load, backfill)."""
    return request.config.stash.setdefault(FIGURES, []).append


def pytest_terminal_summary(terminalreporter, config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.write_sep("-", "at volume")
        for line in lines:
            terminalreporter.write_line(line)
    timings = config.stash.get(LATENCIES, {})
    if not timings:
        return
    heading = f"latency as the tests measured it (results polled every {POLL_SECONDS} s)"
    terminalreporter.write_sep("-", heading)
    for name, values in timings.items():
        terminalreporter.write_line(
            f"{name:<48} median {statistics.median(values):6.2f} s   "
            f"min {min(values):6.2f} s   max {max(values):6.2f} s   n={len(values)}"
        )
