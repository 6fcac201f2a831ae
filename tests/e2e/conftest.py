"""Fixtures for the end-to-end tests: the stack `localstack/run.sh e2e` deployed to LocalStack.

These tests need the running harness; run them through `make e2e` (or `make test`). Without it
they fail at once, naming what is missing: they never skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "localstack"))

from e2e_harness.client import Stack, aws


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    return value


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack.from_outputs(_required_env("E2E_OUTPUTS"))


@pytest.fixture(scope="session")
def dog_jpg() -> bytes:
    return Path(_required_env("E2E_DOG_JPG")).read_bytes()


@pytest.fixture(scope="session")
def s3():
    return aws("s3")
