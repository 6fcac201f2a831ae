"""The LocalStack Lambda init and executor plugin, on the product image with a stand-in handler.

Success, handler errors and timeouts must come back as AWS's emulator reports them, and the
function container must reach LocalStack through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from e2e_harness.applier import ACCOUNT
from e2e_harness.client import aws

TOY_IMAGE_DIR = Path(__file__).parent / "toy_image"


@pytest.fixture(scope="module")
def toy_function():
    function_image = os.environ.get("E2E_FUNCTION_IMAGE")
    if not function_image:
        pytest.fail("E2E_FUNCTION_IMAGE is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    tag = "darknet-lambda-toy:e2e"
    subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "-t",
            tag,
            "--build-arg",
            f"FUNCTION_IMAGE={function_image}",
            str(TOY_IMAGE_DIR),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    client = aws("lambda")
    name = f"toy-{uuid.uuid4().hex[:8]}"
    client.create_function(
        FunctionName=name,
        PackageType="Image",
        Code={"ImageUri": tag},
        Role=f"arn:aws:iam::{ACCOUNT}:role/toy",
        Timeout=3,
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    yield name
    client.delete_function(FunctionName=name)
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


def invoke(function_name: str, payload: dict) -> tuple[str | None, dict | str]:
    response = aws("lambda").invoke(FunctionName=function_name, Payload=json.dumps(payload))
    body = response["Payload"].read()
    try:
        return response.get("FunctionError"), json.loads(body)
    except ValueError:
        return response.get("FunctionError"), body.decode()


def test_success_returns_the_handler_result_and_reaches_localstack(toy_function):
    error, result = invoke(toy_function, {"hello": "world", "health": True})
    assert error is None, result
    assert result["echo"] == {"hello": "world", "health": True}
    assert result["function"] == toy_function
    assert result["lambda_available"] in {"available", "running"}


def test_handler_error_is_reported_as_unhandled_with_the_runtime_error(toy_function):
    error, result = invoke(toy_function, {"fail": "boom"})
    assert error == "Unhandled"
    assert result["errorMessage"] == "boom"
    assert result["errorType"] == "RuntimeError"


def test_timeout_is_the_emulators_and_the_next_invocation_still_works(toy_function):
    error, result = invoke(toy_function, {"sleep": 10})
    assert error == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3" in result["errorMessage"]
    error, result = invoke(toy_function, {"again": True})
    assert error is None, result


def test_the_function_container_stops_on_sigterm(toy_function):
    """The init is the container's PID 1, which ignores an unhandled SIGTERM; it must pass it on,
    or every container LocalStack stops waits out the stop timeout."""
    error, _ = invoke(toy_function, {"warm": True})
    assert error is None
    listed = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"name=-lambda-{toy_function}-"],
        capture_output=True,
        text=True,
        check=True,
    )
    containers = listed.stdout.split()
    assert containers, f"no running container for {toy_function}"
    subprocess.run(["docker", "kill", "--signal", "TERM", *containers], check=True, capture_output=True)
    try:
        subprocess.run(["docker", "wait", *containers], check=False, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the function container ignored SIGTERM for 20 s")
