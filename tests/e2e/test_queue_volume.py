"""At volume on LocalStack: a thousand images through S3 -> SQS -> the function, under faults, and a
backfill of the same prefix with more images that have no result yet (over a thousand objects, so the
listing takes more than one page).

The load run kills the function's runtime process (the `awslambdaric` process inside each function
container, as when a sandbox crashes: Lambda reports Runtime.ExitError) while batches are in flight,
and mixes in messages that fail on purpose (notifications of images whose bucket no longer exists);
every image must still end with exactly one complete result, and only the failing messages may reach
the dead-letter queue.
Sizes: E2E_LOAD_IMAGES (default 1000), E2E_BACKFILL_IMAGES (default 300 more for the backfill; set it
higher for a backfill of a few thousand objects, about 0.2 s each here).

Killing the whole container instead is no test on LocalStack: it does not notice the container's
death and waits 905 s for the invocation's answer, holding the event source mapping's poller.
"""

from __future__ import annotations

import io
import json
import os
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_harness.client import aws
from PIL import Image

from darknet_detector.contract import (
    OUTPUT_FILES,
    RESULT_JSON,
    object_request_id,
    result_json_key,
)
from darknet_lambda import backfill

LOAD_IMAGES = int(os.environ.get("E2E_LOAD_IMAGES", "1000"))
BACKFILL_IMAGES = int(os.environ.get("E2E_BACKFILL_IMAGES", "300"))
FAILING_ON_PURPOSE = 6
# The localstack stack's queue settings (Pulumi.localstack.yaml): a failing message is received this
# many times, each after the visibility timeout, before it moves to the dead-letter queue.
MAX_RECEIVE_COUNT = 3
VISIBILITY_TIMEOUT_SECONDS = 20
OUTPUT_NAMES = set(OUTPUT_FILES)
CONTAINER_PREFIX = "darknet-e2e-lambda-"  # localstack/run.sh names the function containers so


@pytest.fixture(scope="module")
def volume_prefix(stack, s3) -> Iterator[str]:
    """A prefix of its own; its thousands of images and their results are deleted afterwards, so the
    other tests' waits, which read every result.json, measure the stack and not this bucket's size."""
    prefix = f"input/volume-{uuid.uuid4().hex[:8]}/"
    yield prefix
    for page in backfill.list_objects(s3, stack.bucket, prefix):
        keys = [obj.key for obj in page]
        for obj in page:
            folder = result_json_key("output/", object_request_id(stack.bucket, obj.key, obj.etag))
            keys += [folder.replace(RESULT_JSON, name) for name in OUTPUT_NAMES]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(
                Bucket=stack.bucket, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]}
            )


@pytest.fixture(scope="module")
def sqs():
    return aws("sqs")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def result_folders(s3, bucket: str) -> set[str]:
    """Every output folder holding a result.json."""
    found = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="output/"):
        found |= {
            item["Key"][: -len(RESULT_JSON)]
            for item in page.get("Contents", [])
            if item["Key"].endswith("/result.json")
        }
    return found


def queue_depth(sqs, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def function_runtimes(function_name: str) -> list[int]:
    """Host process ids of the runtime client (`python3 -m awslambdaric`) in each function container."""
    containers = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"name={CONTAINER_PREFIX}{function_name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pids = []
    for container in containers:
        top = subprocess.run(
            ["docker", "top", container, "-eo", "pid,args"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[1:]
        pids += [
            int(line.split()[0]) for line in top if "-m awslambdaric" in line and "aws-lambda-rie" not in line
        ]
    return pids


def dead_letters(sqs, queue_url: str, expected: int, timeout: float) -> list[dict]:
    """The dead-letter queue's messages once it holds `expected` (or at the deadline), left in place."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sum(queue_depth(sqs, queue_url)) < expected:
        time.sleep(2)
    messages: dict[str, dict] = {}
    for _ in range(10):
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"]
        ).get("Messages", []):
            messages[message["MessageId"]] = message
    return list(messages.values())


def failing_notification(key: str) -> dict:
    """S3's notification of an image in a bucket deleted since: reading it fails on every delivery."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {
                        "name": "deleted-bucket-of-photos",
                        "arn": "arn:aws:s3:::deleted-bucket-of-photos",
                    },
                    "object": {"key": key, "size": 1024, "eTag": uuid.uuid4().hex},
                },
            }
        ]
    }


def test_a_thousand_images_each_get_one_complete_result_despite_a_killed_container_and_failing_messages(
    stack, s3, sqs, dog_jpg, volume_prefix, figures
):
    assert stack.queue_url and stack.dead_letter_queue_url, "the localstack stack ingests through the queue"
    keys = [f"{volume_prefix}{n:05d}.jpg" for n in range(LOAD_IMAGES)]
    folder_of: dict[str, str] = {}
    uploaded_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    killed: dict[str, object] = {}

    def upload(key: str) -> None:
        etag = s3.put_object(Bucket=stack.bucket, Key=key, Body=dog_jpg)["ETag"]
        uploaded_at[key] = time.time()
        folder_of[key] = result_json_key("output/", object_request_id(stack.bucket, key, etag))[
            : -len(RESULT_JSON)
        ]

    started = time.time()
    with ThreadPoolExecutor(max_workers=16) as pool:
        uploads = [pool.submit(upload, key) for key in keys]
        failing = [f"input/failing/{n}.jpg" for n in range(FAILING_ON_PURPOSE)]
        for key in failing:
            sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(failing_notification(key)))
        failing_sent = time.time()
        first_dead_letter = None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if first_dead_letter is None and sum(queue_depth(sqs, stack.dead_letter_queue_url)):
                first_dead_letter = time.time()
            folders = result_folders(s3, stack.bucket)
            now = time.time()
            for key, folder in list(folder_of.items()):
                if key not in seen_at and folder in folders:
                    seen_at[key] = now
            in_flight_now = queue_depth(sqs, stack.queue_url)[1] if not killed else 0
            if not killed and len(seen_at) >= LOAD_IMAGES // 5 and in_flight_now > 0:
                # Mid-run, at a moment batches are in flight (between two polls none may be): kill
                # every function's runtime process at once.
                killed["in_flight"] = in_flight_now
                killed["runtimes"] = function_runtimes(stack.function_name)
                killed["results_before"] = len(seen_at)
                for pid in killed["runtimes"]:
                    os.kill(pid, signal.SIGKILL)
            if len(seen_at) == LOAD_IMAGES:
                break
            time.sleep(1)
        for future in uploads:
            future.result()
    finished = max(seen_at.values(), default=time.time())

    assert killed.get("runtimes"), "a function's runtime was killed mid-run while messages were in flight"
    lost = sorted(set(keys) - set(seen_at))

    def document(folder: str) -> tuple[str, dict, int]:
        listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=folder)
        body = s3.get_object(Bucket=stack.bucket, Key=f"{folder}result.json")["Body"].read()
        return folder, json.loads(body), listed["KeyCount"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        documents = list(pool.map(document, sorted(result_folders(s3, stack.bucket))))
    ours = {}
    for folder, body, count in documents:
        key = (body.get("source") or {}).get("key")
        if key in folder_of:
            ours.setdefault(key, []).append((folder, body, count))
    duplicated = {key: [f for f, _, _ in found] for key, found in ours.items() if len(found) > 1}
    incomplete = [
        f for found in ours.values() for f, body, count in found if count != 3 or body["status"] != "ok"
    ]

    dead = dead_letters(sqs, stack.dead_letter_queue_url, FAILING_ON_PURPOSE, timeout=240)
    if first_dead_letter is None and dead:
        first_dead_letter = time.time()
    dead_keys = sorted(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in dead)
    waiting, in_flight = queue_depth(sqs, stack.queue_url)

    latencies = [seen_at[key] - uploaded_at[key] for key in seen_at]
    seconds = finished - started
    figures(
        f"load: {LOAD_IMAGES} images in {seconds:.1f} s = {len(seen_at) / seconds:.1f} images/s; "
        f"upload -> result.json p50 {percentile(latencies, 0.5):.1f} s, "
        f"p90 {percentile(latencies, 0.9):.1f} s, p99 {percentile(latencies, 0.99):.1f} s, "
        f"max {max(latencies):.1f} s (polled every ~1 s)"
    )
    figures(
        f"load: lost {len(lost)}, duplicated {len(duplicated)}, incomplete {len(incomplete)}; "
        f"killed {len(killed['runtimes'])} function runtime(s) after {killed['results_before']} results "
        f"with {killed['in_flight']} messages in flight; dead-letter queue {len(dead)} "
        f"(failing on purpose: {FAILING_ON_PURPOSE}), the first {first_dead_letter - failing_sent:.0f} s "
        f"after sending; queue left {waiting} waiting, {in_flight} in flight"
    )
    assert lost == [], f"{len(lost)} images have no result: {lost[:5]}"
    assert duplicated == {}
    assert incomplete == []
    assert dead_keys == sorted(failing), "only the failing messages are dead-lettered"
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 3 for m in dead), (
        "after the configured receives"
    )
    assert (
        statistics.mean(len(body.get("detections", [])) for found in ours.values() for _, body, _ in found)
        >= 3
    )


def tiny_jpeg(dog_jpg: bytes) -> bytes:
    """A small picture cut from Darknet's sample: quick to store thousands of."""
    with Image.open(io.BytesIO(dog_jpg)) as image:
        small = image.convert("RGB").resize((96, 72))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_backfill_of_a_prefix_of_thousands_processes_only_what_has_no_result_and_resumes(
    stack, s3, sqs, dog_jpg, volume_prefix, figures, tmp_path
):
    """Images that arrived while the bucket sent no notifications (as images older than the pipeline)
    share the prefix with the load run's processed ones; the backfill sends only the former."""
    already = sum(len(page) for page in backfill.list_objects(s3, stack.bucket, volume_prefix))
    late = [f"{volume_prefix}late/{n:05d}.jpg" for n in range(BACKFILL_IMAGES)]
    body = tiny_jpeg(dog_jpg)
    saved = s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    saved.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda key: s3.put_object(Bucket=stack.bucket, Key=key, Body=body), late))
    finally:
        s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=saved)
    # Saving the configuration again makes S3 send its test event, which the function consumes.
    deadline = time.monotonic() + 60
    while queue_depth(sqs, stack.queue_url) != (0, 0) and time.monotonic() < deadline:
        time.sleep(1)
    with ThreadPoolExecutor(max_workers=16) as pool:
        listed = [
            obj for page in backfill.list_objects(s3, stack.bucket, f"{volume_prefix}late/") for obj in page
        ]
        processed = sum(
            pool.map(lambda obj: backfill.has_result(s3, stack.bucket, ("input/", "output/"), obj), listed)
        )
    assert (len(listed), processed) == (BACKFILL_IMAGES, 0), "the late images were never notified"

    report = tmp_path / "backfill.jsonl"
    started = time.monotonic()
    counts = backfill.run(
        stack.bucket,
        volume_prefix,
        stack.queue_url,
        wait=True,
        timeout=900,
        report=report,
        clients=(s3, sqs),
        quiet=True,
    )
    seconds = time.monotonic() - started
    figures(
        f"backfill: listed {counts.listed}, skipped {counts.skipped}, enqueued {counts.enqueued}; "
        f"processed {counts.processed}, rejected {counts.rejected}, failed {counts.failed} in {seconds:.1f} s"
    )
    assert (counts.listed, counts.skipped, counts.enqueued, counts.not_sent) == (
        already + BACKFILL_IMAGES,
        already,
        BACKFILL_IMAGES,
        0,
    )
    assert (counts.processed, counts.rejected, counts.failed) == (already + BACKFILL_IMAGES, 0, 0)
    assert report.read_text() == ""

    rerun = backfill.run(stack.bucket, volume_prefix, stack.queue_url, clients=(s3, sqs), quiet=True)
    figures(f"backfill rerun: listed {rerun.listed}, skipped {rerun.skipped}, enqueued {rerun.enqueued}")
    assert (rerun.skipped, rerun.enqueued) == (already + BACKFILL_IMAGES, 0)
