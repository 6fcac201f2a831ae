"""Completion events on LocalStack: a rule on the stack's bus sends every event to an SQS queue, and
each path that writes a result.json gives exactly one event for it, with the result's facts.

Each event as it arrived is saved under out/e2e/events/ (one file per path) for people to read.
The EventBridge delivery of S3 events is checked in test_eventbridge_path.py, on its own bucket.

"Exactly one" means listening past the redelivery window after an event arrived, which is most of this
module's time: the module starts every other path's request before its first test, so that their
windows pass together while the first test listens.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import pytest
import requests
from e2e_harness.client import aws
from support.event_rules import save_event

from darknet_detector.contract import (
    EVENT_COMPLETED,
    EVENT_FAILED,
    request_id_of_object,
    result_json_key,
)
from darknet_lambda import backfill

EXPECTED = {"dog", "truck", "bicycle"}


def result_of(s3, stack, request_id: str) -> dict:
    body = s3.get_object(Bucket=stack.bucket, Key=result_json_key("output/", request_id))["Body"].read()
    return json.loads(body)


def exactly_one(subscriber, request_id: str, window: float, count: int = 1) -> dict:
    """The one event (the count-th) of request_id, after listening past any redelivery for a second."""
    subscriber.wait_for(request_id, count)
    subscriber.listen_past(request_id, count, window)
    events = subscriber.by_id[request_id]
    assert len(events) == count, f"{len(events)} events for {request_id}, expected {count}"
    return events[-1]


def check_against_result(event: dict, document: dict, detail_type: str) -> None:
    """The event says what result.json says."""
    assert (event["source"], event["detail-type"]) == ("darknet-lambda", detail_type)
    detail = event["detail"]
    assert (detail["specversion"], detail["id"], detail["type"]) == (
        "1.0",
        document["request_id"],
        detail_type,
    )
    data = detail["data"]
    for name in ("request_id", "status", "source", "model", "engine", "outputs"):
        assert data[name] == document[name], name
    assert data["detections"] == document.get("detections", [])
    assert data["detections_truncated"] is False and data["detections_omitted"] == 0
    counts: dict[str, int] = {}
    for found in document.get("detections", []):
        counts[found["class"]] = counts.get(found["class"], 0) + 1
    assert data["counts"] == counts
    if document["status"] == "error":
        assert data["error"] == document["error"]


def put_object(s3, stack, name: str, body: bytes) -> tuple[str, str]:
    key = f"input/events-{uuid.uuid4().hex[:8]}/{name}"
    etag = s3.put_object(Bucket=stack.bucket, Key=key, Body=body)["ETag"]
    return key, request_id_of_object(stack.bucket, key, etag, "input/")


@dataclass(frozen=True)
class OtherPaths:
    """The requests the module starts before its first test, and what their tests check beside the event."""

    corrupt_id: str
    async_id: str
    upload_form: dict
    backfill_id: str
    backfill_counts: backfill.Counts
    json_id: str
    json_answered_at: float


@pytest.fixture(scope="module", autouse=True)
def other_paths(stack, s3, dog_jpg, subscriber) -> OtherPaths:
    """Every path but the first test's own, started before it: their windows pass while it listens."""
    _, corrupt_id = put_object(s3, stack, "broken.jpg", dog_jpg[:3000])

    accepted = stack.detect(dog_jpg, **{"X-Amz-Invocation-Type": "Event"})
    assert accepted.status_code == 202, accepted.text

    form = requests.post(stack.uploads_url, json={"filename": "dog.jpg"}, timeout=60)
    assert form.status_code == 200, form.text
    upload = form.json()["upload"]
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("dog.jpg", dog_jpg)}, timeout=60
    )
    assert sent.status_code == 204, sent.text

    # The object's first result gives its event; its result.json removed, a backfill writes another.
    key, backfill_id = put_object(s3, stack, "dog.jpg", dog_jpg)
    subscriber.wait_for(backfill_id)
    s3.delete_object(Bucket=stack.bucket, Key=result_json_key("output/", backfill_id))
    counts = backfill.run(
        stack.bucket, key.rsplit("/", 1)[0] + "/", stack.queue_url, wait=True, timeout=120,
        clients=(s3, aws("sqs")), quiet=True,
    )  # fmt: skip

    answer = stack.detect(dog_jpg, Accept="application/json")
    assert answer.status_code == 200, answer.text
    return OtherPaths(
        corrupt_id=corrupt_id,
        async_id=accepted.json()["request_id"],
        upload_form=form.json(),
        backfill_id=backfill_id,
        backfill_counts=counts,
        json_id=answer.json()["request_id"],
        json_answered_at=time.monotonic(),
    )


def test_an_object_under_input_gives_one_completed_event(
    stack, s3, dog_jpg, subscriber, redelivery_window, timed
):
    with timed("events: put under input/ (queue) -> Detection Completed"):
        key, request_id = put_object(s3, stack, "dog.jpg", dog_jpg)
        subscriber.wait_for(request_id)
    event = exactly_one(subscriber, request_id, redelivery_window)
    save_event("s3-queue", event)
    document = result_of(s3, stack, request_id)
    check_against_result(event, document, EVENT_COMPLETED)
    assert document["source"]["key"] == key and document["source"]["etag"]
    assert event["detail"]["subject"] == f"s3://{stack.bucket}/{key}"
    assert set(event["detail"]["data"]["counts"]) >= EXPECTED


def test_a_corrupt_image_gives_one_failed_event(stack, s3, subscriber, redelivery_window, other_paths):
    event = exactly_one(subscriber, other_paths.corrupt_id, redelivery_window)
    save_event("s3-queue-corrupt", event)
    document = result_of(s3, stack, other_paths.corrupt_id)
    assert document["status"] == "error"
    check_against_result(event, document, EVENT_FAILED)
    assert event["detail"]["data"]["error"]["code"] == document["error"]["code"]


def test_an_asynchronous_detect_gives_one_event_from_its_job(
    stack, s3, subscriber, redelivery_window, other_paths
):
    event = exactly_one(subscriber, other_paths.async_id, redelivery_window)
    save_event("http-async", event)
    check_against_result(event, result_of(s3, stack, other_paths.async_id), EVENT_COMPLETED)
    assert event["detail"]["subject"].startswith("http:")


def test_an_upload_form_gives_one_event_under_the_id_it_answered(
    stack, s3, subscriber, redelivery_window, other_paths
):
    request_id = other_paths.upload_form["request_id"]
    event = exactly_one(subscriber, request_id, redelivery_window)
    save_event("uploads", event)
    check_against_result(event, result_of(s3, stack, request_id), EVENT_COMPLETED)
    assert event["detail"]["data"]["source"]["key"] == other_paths.upload_form["key"]


def test_a_backfill_gives_one_event_for_the_result_it_writes(
    stack, s3, subscriber, redelivery_window, other_paths
):
    """The object's first result gave its event; its result.json removed, a backfill wrote another and
    gives exactly one more, under the same id (a consumer that kept the first drops it)."""
    counts = other_paths.backfill_counts
    assert (counts.enqueued, counts.processed) == (1, 1), counts
    event = exactly_one(subscriber, other_paths.backfill_id, redelivery_window, count=2)
    save_event("backfill", event)
    check_against_result(event, result_of(s3, stack, other_paths.backfill_id), EVENT_COMPLETED)


def test_a_json_answer_publishes_nothing(subscriber, other_paths):
    """POST /detect's JSON answer writes no result.json: there is no result to announce."""
    subscriber.poll(other_paths.json_answered_at + 10 - time.monotonic())
    assert subscriber.by_id[other_paths.json_id] == []
