"""Bad input in the built image: each gets its status, code and message, and the warm process survives."""

from __future__ import annotations

import json

import pytest
from lambda_events import response_headers

from darknet_detector.contract import LAMBDA_SYNC_PAYLOAD_BYTES, RESULT_JSON, SYNC_BODY_LIMIT_BYTES

pytestmark = pytest.mark.docker

HTTP_LIMIT = SYNC_BODY_LIMIT_BYTES  # the handler's default MAX_HTTP_IMAGE_BYTES
EVENT_LIMIT = LAMBDA_SYNC_PAYLOAD_BYTES
JFIF_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def frame_header_only(jpeg: bytes) -> bytes:
    """dog.jpg's markers up to and including its frame header (size known), then EOI: no scan data."""
    position = 2
    while True:
        marker = jpeg[position + 1]
        length = int.from_bytes(jpeg[position + 2 : position + 4], "big")
        position += 2 + length
        if 0xC0 <= marker <= 0xC3:
            return jpeg[:position] + b"\xff\xd9"


def bad_bodies(dog: bytes) -> dict[str, tuple[bytes, int, str, str]]:
    """name -> (body, status, code, a fragment of the message)."""
    return {
        "empty": (b"", 400, "empty_body", "empty"),
        "text": (b"this is a text file, not a picture\n" * 20, 415, "not_an_image", "not an image"),
        "pdf": (b"%PDF-1.7\n" + bytes(64), 415, "unsupported_type", "HEIC"),
        "broken_webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64), 400, "corrupt_image", "WEBP"),
        "broken_tiff": (b"II*\x00\x08\x00\x00\x00" + bytes(64), 400, "corrupt_image", "TIFF"),
        "corrupt_jpeg": (JFIF_HEADER + b"garbage!" * 200 + b"\xff\xd9", 400, "corrupt_image", "corrupt"),
        "undecodable_jpeg": (frame_header_only(dog), 400, "corrupt_image", ""),
        "truncated_jpeg": (dog[: len(dog) // 2], 400, "truncated_image", "truncated"),
    }


BAD_NAMES = list(bad_bodies(b"\xff\xd8\xff\xe0\x00\x04\x00\x00\xff\xc0\x00\x04").keys())


def error_of(response: dict) -> tuple[int, dict]:
    assert "errorType" not in response, response
    assert response_headers(response)["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    assert body["request_id"] == response_headers(response)["X-Request-Id"]
    return response["statusCode"], body["error"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_http_bad_input_gets_its_status_and_code(any_engine, dog_jpg, api_event, name):
    _, function = any_engine
    body, status, code, fragment = bad_bodies(dog_jpg)[name]
    got_status, error = error_of(function.invoke(api_event(body)))
    assert (got_status, error["code"]) == (status, code), error
    assert fragment.lower() in error["message"].lower(), error
    assert error["message"].strip(), error
    assert "/tmp" not in error["message"] and "detect-" not in error["message"], error


def test_http_image_over_the_limit_is_413_naming_the_limit_and_the_s3_path(
    lambda_onnx, bucket, dog_jpg, api_event
):
    body = dog_jpg[:-2] + bytes(HTTP_LIMIT + 1 - len(dog_jpg)) + b"\xff\xd9"
    assert len(body) == HTTP_LIMIT + 1
    event = api_event(body)
    assert len(json.dumps(event)) < EVENT_LIMIT, "the base64 body must still fit Lambda's payload"

    status, error = error_of(lambda_onnx.invoke(event))

    assert (status, error["code"]) == (413, "too_large"), error
    assert str(HTTP_LIMIT) in error["message"], error
    assert f"s3://{bucket}/input/" in error["message"], error


@pytest.mark.parametrize(
    ("name", "code"),
    [("text", "not_an_image"), ("truncated_jpeg", "truncated_image"), ("corrupt_jpeg", "corrupt_image")],
)
def test_s3_bad_object_yields_an_error_result_json_without_raising(
    lambda_onnx, s3, bucket, dog_jpg, s3_event, bucket_keys, name, code
):
    key = f"input/bad-{name}.jpg"
    data = bad_bodies(dog_jpg)[name][0]
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')

    response = lambda_onnx.invoke(s3_event(bucket, key, size=len(data), etag=etag))

    # A raised error would make Lambda retry the asynchronous S3 invocation twice, for nothing.
    assert "errorType" not in response, response
    (request_id,) = [result["request_id"] for result in response["results"]]
    folder = f"output/{request_id}/"
    assert bucket_keys(folder) == {folder + RESULT_JSON}
    document = json.loads(s3.get_object(Bucket=bucket, Key=folder + RESULT_JSON)["Body"].read())
    assert document["status"] == "error", document
    assert document["error"]["code"] == code, document
    assert document["error"]["message"], document
    assert document["source"] == {"bucket": bucket, "key": key, "etag": etag}
    assert "detections" not in document
    assert document["outputs"] == {"json": f"s3://{bucket}/{folder}result.json"}, document


def test_warm_container_still_detects_after_every_bad_input(any_engine, dog_jpg, api_event, dog_checks):
    """The same process (no new INIT in the emulator's log) answers a good image after all bad ones."""
    _, function = any_engine
    assert function.invoke(api_event(dog_jpg))["statusCode"] == 200
    inits = function.logs().count("INIT START")
    for body, status, _, _ in bad_bodies(dog_jpg).values():
        assert function.invoke(api_event(body))["statusCode"] == status

    response = function.invoke(api_event(dog_jpg))

    assert response["statusCode"] == 200, response
    dog_checks["detections"](json.loads(response["body"])["detections"])
    assert function.logs().count("INIT START") == inits, "the runtime was restarted: the process died"


def test_s3_object_over_the_s3_limit_gets_too_large_without_raising(
    lambda_onnx, s3, bucket, dog_jpg, s3_event, bucket_keys
):
    """The notification's size is checked before download: 413 too_large in result.json, no retry."""
    s3_limit = 30 * 1024 * 1024  # the handler's default MAX_S3_IMAGE_BYTES
    key = "input/declared-huge.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=dog_jpg)

    response = lambda_onnx.invoke(s3_event(bucket, key, size=s3_limit + 1))

    assert "errorType" not in response, response
    (request_id,) = [result["request_id"] for result in response["results"]]
    folder = f"output/{request_id}/"
    assert bucket_keys(folder) == {folder + RESULT_JSON}
    document = json.loads(s3.get_object(Bucket=bucket, Key=folder + RESULT_JSON)["Body"].read())
    assert document["status"] == "error" and document["error"]["code"] == "too_large", document
    assert str(s3_limit) in document["error"]["message"], document
