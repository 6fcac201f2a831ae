"""Completion events: the entry built from result.json, its size bound, and publishing with retries."""

from __future__ import annotations

import json

import pytest

from darknet_detector.contract import (
    EVENT_COMPLETED,
    EVENT_ENTRY_LIMIT_BYTES,
    EVENT_FAILED,
    EVENT_PUBLISH_ATTEMPTS,
)
from darknet_detector.core.events import completion_entry, entry_size, publish

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/darknet-detections"
REQUEST_ID = "2b8e3f0c-5d7a-5b41-9c3e-7f1a2d4b6c80"


def detection(label: str, i: int = 0) -> dict:
    return {
        "class": label,
        "confidence": 0.5 + i % 50 / 100,
        "box": {"left": i, "top": i, "right": i + 9, "bottom": i + 9},
    }


def ok_document(detections: list[dict]) -> dict:
    return {
        "schema_version": 1,
        "request_id": REQUEST_ID,
        "status": "ok",
        "source": {"bucket": "photos", "key": "input/dog.jpg", "etag": "0f343b09", "version_id": "v1"},
        "model": "yolov3-tiny",
        "engine": "onnx",
        "threshold": 0.5,
        "options": {"threshold": 0.5, "classes": None},
        "created_at": "2026-12-06T05:00:00Z",
        "image": {"width": 768, "height": 576, "format": "jpeg", "orientation": 1},
        "detections": detections,
        "timings": {"predict_seconds": 0.03, "upload_seconds": 0.01},
        "outputs": {"json": f"s3://photos/output/{REQUEST_ID}/result.json"},
    }


def detail(entry: dict) -> dict:
    return json.loads(entry["Detail"])


def test_a_result_becomes_a_cloud_event_keyed_by_its_request_id():
    document = ok_document([detection("dog"), detection("car", 1), detection("car", 2)])
    entry = completion_entry(document, BUS, "darknet-lambda")
    event = detail(entry)
    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == (
        BUS,
        "darknet-lambda",
        EVENT_COMPLETED,
    )
    assert {
        k: event[k] for k in ("specversion", "id", "source", "type", "subject", "time", "datacontenttype")
    } == {
        "specversion": "1.0",
        "id": REQUEST_ID,
        "source": "darknet-lambda",
        "type": EVENT_COMPLETED,
        "subject": "s3://photos/input/dog.jpg",
        "time": "2026-12-06T05:00:00Z",
        "datacontenttype": "application/json",
    }
    data = event["data"]
    assert data["source"] == document["source"]  # bucket, key, ETag and version: the exact object
    assert data["counts"] == {"car": 2, "dog": 1}
    assert data["detections"] == document["detections"]
    assert (data["detections_total"], data["detections_truncated"], data["detections_omitted"]) == (
        3,
        False,
        0,
    )
    for name in ("model", "engine", "outputs", "timings", "image", "request_id", "status"):
        assert data[name] == document[name]
    assert "error" not in data


def test_a_rejected_image_is_a_failed_event_with_its_error():
    document = {
        **ok_document([]),
        "status": "error",
        "error": {"code": "corrupt_image", "message": "the JPEG data ends early"},
        "source": {"http": "photo.jpg"},
    }
    for absent in ("image", "detections", "timings"):
        del document[absent]
    entry = completion_entry(document, BUS, "my-app")
    event = detail(entry)
    assert entry["DetailType"] == event["type"] == EVENT_FAILED
    assert event["subject"] == "http:photo.jpg"
    assert event["data"]["error"] == document["error"]
    assert event["data"]["counts"] == {} and event["data"]["detections"] == []


def test_detections_beyond_the_entry_limit_are_cut_and_counted():
    """A crowd photo: thousands of boxes. The entry keeps the first ones that fit under EventBridge's limit,
    says how many it left out, and keeps the counts of all of them."""
    many = [detection("person" if i % 3 else "car", i) for i in range(6000)]
    entry = completion_entry(ok_document(many), BUS, "darknet-lambda")
    data = detail(entry)["data"]
    assert entry_size(entry) <= EVENT_ENTRY_LIMIT_BYTES
    kept = len(data["detections"])
    assert 0 < kept < 6000
    assert data["detections"] == many[:kept]
    assert (data["detections_truncated"], data["detections_omitted"], data["detections_total"]) == (
        True,
        6000 - kept,
        6000,
    )
    assert data["counts"] == {"car": 2000, "person": 4000}
    # As many as fit: one more would not.
    one_more = completion_entry(
        ok_document(many[: kept + 1]), BUS, "darknet-lambda", limit=entry_size(entry) - 1
    )
    assert detail(one_more)["data"]["detections_omitted"] >= 1


def test_the_size_is_counted_as_eventbridge_counts_it():
    entry = {"Source": "a", "DetailType": "bc", "Detail": "{}", "Resources": ["r"], "EventBusName": "ignored"}
    assert entry_size(entry) == 14 + 1 + 2 + 2 + 1  # Time counts 14 bytes (eb-putevent-size.html)
    assert entry_size({**entry, "Detail": '"é"'}) == entry_size(entry) + 2  # UTF-8 bytes, not characters


class FlakyEvents:
    """put_events answering from a script: an exception to raise, or a FailedEntryCount."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def put_events(self, Entries):
        self.calls.append(Entries)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


OK = {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}
THROTTLED = {
    "FailedEntryCount": 1,
    "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}],
}


def test_a_failed_publish_is_retried_with_backoff():
    client, waits = FlakyEvents(ConnectionError("reset"), THROTTLED, OK), []
    entry = completion_entry(ok_document([]), BUS, "darknet-lambda")
    assert publish(client, entry, sleep=waits.append) is True
    assert len(client.calls) == 3 and all(call == [entry] for call in client.calls)
    assert waits == [0.2, 0.4]


def test_publishing_gives_up_after_the_attempts_and_says_why(caplog):
    client, waits = FlakyEvents(*[THROTTLED] * EVENT_PUBLISH_ATTEMPTS), []
    entry = completion_entry(ok_document([]), BUS, "darknet-lambda")
    assert publish(client, entry, sleep=waits.append) is False
    assert len(client.calls) == EVENT_PUBLISH_ATTEMPTS
    (log,) = [record for record in caplog.records if record.getMessage() == "completion event not published"]
    assert log.levelname == "ERROR" and "ThrottlingException" in log.problem


@pytest.mark.parametrize("source", ["aws.s3", "", "has space", "x" * 257])
def test_sources_eventbridge_refuses_are_refused(source):
    from darknet_detector.contract import event_source_problem

    assert event_source_problem(source)
