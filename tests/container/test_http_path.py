"""The HTTP path in the built image: API Gateway REST proxy events, synchronous JSON, tar.gz and async."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import tarfile
import time
from urllib.parse import unquote

import pytest
from lambda_events import response_headers

from darknet_detector.contract import (
    ASYNC_IMAGE_LIMIT_BYTES,
    DEFAULT_MODEL,
    LAMBDA_ASYNC_PAYLOAD_BYTES,
    RESULT_IMAGE,
    RESULT_JSON,
    RESULT_TEXT,
    time_ordered_id_millis,
)

pytestmark = pytest.mark.docker

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<function>[^/]+)/invocations")
FUNCTION = re.compile(r"(arn:aws:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?")


def test_post_returns_json_detections(any_engine, dog_jpg, api_event, dog_checks):
    engine, function = any_engine
    response = function.invoke(api_event(dog_jpg))

    assert response["statusCode"] == 200, response
    assert response_headers(response)["Content-Type"] == "application/json"
    assert response["isBase64Encoded"] is False
    document = json.loads(response["body"])
    assert document["status"] == "ok"
    assert document["request_id"] == response_headers(response)["X-Request-Id"]
    assert (document["engine"], document["model"], document["threshold"]) == (engine, DEFAULT_MODEL, 0.5)
    # The JSON answer skips the drawing where the engine can: Darknet's CLI always draws.
    drawn = {"drawn": {"width": 768, "height": 576, "factor": 1}} if engine == "darknet" else {}
    assert document["image"] == {
        "width": 768,
        "height": 576,
        "format": "jpeg",
        "orientation": 1,
        "network_input": {"decoded": "full"},
        **drawn,
    }
    dog_checks["detections"](document["detections"])
    dog_checks["result_out"](document["result_out"])
    assert document["timings"]["predict_seconds"] > 0


WHAT_A_REQUEST_IMPORTS = """
import json, sys
from darknet_detector.serving import handler

class Context:
    function_name, function_version, memory_limit_in_mb = "detector", "$LATEST", 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:detector"
    aws_request_id, log_group_name, log_stream_name = "request", "group", "stream"

    def get_remaining_time_in_millis(self):
        return 60000

response = handler.lambda_handler(json.load(sys.stdin), Context())
print(json.dumps({"status": response["statusCode"], "modules": sorted(sys.modules)}))
"""
# Modules that serve other event sources than the function's: Powertools' package __init__.py files import
# them all, and the image's rewritten ones (container/scripts/lazy-package-init.py) only on first use.
OTHER_EVENT_SOURCES = [
    "asyncio",
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.event_handler.bedrock_agent",
    "aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event",
    "aws_lambda_powertools.utilities.data_classes.ses_event",
]


def test_a_request_imports_only_what_serves_api_gateway(detector_image, dog_jpg, api_event):
    """A cold start's first request pays for the REST resolver, not for AppSync's (asyncio) or Bedrock's."""
    command = ["docker", "run", "--rm", "-i", "--network", "none", "--read-only", "--tmpfs", "/tmp"]
    command += ["--entrypoint", "python3", detector_image, "-c", WHAT_A_REQUEST_IMPORTS]
    event = json.dumps(api_event(dog_jpg, {"Accept": "application/json"}))
    done = subprocess.run(command, input=event, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == 200
    assert "aws_lambda_powertools.event_handler.api_gateway" in report["modules"]
    assert [name for name in OTHER_EVENT_SOURCES if name in report["modules"]] == []


def test_accept_gzip_returns_a_tar_gz_of_the_png_and_result_out(lambda_onnx, dog_jpg, api_event, dog_checks):
    response = lambda_onnx.invoke(api_event(dog_jpg, {"Accept": "application/gzip"}))

    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    assert response_headers(response)["Content-Type"] == "application/gzip"
    archive = base64.b64decode(response["body"], validate=True)
    assert archive[:2] == b"\x1f\x8b", archive[:8]
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == sorted([RESULT_IMAGE, RESULT_TEXT])
        png = tar.extractfile(RESULT_IMAGE).read()
        text = tar.extractfile(RESULT_TEXT).read().decode()
    assert dog_checks["png_size"](png) == dog_checks["size"]
    dog_checks["result_out"](text)


def test_async_request_reinvokes_the_function_and_results_land_where_202_said(
    lambda_async, fake_lambda_api, s3, bucket, dog_jpg, api_event, dog_checks, bucket_keys
):
    already = len(fake_lambda_api.requests)
    response = lambda_async.invoke(api_event(dog_jpg, {"X-Amz-Invocation-Type": "Event"}))

    assert response["statusCode"] == 202, response
    accepted = json.loads(response["body"])
    request_id = accepted["request_id"]
    assert time_ordered_id_millis(request_id) is not None, "GET /results can tell it pending"
    invocation_id = response_headers(response)["X-Request-Id"]
    assert wait_for_log_line(
        lambda_async, {"function_request_id": invocation_id, "job_request_id": request_id}
    ), "the invocation logs the job's id beside its own"
    folder = f"output/{request_id}/"
    assert accepted["location"] == f"s3://{bucket}/{folder}"
    assert accepted["status"] == "accepted"
    # Nothing is written before the asynchronous half runs.
    assert bucket_keys(folder) == set()

    (call,) = fake_lambda_api.wait_for(already + 1)[already:]
    assert call.method == "POST"
    match = INVOKE_PATH.fullmatch(call.path)
    assert match, call.path
    assert FUNCTION.fullmatch(unquote(match.group("function"))), call.path
    assert call.headers.get("x-amz-invocation-type") == "Event", call.headers
    assert call.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "), "Invoke must be signed"
    payload = json.loads(call.body)
    assert len(call.body) <= LAMBDA_ASYNC_PAYLOAD_BYTES, "an Event payload must fit Lambda's Event limit"

    # Lambda would now run the function with that payload: do so.
    result = lambda_async.invoke(payload)
    assert result == {"request_id": request_id, "status": "ok"}, result

    assert {key.removeprefix(folder) for key in bucket_keys(folder)} == {
        RESULT_IMAGE,
        RESULT_TEXT,
        RESULT_JSON,
    }
    document = json.loads(s3.get_object(Bucket=bucket, Key=folder + RESULT_JSON)["Body"].read())
    assert document["status"] == "ok" and document["request_id"] == request_id
    dog_checks["detections"](document["detections"])
    png = s3.get_object(Bucket=bucket, Key=folder + RESULT_IMAGE)["Body"].read()
    assert dog_checks["png_size"](png) == dog_checks["size"]
    dog_checks["result_out"](s3.get_object(Bucket=bucket, Key=folder + RESULT_TEXT)["Body"].read().decode())


def wait_for_log_line(function, keys: dict[str, str], timeout: float = 10.0) -> bool:
    """Whether a JSON log line with these keys and values appears (docker's log may lag the answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in function.logs().splitlines():
            if line.startswith("{") and all(f'"{value}"' in line for value in keys.values()):
                record = json.loads(line)
                if all(record.get(key) == value for key, value in keys.items()):
                    return True
        time.sleep(0.1)
    return False


def logged_function(function) -> dict:
    """The function's name and ARN as Powertools logged them from the Lambda context."""
    for line in function.logs().splitlines():
        if line.startswith("{") and '"function_arn"' in line:
            record = json.loads(line)
            return {"name": record["function_name"], "arn": record["function_arn"]}
    raise AssertionError(f"no log line names the function:\n{function.logs()[-3000:]}")


def test_async_invoke_targets_the_function_itself(lambda_async, fake_lambda_api, dog_jpg, api_event):
    already = len(fake_lambda_api.requests)
    assert lambda_async.invoke(api_event(dog_jpg, {"X-Amz-Invocation-Type": "Event"}))["statusCode"] == 202

    (call,) = fake_lambda_api.wait_for(already + 1)[already:]
    target = unquote(INVOKE_PATH.fullmatch(call.path).group("function"))
    itself = logged_function(lambda_async)
    assert target in (itself["name"], itself["arn"]), (target, itself)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_body"),
        (b"plain text, not an image" * 10, 415, "not_an_image"),
        (b"%PDF-1.7\n" + bytes(64), 415, "unsupported_type"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64), 400, "corrupt_image"),
    ],
    ids=["empty", "text", "pdf", "broken-webp"],
)
def test_async_bad_input_is_refused_at_once_without_an_invoke(
    lambda_async, fake_lambda_api, api_event, body, status, code
):
    already = len(fake_lambda_api.requests)
    response = lambda_async.invoke(api_event(body, {"X-Amz-Invocation-Type": "Event"}))

    assert response["statusCode"] == status, response
    assert json.loads(response["body"])["error"]["code"] == code
    assert len(fake_lambda_api.requests) == already, "a bad image must not be handed to an async run"


def test_async_image_over_the_event_limit_is_413_pointing_to_s3(
    lambda_async, fake_lambda_api, bucket, dog_jpg, api_event
):
    limit = ASYNC_IMAGE_LIMIT_BYTES  # the handler's default MAX_ASYNC_IMAGE_BYTES
    body = dog_jpg[:-2] + bytes(limit + 1 - len(dog_jpg)) + b"\xff\xd9"
    already = len(fake_lambda_api.requests)

    response = lambda_async.invoke(api_event(body, {"X-Amz-Invocation-Type": "Event"}))

    assert response["statusCode"] == 413, response
    error = json.loads(response["body"])["error"]
    assert error["code"] == "too_large"
    assert str(limit) in error["message"] and f"s3://{bucket}/input/" in error["message"], error
    assert len(fake_lambda_api.requests) == already
