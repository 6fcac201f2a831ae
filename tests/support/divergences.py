"""Where LocalStack answers differently from AWS: the one table the end-to-end tests read what to expect from.

An e2e test whose outcome differs between the two asks `expected(NAME)` instead of writing either
outcome down, so the same test states AWS's behaviour against a real account and LocalStack's here.
Each entry says what AWS does and where AWS documents it, what LocalStack (2026.3, the harness's pin)
does instead, and which unit tests hold the project to AWS's behaviour; tests/unit/test_divergences.py
keeps those names from going stale.

E2E_TARGET names the target of the run: `localstack` (the harness, the default) or `aws` (a stack
deployed to a real account). It is read once, when this module is imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TARGET_VARIABLE = "E2E_TARGET"
TARGETS = ("localstack", "aws")

# What an HTTP answer says, as the entries state it: (status, what), where `what` is the error code of
# the project's JSON error shape, API Gateway's own {"message": ...} when no template was rendered, or
# DETECTED for a detection document that found what the test expects.
Outcome = tuple[int, str]
DETECTED = "detected"


@dataclass(frozen=True)
class Divergence:
    aws: object
    """What AWS does, in the terms the test compares (an Outcome, a number of seconds, ...)."""
    aws_source: str
    """The AWS documentation page that says so: its title and URL."""
    localstack: object | Callable[[], object]
    """What LocalStack does instead; a callable when it follows the harness's configuration."""
    localstack_behaviour: str
    """Why LocalStack differs, as far as its code or its answers show."""
    unit_tests: tuple[str, ...]
    """Node ids of the unit tests that hold the project to AWS's behaviour."""


def _localstack_retry_delay() -> float:
    value = os.environ.get("LAMBDA_RETRY_BASE_DELAY")
    if not value:
        raise LookupError("LAMBDA_RETRY_BASE_DELAY is not set: run the end-to-end tests with `make e2e`")
    return float(value)


DIVERGENCES: dict[str, Divergence] = {
    "form_urlencoded_body": Divergence(
        aws=(200, DETECTED),
        aws_source=(
            "Binary media types for REST APIs in API Gateway: "
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html"
        ),
        localstack=(400, "empty_body"),
        localstack_behaviour=(
            "curl --data-binary labels a photo application/x-www-form-urlencoded, a binary media type of "
            "the API, so AWS hands the bytes to the function base64-encoded; LocalStack's gateway parses the "
            "body as a form first, loses the binary bytes and passes an empty body on"
        ),
        unit_tests=(
            "tests/unit/test_http_api.py::test_curl_data_binary_without_a_type_is_taken_when_the_bytes_are_an_image",
            "tests/unit/test_component_api.py::test_binary_media_types_are_the_ones_the_function_reads_and_answers",
        ),
    ),
    "invalid_api_key": Divergence(
        aws=(403, "invalid_api_key"),
        aws_source=(
            "Gateway responses for REST APIs in API Gateway: "
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-gatewayResponse-definition.html"
        ),
        localstack=(403, "Forbidden"),
        localstack_behaviour=(
            "LocalStack applies a gateway response's status but neither its template nor its response "
            "parameters (its gateway_exception handler leaves both as TODO): API Gateway's default body"
        ),
        unit_tests=(
            "tests/unit/test_component_api.py::test_with_an_api_key_the_gateway_s_refusals_say_to_send_x_api_key",
        ),
    ),
    "body_over_lambda_payload": Divergence(
        aws=(502, "integration_failure"),
        aws_source=(
            "Lambda quotas (6 MB synchronous invocation payload): "
            "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; Gateway response types "
            "for API Gateway (INTEGRATION_FAILURE): "
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html"
        ),
        localstack=(502, "Internal server error"),
        localstack_behaviour=(
            "the invocation is refused as on AWS and the API's INTEGRATION_FAILURE status (502) applies, "
            "but LocalStack renders no gateway response template"
        ),
        unit_tests=(
            "tests/unit/test_component_api.py::test_gateway_answers_for_size_are_json_naming_each_cause_and_redeploy_the_api",
        ),
    ),
    "body_over_api_gateway_payload": Divergence(
        aws=(413, "too_large"),
        aws_source=(
            "Amazon API Gateway quotas (10 MB payload for REST APIs): "
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html; "
            "Gateway response types for API Gateway (REQUEST_TOO_LARGE): "
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html"
        ),
        localstack=(502, "Internal server error"),
        localstack_behaviour=(
            "LocalStack has no 10 MB limit: it passes the body on to Lambda, whose refusal is the 502 of a "
            "body over Lambda's payload, without the template"
        ),
        unit_tests=(
            "tests/unit/test_component_api.py::test_gateway_answers_for_size_are_json_naming_each_cause_and_redeploy_the_api",
        ),
    ),
    "unsigned_request_to_an_iam_api": Divergence(
        aws=(403, "missing_authentication"),
        aws_source=(
            "Control access to a REST API with IAM permissions: "
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html"
        ),
        localstack=(200, DETECTED),
        localstack_behaviour="LocalStack Community checks no IAM: neither SigV4 nor execute-api:Invoke",
        unit_tests=(
            "tests/unit/test_component_api.py::test_iam_authorization_asks_for_sigv4",
            "tests/unit/test_component_api.py::test_with_iam_the_gateway_s_refusals_say_to_sign_with_sigv4",
        ),
    ),
    "async_retry_delay_seconds": Divergence(
        aws=60.0,
        aws_source=(
            "How Lambda handles errors and retries with asynchronous invocation (one minute before the first "
            "retry): https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"
        ),
        localstack=_localstack_retry_delay,
        localstack_behaviour=(
            "LocalStack waits LAMBDA_RETRY_BASE_DELAY seconds (60 by default, as AWS); the harness "
            "(localstack/run.sh) shortens it so that a retry shows within a test"
        ),
        unit_tests=(
            "tests/unit/test_component_function.py::test_failed_async_events_go_to_the_failure_queue",
        ),
    ),
}


def _target() -> str:
    target = os.environ.get(TARGET_VARIABLE, TARGETS[0])
    if target not in TARGETS:
        raise ValueError(f"{TARGET_VARIABLE}={target!r}: the e2e target is one of {', '.join(TARGETS)}")
    return target


TARGET = _target()


def expected(name: str, target: str = TARGET) -> Any:
    """What the run's target does where LocalStack and AWS differ (the entry `name` of DIVERGENCES)."""
    entry = DIVERGENCES[name]
    value = entry.aws if target == "aws" else entry.localstack
    return value() if callable(value) else value


def outcome(status: int, body: bytes, detected: set[str]) -> Outcome:
    """An answer as the entries state it: its status, with its error code, API Gateway's own message, or
    DETECTED when it is a detection document whose classes include `detected`."""
    try:
        document = json.loads(body)
    except ValueError:
        return status, body[:200].decode("utf-8", errors="replace")
    if not isinstance(document, dict):
        return status, str(document)[:200]
    if isinstance(document.get("error"), dict):
        return status, str(document["error"].get("code"))
    if "detections" in document:
        found = {detection["class"] for detection in document["detections"]}
        return status, DETECTED if found >= detected else f"detected only {sorted(found)}"
    return status, str(document.get("message", document))
