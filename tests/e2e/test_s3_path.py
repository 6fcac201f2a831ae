"""The S3 path on LocalStack: upload under input/, results under output/ID/."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from darknet_detector.contract import OUTPUT_FILES
from e2e_harness.client import aws, classes, invocation_count, settled_invocation_count

EXPECTED = {"dog", "truck", "bicycle"}


def unique(name: str) -> str:
    return f"input/{uuid.uuid4().hex[:8]}-{name}"


@pytest.mark.parametrize("name", ["dog.jpg", "a dog ünïcödé 狗 photo.jpg"])
def test_upload_yields_the_three_outputs_with_the_expected_detections(stack, s3, dog_jpg, name, timed):
    key = unique(name)
    with timed("S3 path: put under input/ -> result.json"):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=dog_jpg)
        folder, document = stack.wait_for_results({key}, timeout=60)[key]
    listed = {item["Key"] for item in s3.list_objects_v2(Bucket=stack.bucket, Prefix=folder)["Contents"]}
    assert listed == {f"{folder}{n}" for n in OUTPUT_FILES}
    assert document["status"] == "ok"
    assert classes(document) >= EXPECTED
    png = s3.get_object(Bucket=stack.bucket, Key=f"{folder}image-result.png")["Body"].read()
    assert png.startswith(b"\x89PNG")
    text = s3.get_object(Bucket=stack.bucket, Key=f"{folder}result.out")["Body"].read().decode()
    assert all(f"{label}:" in text for label in EXPECTED)


def test_function_writes_nothing_under_input_and_its_outputs_trigger_nothing(stack, s3, dog_jpg, timed):
    before_inputs = {
        i["Key"] for i in s3.list_objects_v2(Bucket=stack.bucket, Prefix="input/").get("Contents", [])
    }
    before = settled_invocation_count(stack.function_name)
    key = unique("dog.jpg")
    with timed("S3 path: put under input/ -> result.json"):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=dog_jpg)
        stack.wait_for_results({key}, timeout=60)
    time.sleep(5)  # time for any notification the outputs might (wrongly) have caused
    after_inputs = {
        i["Key"] for i in s3.list_objects_v2(Bucket=stack.bucket, Prefix="input/").get("Contents", [])
    }
    assert after_inputs - before_inputs == {key}
    assert invocation_count(stack.function_name) - before == 1


def test_bad_object_gets_an_error_record_and_no_retries(stack, s3, retry_window):
    before = settled_invocation_count(stack.function_name)
    key = unique("not-an-image.jpg")
    s3.put_object(Bucket=stack.bucket, Key=key, Body=b"this is plain text, not a JPEG")
    _, document = stack.wait_for_results({key}, timeout=60)[key]
    assert document["status"] == "error"
    assert document["error"]["code"] == "not_an_image"
    time.sleep(retry_window)  # a retry would have run by now: see the next test
    assert invocation_count(stack.function_name) - before == 1


def test_an_invocation_that_fails_is_retried_within_the_window(stack, retry_window):
    """The no-retry check can fail: an event the function refuses (it raises) is retried in time."""
    before = settled_invocation_count(stack.function_name)
    aws("lambda").invoke(
        FunctionName=stack.function_name,
        InvocationType="Event",
        Payload=json.dumps({"hello": "world"}).encode(),
    )
    time.sleep(retry_window)
    assert invocation_count(stack.function_name) - before >= 2


def test_burst_of_twenty_uploads_yields_twenty_complete_outputs(stack, s3, dog_jpg, timed):
    keys = {unique(f"burst-{n:02d}.jpg") for n in range(20)}
    with timed("S3 path: 20 puts at once -> 20 result.json"), ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=stack.bucket, Key=key, Body=dog_jpg), keys))
        results = stack.wait_for_results(keys, timeout=240)
    assert len({folder for folder, _ in results.values()}) == 20
    for folder, document in results.values():
        assert document["status"] == "ok", document
        assert classes(document) >= EXPECTED
        listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=folder)["KeyCount"]
        assert listed == 3, folder
