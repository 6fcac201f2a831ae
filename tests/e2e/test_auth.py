"""Authorization modes on LocalStack: the stack's function behind one API per mode (the harness adds an
api_key API and an iam API to the deploy), called with curl and a SigV4 signer as clients call them.

Where LocalStack (2026.3) answers otherwise than AWS, the tests read the expectation from
tests/support/divergences.py: it renders no gateway response templates or headers (only their status)
and checks no IAM at all (no SigV4 verification, no execute-api:Invoke policy). It checks an API key
against the stage's usage plans, but not their rate or quota, which the unit tests cover. The MOCK
answers (preflight, 404, 405) are rendered by LocalStack as by AWS, the echo of several listed origins
included.
"""

from __future__ import annotations

import json
import os

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from e2e_harness.applier import ACCOUNT
from e2e_harness.client import classes
from support.curl import curl
from support.divergences import expected, outcome

EXPECTED = {"dog", "truck", "bicycle"}
REGION = "us-east-1"
SECRET = "test"


@pytest.fixture(scope="module")
def outputs() -> dict:
    path = os.environ.get("E2E_OUTPUTS")
    if not path:
        pytest.fail("E2E_OUTPUTS is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    with open(path) as file:
        outputs = json.load(file)
    missing = {"apiKeyApiUrl", "apiKeyValue", "iamApiUrl"} - set(outputs)
    if missing:
        pytest.fail(
            f"the deploy exported no {', '.join(sorted(missing))}: the harness's own deploy adds an API per "
            "authorization mode (e2e_harness/program.py); `pulumi up` of the product program does not",
            pytrace=False,
        )
    return outputs


@pytest.fixture(scope="module")
def dog_file(tmp_path_factory, dog_jpg):
    path = tmp_path_factory.mktemp("auth") / "dog.jpg"
    path.write_bytes(dog_jpg)
    return path


def assert_refused_by_the_gateway(status: int, headers: dict[str, str], body: bytes) -> None:
    """API Gateway's own 403 for a missing or wrong key, its INVALID_API_KEY gateway response: the
    function never ran (it answers every request with an X-Request-Id)."""
    assert outcome(status, body, EXPECTED) == expected("invalid_api_key"), body[:300]
    assert headers.get("x-amzn-errortype") == "ForbiddenException", headers
    assert "x-request-id" not in headers


def test_api_key_mode_refuses_a_request_without_a_key(outputs, dog_file):
    answer = curl("-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}", outputs["apiKeyApiUrl"])
    assert_refused_by_the_gateway(*answer)


def test_api_key_mode_refuses_a_wrong_key(outputs, dog_file):
    answer = curl(
        "-H", "x-api-key: not-the-key", "-H", "Content-Type: image/jpeg",
        "--data-binary", f"@{dog_file}", outputs["apiKeyApiUrl"],
    )  # fmt: skip
    assert_refused_by_the_gateway(*answer)


def test_api_key_mode_answers_a_request_with_the_key(outputs, dog_file):
    status, _, body = curl(
        "-H", f"x-api-key: {outputs['apiKeyValue']}", "-H", "Content-Type: image/jpeg",
        "--data-binary", f"@{dog_file}", outputs["apiKeyApiUrl"],
    )  # fmt: skip
    assert status == 200, body[:300]
    assert classes(json.loads(body)) >= EXPECTED


def test_iam_mode_answers_a_request_curl_signs_with_sigv4(outputs, dog_file):
    status, _, body = curl(
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


def test_iam_mode_refuses_an_unsigned_request(outputs, dog_file):
    """MISSING_AUTHENTICATION_TOKEN on AWS, saying how to sign; LocalStack checks no IAM."""
    status, _, body = curl(
        "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}", outputs["iamApiUrl"]
    )
    assert outcome(status, body, EXPECTED) == expected("unsigned_request_to_an_iam_api"), body[:300]


@pytest.mark.parametrize("api", ["apiKeyApiUrl", "iamApiUrl"])
def test_wrong_methods_wrong_paths_and_preflights_need_no_credentials(outputs, api):
    """API Gateway answers them itself (MOCK methods without authorization), so a caller who got the
    method or path wrong learns that, instead of being asked for a key or a signature it has. These APIs
    have no uploads function: the routes are GET / and POST /detect."""
    url = outputs[api]
    status, _, body = curl("-X", "GET", url)
    document = json.loads(body)
    assert (status, document["error"]["code"]) == (405, "method_not_allowed"), body[:300]
    status, _, body = curl(url.removesuffix("detect") + "nope")
    document = json.loads(body)
    assert (status, document["error"]["code"]) == (404, "not_found"), body[:300]
    assert "GET /, POST /detect" in document["error"]["message"]
    status, headers, body = curl(
        "-X", "OPTIONS", "-H", "Origin: https://viewer.example.com",
        "-H", "Access-Control-Request-Method: POST", url,
    )  # fmt: skip
    assert status == 204, body[:300]
    assert headers["access-control-allow-methods"] == "POST, OPTIONS"


def test_the_viewer_page_loads_without_the_api_key(outputs):
    """GET / is never authorized: the page asks for the key it then sends. Without an uploads function
    the detector serves it."""
    status, headers, body = curl(outputs["apiKeyApiUrl"].removesuffix("detect"))
    assert status == 200, body[:300]
    assert headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("origin", "echoed"),
    [("https://viewer.example.com", True), ("https://a.example.com", True), ("https://evil.example", False)],
)
def test_with_several_origins_a_listed_one_is_echoed_by_the_gateway_s_own_answers(outputs, origin, echoed):
    """The harness's api_key API allows LISTED_ORIGINS: no static header can say that, so the preflight
    and the 405/404 answers echo a listed Origin from their mapping template."""
    url = outputs["apiKeyApiUrl"]
    for arguments, status in (
        (("-X", "OPTIONS", "-H", "Access-Control-Request-Method: POST", url), 204),
        (("-X", "GET", url), 405),
        ((url.removesuffix("detect") + "nope",), 404),
    ):
        answered, headers, body = curl("-H", f"Origin: {origin}", *arguments)
        assert answered == status, body[:300]
        assert headers.get("access-control-allow-origin") == (origin if echoed else None), (
            arguments,
            headers,
        )
        assert headers.get("vary") == "Origin"
