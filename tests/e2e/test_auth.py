"""Authorization modes on LocalStack: the stack's function behind one API per mode (the harness adds an
api_key API and an iam API to the deploy), called with curl and a SigV4 signer as clients call them.

LocalStack enforces API keys and usage plans; it checks no IAM (no SigV4 verification, no
execute-api:Invoke policy), so only the signed call of the iam mode is tested here: that the method
asks for AWS_IAM and that the gateway's refusals say how to sign is proven in
tests/unit/test_component_api.py.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from e2e_harness.applier import ACCOUNT
from e2e_harness.client import classes

EXPECTED = {"dog", "truck", "bicycle"}
REGION = "us-east-1"
SECRET = "test"


@pytest.fixture(scope="module")
def outputs() -> dict:
    path = os.environ.get("E2E_OUTPUTS")
    if not path:
        pytest.fail("E2E_OUTPUTS is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    with open(path) as file:
        return json.load(file)


@pytest.fixture(scope="module")
def dog_file(tmp_path_factory, dog_jpg):
    path = tmp_path_factory.mktemp("auth") / "dog.jpg"
    path.write_bytes(dog_jpg)
    return path


def curl(*arguments: str) -> tuple[int, bytes]:
    """Run curl; the status and the body (curl writes the status last, on a line of its own)."""
    completed = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "120",
            "--write-out",
            "\n%{http_code}",
            *arguments,
        ],
        capture_output=True,
        check=True,
    )
    body, _, status = completed.stdout.rpartition(b"\n")
    return int(status), body


def assert_refusal(body: bytes, code: str) -> None:
    """The gateway's refusal in the function's JSON error shape (the API's gateway response)."""
    error = json.loads(body)["error"]
    assert error["code"] == code, error


def test_api_key_mode_refuses_a_request_without_a_key(outputs, dog_file):
    status, body = curl(
        "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}", outputs["apiKeyApiUrl"]
    )
    assert status == 403, body[:300]
    assert_refusal(body, "invalid_api_key")


def test_api_key_mode_refuses_a_wrong_key(outputs, dog_file):
    status, body = curl(
        "-H", "x-api-key: not-the-key", "-H", "Content-Type: image/jpeg",
        "--data-binary", f"@{dog_file}", outputs["apiKeyApiUrl"],
    )  # fmt: skip
    assert status == 403, body[:300]
    assert_refusal(body, "invalid_api_key")


def test_api_key_mode_answers_a_request_with_the_key(outputs, dog_file):
    status, body = curl(
        "-H", f"x-api-key: {outputs['apiKeyValue']}", "-H", "Content-Type: image/jpeg",
        "--data-binary", f"@{dog_file}", outputs["apiKeyApiUrl"],
    )  # fmt: skip
    assert status == 200, body[:300]
    assert classes(json.loads(body)) >= EXPECTED


def test_iam_mode_answers_a_request_curl_signs_with_sigv4(outputs, dog_file):
    status, body = curl(
        "--aws-sigv4", f"aws:amz:{REGION}:execute-api", "--user", f"{ACCOUNT}:{SECRET}",
        "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}", outputs["iamApiUrl"],
    )  # fmt: skip
    assert status == 200, body[:300]
    assert classes(json.loads(body)) >= EXPECTED


def test_iam_mode_answers_a_request_botocore_signs(outputs, dog_jpg):
    request = AWSRequest(
        method="POST", url=outputs["iamApiUrl"], data=dog_jpg, headers={"Content-Type": "image/jpeg"}
    )
    SigV4Auth(Credentials(ACCOUNT, SECRET), "execute-api", REGION).add_auth(request)
    response = requests.post(request.url, data=dog_jpg, headers=dict(request.headers), timeout=120)
    assert response.status_code == 200, response.text[:300]
    assert classes(response.json()) >= EXPECTED
