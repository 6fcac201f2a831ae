"""Completion events from the handler, on every path that writes a result.json, through moto's EventBridge:
a rule on the bus sends what it matches to an SQS queue, as a subscriber would receive it.

Also: the rule patterns docs/events.md documents match the events the function builds (moto's pattern
matching; the end-to-end tests route with LocalStack's), and a publish that keeps failing is counted,
never raised.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from moto import mock_aws
from support.event_rules import documented_patterns
from test_queue_batch import BUCKET, context, emf_documents, sqs_message, upload
from test_service import StandInEngine

from darknet_detector.contract import (
    EVENT_COMPLETED,
    EVENT_FAILED,
    EVENT_PUBLISH_ATTEMPTS,
    METRIC_EVENTS_NOT_PUBLISHED,
    object_request_id,
)
from darknet_detector.core import pipeline
from darknet_detector.core.events import completion_entry
from darknet_detector.core.settings import Settings
from darknet_detector.serving import handler

SOURCE = "darknet-lambda"


class Subscriber:
    """A bus with a rule sending every event of SOURCE to a queue."""

    def __init__(self, pattern: dict | None = None, name: str = "subscriber") -> None:
        self.events = boto3.client("events", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.bus = self.events.create_event_bus(Name=f"{name}-bus")["EventBusArn"]
        self.queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]
        self.events.put_rule(
            Name=name, EventBusName=self.bus, EventPattern=json.dumps(pattern or {"source": [SOURCE]})
        )
        self.events.put_targets(
            Rule=name, EventBusName=self.bus, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
        )

    def received(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    """The handler wired to moto's S3 and EventBridge, a stand-in engine, and a subscriber."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        subscriber = Subscriber()
        engine = StandInEngine()
        settings = Settings(output_bucket=BUCKET, work_root=tmp_path, event_bus=subscriber.bus)
        monkeypatch.setattr(handler, "s3_client", lambda: s3)
        monkeypatch.setattr(handler, "engine", lambda: engine)
        monkeypatch.setattr(handler, "settings", lambda: settings)
        monkeypatch.setattr(handler, "events_client", lambda: subscriber.events)
        yield s3, subscriber


def result_of(s3, request_id: str) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=f"output/{request_id}/result.json")["Body"].read())


def the_one_event(subscriber: Subscriber, request_id: str, detail_type: str) -> dict:
    (event,) = subscriber.received()
    assert (event["source"], event["detail-type"]) == (SOURCE, detail_type)
    assert event["detail"]["id"] == event["detail"]["data"]["request_id"] == request_id
    return event["detail"]


def test_an_s3_object_gives_one_event_after_its_result(deployed, s3_event, small_jpeg):
    s3, subscriber = deployed
    event = upload(s3, s3_event, "input/dog.jpg", small_jpeg)
    handler.lambda_handler(event, context())
    etag = event["Records"][0]["s3"]["object"]["eTag"]
    request_id = object_request_id(BUCKET, "input/dog.jpg", etag)
    detail = the_one_event(subscriber, request_id, EVENT_COMPLETED)
    document = result_of(s3, request_id)
    assert detail["subject"] == f"s3://{BUCKET}/input/dog.jpg"
    assert (
        detail["data"]["source"]
        == document["source"]
        == {"bucket": BUCKET, "key": "input/dog.jpg", "etag": etag}
    )
    assert detail["data"]["outputs"] == document["outputs"]
    assert detail["data"]["detections"] == document["detections"]
    assert detail["data"]["counts"] == {"dog": 1}


def test_queued_and_eventbridge_delivered_objects_each_give_one_event(
    deployed, s3_event, small_jpeg, small_png
):
    s3, subscriber = deployed
    queued = upload(s3, s3_event, "input/queued.jpg", small_jpeg)
    etag = s3.put_object(Bucket=BUCKET, Key="input/eb.png", Body=small_png)["ETag"].strip('"')
    s3_eventbridge = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-06T05:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": "input/eb.png", "size": len(small_png), "etag": etag, "version-id": "v7"},
            "reason": "PutObject",
        },
    }
    assert handler.lambda_handler({"Records": [sqs_message(queued)]}, context()) == {"batchItemFailures": []}
    queued_id = object_request_id(BUCKET, "input/queued.jpg", queued["Records"][0]["s3"]["object"]["eTag"])
    the_one_event(subscriber, queued_id, EVENT_COMPLETED)

    handler.lambda_handler(s3_eventbridge, context())
    detail = the_one_event(subscriber, object_request_id(BUCKET, "input/eb.png", etag), EVENT_COMPLETED)
    assert detail["data"]["source"] == {
        "bucket": BUCKET,
        "key": "input/eb.png",
        "etag": etag,
        "version_id": "v7",
    }


def test_a_corrupt_image_gives_a_failed_event_with_its_error(deployed, s3_event):
    s3, subscriber = deployed
    event = upload(s3, s3_event, "input/broken.jpg", b"\xff\xd8\xff\xe0 then nothing a decoder can use")
    handler.lambda_handler(event, context())
    request_id = object_request_id(BUCKET, "input/broken.jpg", event["Records"][0]["s3"]["object"]["eTag"])
    detail = the_one_event(subscriber, request_id, EVENT_FAILED)
    assert detail["data"]["error"] == result_of(s3, request_id)["error"]
    assert detail["data"]["outputs"] == {"json": f"s3://{BUCKET}/output/{request_id}/result.json"}


def test_ignored_objects_give_no_event(deployed, s3_event):
    s3, subscriber = deployed
    s3.put_object(Bucket=BUCKET, Key="input/folder/", Body=b"")
    handler.lambda_handler(
        s3_event(BUCKET, "input/folder/", size=0, etag="d41d8cd98f00b204e9800998ecf8427e"), context()
    )
    assert subscriber.received() == []


class SelfInvoke:
    """The Lambda client of the HTTP path's asynchronous half: keeps the job it would send."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []

    def invoke(self, Payload: bytes, **kwargs) -> None:
        self.payloads.append(json.loads(Payload))


def test_an_asynchronous_request_gives_one_event_from_its_job(deployed, api_event, small_jpeg, monkeypatch):
    s3, subscriber = deployed
    invoker = SelfInvoke()
    monkeypatch.setattr(handler, "lambda_client", lambda: invoker)
    accepted = handler.lambda_handler(api_event(small_jpeg, {"X-Amz-Invocation-Type": "Event"}), context())
    assert accepted["statusCode"] == 202 and subscriber.received() == []  # nothing written yet
    (job,) = invoker.payloads
    request_id = job["darknet_job"]["request_id"]
    handler.lambda_handler(job, context())
    detail = the_one_event(subscriber, request_id, EVENT_COMPLETED)
    assert detail["subject"] == "http:request.jpg"
    assert detail["data"]["outputs"] == result_of(s3, request_id)["outputs"]


def test_a_binary_answer_stored_in_s3_gives_an_event_and_a_json_answer_none(
    deployed, api_event, small_jpeg, monkeypatch
):
    """Every result.json written gives one event: the tar.gz too large to answer is stored, result.json
    with it; the synchronous JSON answer writes none, so there is nothing to announce."""
    _, subscriber = deployed
    answer = handler.lambda_handler(api_event(small_jpeg, {"Accept": "application/json"}), context())
    assert answer["statusCode"] == 200 and subscriber.received() == []
    monkeypatch.setattr(pipeline, "SYNC_ANSWER_LIMIT_BYTES", 10)
    stored = handler.lambda_handler(api_event(small_jpeg, {"Accept": "application/gzip"}), context())
    body = json.loads(stored["body"])
    assert body["status"] == "stored"
    the_one_event(subscriber, body["request_id"], EVENT_COMPLETED)


class DownEvents:
    def __init__(self) -> None:
        self.calls = 0

    def put_events(self, **kwargs):
        self.calls += 1
        raise ConnectionError("EventBridge unreachable")


def test_a_publish_that_keeps_failing_is_counted_and_the_result_stays(
    deployed, s3_event, small_jpeg, monkeypatch, capsys
):
    s3, _ = deployed
    down = DownEvents()
    monkeypatch.setattr(handler, "events_client", lambda: down)
    monkeypatch.setattr("darknet_detector.core.events.time.sleep", lambda seconds: None)
    event = upload(s3, s3_event, "input/dog.jpg", small_jpeg)
    response = handler.lambda_handler({"Records": [sqs_message(event)]}, context())
    assert response == {"batchItemFailures": []}  # the message is done: no redrive for an event
    assert down.calls == EVENT_PUBLISH_ATTEMPTS
    request_id = object_request_id(BUCKET, "input/dog.jpg", event["Records"][0]["s3"]["object"]["eTag"])
    assert result_of(s3, request_id)["status"] == "ok"
    (emf,) = emf_documents(capsys.readouterr().out)
    assert emf[METRIC_EVENTS_NOT_PUBLISHED] == [1.0] and emf["ImagesProcessed"] == [1.0]


def test_without_a_bus_nothing_is_published(deployed, s3_event, small_jpeg, monkeypatch, tmp_path):
    s3, subscriber = deployed
    monkeypatch.setattr(handler, "settings", lambda: Settings(output_bucket=BUCKET, work_root=tmp_path))
    monkeypatch.setattr(handler, "events_client", DownEvents)  # any call would fail the count below
    handler.lambda_handler(upload(s3, s3_event, "input/dog.jpg", small_jpeg), context())
    assert subscriber.received() == []


# --- the rule patterns docs/events.md documents -------------------------------------------------------


def sample_documents() -> dict[str, dict]:
    base = {
        "schema_version": 1,
        "model": "yolov3-tiny",
        "engine": "onnx",
        "threshold": 0.5,
        "created_at": "2026-12-06T05:00:00Z",
        "outputs": {},
    }
    box = {"left": 1, "top": 2, "right": 3, "bottom": 4}
    return {
        "dog-upload": {
            **base,
            "request_id": "019aef00-0000-7000-8000-000000000001",
            "status": "ok",
            "source": {
                "bucket": "b",
                "key": "input/uploads/019aef00-0000-7000-8000-000000000001/dog.jpg",
                "etag": "e",
            },
            "detections": [{"class": "dog", "confidence": 0.56, "box": box}],
        },
        "cars-only": {
            **base,
            "request_id": "1b8e3f0c-5d7a-5b41-9c3e-7f1a2d4b6c80",
            "status": "ok",
            "source": {"bucket": "b", "key": "input/street.jpg", "etag": "f"},
            "detections": [{"class": "car", "confidence": 0.62, "box": box}],
        },
        "corrupt": {
            **base,
            "request_id": "3b8e3f0c-5d7a-5b41-9c3e-7f1a2d4b6c80",
            "status": "error",
            "source": {"bucket": "b", "key": "input/broken.jpg", "etag": "g"},
            "error": {"code": "corrupt_image", "message": "not a JPEG"},
        },
    }


# Which sample each documented pattern must deliver (and no other).
EXPECTED = {
    "all-results": {"dog-upload", "cars-only", "corrupt"},
    "failures": {"corrupt"},
    "dogs": {"dog-upload"},
    "uploads": {"dog-upload"},
}


def test_the_documented_rule_patterns_match_the_events_the_function_builds():
    patterns = documented_patterns()
    assert set(patterns) == set(EXPECTED), "docs/events.md and this test name the same patterns"
    with mock_aws():
        for name, pattern in patterns.items():
            subscriber = Subscriber(pattern, name)
            for document in sample_documents().values():
                subscriber.events.put_events(Entries=[completion_entry(document, subscriber.bus, SOURCE)])
            delivered = {event["detail"]["id"] for event in subscriber.received()}
            wanted = {doc["request_id"] for key, doc in sample_documents().items() if key in EXPECTED[name]}
            assert delivered == wanted, name
