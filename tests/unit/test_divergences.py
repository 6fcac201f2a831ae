"""The table of LocalStack's divergences from AWS (tests/support/divergences.py) cannot go stale: every
unit test it names exists, every entry cites AWS's documentation, and the target switch is one of two."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import ROOT, divergences
from support.divergences import DETECTED, DIVERGENCES, TARGET_VARIABLE, expected, outcome


def collected_node_ids(files: set[str]) -> set[str]:
    """The node ids pytest collects from these files (parametrized cases under their function's id)."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *sorted(files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return {line.partition("[")[0] for line in completed.stdout.splitlines() if "::" in line}


def test_every_unit_test_the_table_names_is_collected():
    named = {node for entry in DIVERGENCES.values() for node in entry.unit_tests}
    assert named, "each entry names the unit tests that cover AWS's behaviour"
    missing = named - collected_node_ids({node.partition("::")[0] for node in named})
    assert not missing, f"the divergence table names unit tests that do not exist: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_every_entry_cites_aws_and_names_its_unit_tests(name):
    entry = DIVERGENCES[name]
    assert "https://docs.aws.amazon.com/" in entry.aws_source, entry.aws_source
    assert entry.unit_tests and all(node.startswith("tests/unit/") for node in entry.unit_tests)
    assert entry.localstack_behaviour
    assert expected(name, "aws") == entry.aws


def test_the_target_follows_the_environment_and_refuses_an_unknown_one(monkeypatch):
    monkeypatch.setenv(TARGET_VARIABLE, "aws")
    assert divergences._target() == "aws"
    monkeypatch.delenv(TARGET_VARIABLE)
    assert divergences._target() == "localstack"
    monkeypatch.setenv(TARGET_VARIABLE, "prod")
    with pytest.raises(ValueError, match="one of localstack, aws"):
        divergences._target()


def test_localstack_s_retry_delay_is_the_harness_s_setting(monkeypatch):
    monkeypatch.setenv("LAMBDA_RETRY_BASE_DELAY", "5")
    assert expected("async_retry_delay_seconds", "localstack") == 5.0
    assert expected("async_retry_delay_seconds", "aws") == 60.0
    monkeypatch.delenv("LAMBDA_RETRY_BASE_DELAY")
    with pytest.raises(LookupError, match="make e2e"):
        expected("async_retry_delay_seconds", "localstack")


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (200, b'{"detections": [{"class": "dog"}, {"class": "car"}]}', (200, DETECTED)),
        (200, b'{"detections": [{"class": "car"}]}', (200, "detected only ['car']")),
        (
            403,
            b'{"error": {"code": "invalid_api_key", "message": "send x-api-key"}}',
            (403, "invalid_api_key"),
        ),
        (502, b'{"message": "Internal server error"}', (502, "Internal server error")),
        (502, b"<html>Bad Gateway</html>", (502, "<html>Bad Gateway</html>")),
    ],
    ids=["detected", "detected-other", "error-shape", "gateway-default", "not-json"],
)
def test_an_answer_is_stated_as_the_entries_state_it(status, body, said):
    assert outcome(status, body, {"dog"}) == said
