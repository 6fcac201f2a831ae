"""The queue path of the handler: a batch of SQS messages whose bodies are S3 events, on moto's S3.

One bad message never re-runs the others: the handler names exactly the messages that failed
(ReportBatchItemFailures), a rejected image is a result (not a failure), and every processed image
leaves its metrics in embedded metric format.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws
from test_service import StandInEngine

from darknet_detector.contract import METRICS_NAMESPACE, object_request_id
from darknet_detector.core.settings import Settings
from darknet_detector.serving import handler

BUCKET = "detector-bucket"


def sqs_message(body: dict | str) -> dict:
    """A record of Lambda's SQS event, as the event source mapping delivers it."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764130000000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:darknet-images",
        "awsRegion": "us-east-1",
    }


def context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="darknet",
        function_version="$LATEST",
        memory_limit_in_mb=2048,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:darknet",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 60_000,
    )


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    """The handler wired to moto's S3 and a stand-in engine."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        engine = StandInEngine()
        monkeypatch.setattr(handler, "s3_client", lambda: s3)
        monkeypatch.setattr(handler, "engine", lambda: engine)
        monkeypatch.setattr(handler, "settings", lambda: Settings(output_bucket=BUCKET, work_root=tmp_path))
        yield s3


def upload(s3, s3_event, key: str, body: bytes) -> dict:
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]
    return s3_event(BUCKET, key, size=len(body), etag=etag.strip('"'))


def emf_documents(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_one_bad_message_in_a_batch_fails_alone(deployed, s3_event, small_jpeg, capsys):
    s3 = deployed
    good = upload(s3, s3_event, "input/dog.jpg", small_jpeg)
    rejected = upload(s3, s3_event, "input/notes.jpg", b"plain text, not an image")
    unreadable = s3_event("bucket-that-does-not-exist", "input/gone.jpg", etag="0" * 32)
    messages = [sqs_message(good), sqs_message(rejected), sqs_message(unreadable), sqs_message("not json")]

    response = handler.lambda_handler({"Records": messages}, context())

    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failed == {messages[2]["messageId"], messages[3]["messageId"]}
    for event, status in ((good, "ok"), (rejected, "error")):
        obj = event["Records"][0]["s3"]["object"]
        request_id = object_request_id(BUCKET, obj["key"], obj["eTag"])
        document = json.loads(
            s3.get_object(Bucket=BUCKET, Key=f"output/{request_id}/result.json")["Body"].read()
        )
        assert document["status"] == status
        assert document["source"] == {"bucket": BUCKET, "key": obj["key"], "etag": obj["eTag"]}

    (emf,) = emf_documents(capsys.readouterr().out)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRICS_NAMESPACE
    assert (emf["ImagesProcessed"], emf["ImagesRejected"], emf["ImagesFailed"]) == ([1.0], [1.0], [1.0])
    assert emf["Detections"] == [1.0]
    assert emf["ImageMegapixels"] == [pytest.approx(64 * 48 / 1e6, abs=1e-3)]
    assert "StageLatency_predict" in emf and "UploadToResultLatency" in emf


def test_a_redelivered_message_rewrites_the_same_folder(deployed, s3_event, small_jpeg):
    s3 = deployed
    event = upload(s3, s3_event, "input/dog.jpg", small_jpeg)
    for _ in range(2):
        assert handler.lambda_handler({"Records": [sqs_message(event)]}, context()) == {
            "batchItemFailures": []
        }
    folders = {
        item["Key"].split("/")[1] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="output/")["Contents"]
    }
    assert len(folders) == 1


def test_a_reupload_with_new_content_is_a_new_result(deployed, s3_event, small_jpeg, small_png):
    s3 = deployed
    first = upload(s3, s3_event, "input/photo", small_jpeg)
    second = upload(s3, s3_event, "input/photo", small_png)
    response = handler.lambda_handler({"Records": [sqs_message(first), sqs_message(second)]}, context())
    assert response == {"batchItemFailures": []}
    results = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="output/")["Contents"]
        if item["Key"].endswith("result.json")
    ]
    assert len(results) == 2


def test_eventbridge_events_and_s3_test_events_in_the_queue(deployed, s3_event, small_jpeg):
    s3 = deployed
    etag = s3.put_object(Bucket=BUCKET, Key="input/eb.jpg", Body=small_jpeg)["ETag"].strip('"')
    eventbridge = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-26T05:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": "input/eb.jpg", "size": len(small_jpeg), "etag": etag},
            "request-id": "C3D13FE58DE4C810",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }
    s3_test = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    response = handler.lambda_handler(
        {"Records": [sqs_message(eventbridge), sqs_message(s3_test)]}, context()
    )
    assert response == {"batchItemFailures": []}
    request_id = object_request_id(BUCKET, "input/eb.jpg", etag)
    assert s3.head_object(Bucket=BUCKET, Key=f"output/{request_id}/result.json")


def test_a_batch_that_failed_entirely_names_every_message(deployed, s3_event):
    messages = [sqs_message("{}"), sqs_message({"Records": [{"eventSource": "aws:sqs"}]})]
    response = handler.lambda_handler({"Records": messages}, context())
    assert {item["itemIdentifier"] for item in response["batchItemFailures"]} == {
        m["messageId"] for m in messages
    }
