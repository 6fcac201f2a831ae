"""Fixtures for the end-to-end tests: the stack `localstack/run.sh e2e` deployed to LocalStack.

These tests need the running harness; run them through `make e2e` (or `make test`). Without it
they fail at once, naming what is missing: they never skip.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from e2e_harness.client import POLL_SECONDS, Stack, aws
from support.divergences import expected

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
