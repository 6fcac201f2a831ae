"""The HTTP path in the built image: API Gateway REST proxy events, synchronous JSON, tar.gz and async."""

from __future__ import annotations

import base64
import io
import json
import re
import tarfile
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.docker

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<function>[^/]+)/invocations")
FUNCTION = re.compile(r"(arn:aws:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?")


def test_post_returns_json_detections(any_engine, dog_jpg, api_event, dog_checks):
    engine, function = any_engine
    response = function.invoke(api_event(dog_jpg))

    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["isBase64Encoded"] is False
    document = json.loads(response["body"])
    assert document["status"] == "ok"
    assert document["request_id"] == response["headers"]["X-Request-Id"]
    assert (document["engine"], document["model"], document["threshold"]) == (engine, "yolov3-tiny", 0.5)
    assert document["image"] == {"width": 768, "height": 576}
    dog_checks["detections"](document["detections"])
    dog_checks["result_out"](document["result_out"])
    assert document["timings"]["predict_seconds"] > 0


def test_accept_gzip_returns_a_tar_gz_of_the_png_and_result_out(lambda_onnx, dog_jpg, api_event, dog_checks):
    response = lambda_onnx.invoke(api_event(dog_jpg, {"Accept": "application/gzip"}))

    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    assert response["headers"]["Content-Type"] == "application/gzip"
    archive = base64.b64decode(response["body"], validate=True)
    assert archive[:2] == b"\x1f\x8b", archive[:8]
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["image-result.png", "result.out"]
        png = tar.extractfile("image-result.png").read()
        text = tar.extractfile("result.out").read().decode()
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
    assert request_id == response["headers"]["X-Request-Id"]
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
    assert len(call.body) <= 1024 * 1024, "an Event payload must fit Lambda's 1 MB asynchronous limit"

    # Lambda would now run the function with that payload: do so.
    result = lambda_async.invoke(payload)
    assert result == {"request_id": request_id, "status": "ok"}, result

    assert {key.removeprefix(folder) for key in bucket_keys(folder)} == {
        "image-result.png",
        "result.out",
        "result.json",
    }
    document = json.loads(s3.get_object(Bucket=bucket, Key=folder + "result.json")["Body"].read())
    assert document["status"] == "ok" and document["request_id"] == request_id
    dog_checks["detections"](document["detections"])
    png = s3.get_object(Bucket=bucket, Key=folder + "image-result.png")["Body"].read()
    assert dog_checks["png_size"](png) == dog_checks["size"]
    dog_checks["result_out"](s3.get_object(Bucket=bucket, Key=folder + "result.out")["Body"].read().decode())
