"""The S3 path on LocalStack: upload under input/, results under output/ID/."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_harness.client import aws, classes, invocation_count, settled_invocation_count
from support.divergences import expected

from darknet_detector.contract import OUTPUT_FILES

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


def processed_after(stack, s3, dog_jpg) -> str:
    """A positive control for an absence check: a valid upload sent after the event under test, waited
    for until its result appears. The function has then processed later work, so whatever the earlier
    event would (wrongly) have caused has had its turn. Returns the control's key."""
    key = unique("control.jpg")
    s3.put_object(Bucket=stack.bucket, Key=key, Body=dog_jpg)
    stack.wait_for_results({key}, timeout=60)
    return key


def redelivery_delay(stack) -> float:
    """Seconds after which a failed S3 event would be tried again: the queue's visibility timeout with
    queue ingestion, Lambda's asynchronous retry delay with direct ingestion."""
    if stack.queue_url:
        attributes = aws("sqs").get_queue_attributes(
            QueueUrl=stack.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        return float(attributes["VisibilityTimeout"])
    return float(expected("async_retry_delay_seconds"))


def test_function_writes_nothing_under_input_and_its_outputs_trigger_nothing(stack, s3, dog_jpg, timed):
    before_inputs = {
        i["Key"] for i in s3.list_objects_v2(Bucket=stack.bucket, Prefix="input/").get("Contents", [])
    }
    before = settled_invocation_count(stack.function_name)
    key = unique("dog.jpg")
    with timed("S3 path: put under input/ -> result.json"):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=dog_jpg)
        stack.wait_for_results({key}, timeout=60)
    control = processed_after(stack, s3, dog_jpg)  # any notification the outputs caused came before it
    after_inputs = {
        i["Key"] for i in s3.list_objects_v2(Bucket=stack.bucket, Prefix="input/").get("Contents", [])
    }
    assert after_inputs - before_inputs == {key, control}
    assert invocation_count(stack.function_name) - before == 2, "the upload's and the control's"
    sources = {(document.get("source") or {}).get("key") or "" for document in stack.results().values()}
    assert not [source for source in sources if source.startswith("output/")], "an output was detected on"


def test_bad_object_gets_an_error_record_and_no_retries(stack, s3, dog_jpg):
    before = settled_invocation_count(stack.function_name)
    key = unique("not-an-image.jpg")
    s3.put_object(Bucket=stack.bucket, Key=key, Body=b"this is plain text, not a JPEG")
    _, document = stack.wait_for_results({key}, timeout=60)[key]
    recorded = time.monotonic()
    assert document["status"] == "error"
    assert document["error"]["code"] == "not_an_image"
    # A retry would start one redelivery delay after the attempt (test_queue_volume and the next test
    # show that retries do happen): the control is sent once that delay has passed, with a margin.
    time.sleep(max(0.0, recorded + 1.5 * redelivery_delay(stack) - time.monotonic()))
    processed_after(stack, s3, dog_jpg)
    assert invocation_count(stack.function_name) - before == 2, "the bad object's and the control's"


def test_an_invocation_that_fails_is_retried(stack, async_retry_delay):
    """The no-retry check can fail: an event the function refuses (it raises) is tried again."""
    before = settled_invocation_count(stack.function_name)
    aws("lambda").invoke(
        FunctionName=stack.function_name,
        InvocationType="Event",
        Payload=json.dumps({"hello": "world"}).encode(),
    )
    deadline = time.monotonic() + 3 * async_retry_delay
    while invocation_count(stack.function_name) - before < 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert invocation_count(stack.function_name) - before >= 2, f"no retry within {3 * async_retry_delay} s"


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
