"""The backfill on moto's S3 and SQS: paged listing, resumable skipping, notifications the function reads."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from darknet_detector.contract import object_request_id, result_json_key
from darknet_detector.serving.events import parse_sqs_record
from darknet_lambda import backfill

BUCKET = "photos"


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        queue_url = sqs.create_queue(QueueName="images")["QueueUrl"]
        yield s3, sqs, queue_url


def received(sqs, queue_url) -> list[dict]:
    messages = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch],
        )
    return messages


def write_result(s3, key: str, status: str = "ok") -> None:
    etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
    result = result_json_key("output/", object_request_id(BUCKET, key, etag))
    s3.put_object(Bucket=BUCKET, Key=result, Body=json.dumps({"status": status}).encode())


def test_pages_through_the_prefix_enqueues_the_unprocessed_and_resumes(aws, monkeypatch, tmp_path):
    s3, sqs, queue_url = aws
    monkeypatch.setattr(backfill, "LIST_PAGE", 7)
    keys = [f"input/old/photo {n:02d}+ü.jpg" for n in range(23)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    s3.put_object(Bucket=BUCKET, Key="input/other/not-in-prefix.jpg", Body=b"x")
    for key in keys[:5]:
        write_result(s3, key)

    counts = backfill.run(BUCKET, "input/old/", queue_url, clients=(s3, sqs), quiet=True)
    assert (counts.listed, counts.skipped, counts.enqueued, counts.not_sent) == (23, 5, 18, 0)

    requests = [
        request
        for message in received(sqs, queue_url)
        for request in parse_sqs_record(
            SQSRecord({"messageId": message["MessageId"], "body": message["Body"]}), "input/"
        )
    ]
    assert sorted(r.key for r in requests) == sorted(keys[5:])
    for request in requests:
        etag = s3.head_object(Bucket=BUCKET, Key=request.key)["ETag"]
        assert request.request_id == object_request_id(BUCKET, request.key, etag), "the function's own id"

    for key in keys[5:20]:
        write_result(s3, key, "ok" if key != keys[6] else "error")
    report = tmp_path / "report.jsonl"
    counts = backfill.run(
        BUCKET, "input/old/", queue_url, clients=(s3, sqs), quiet=True, wait=True, timeout=0, report=report
    )
    assert (counts.skipped, counts.enqueued) == (20, 3), "a rerun sends only what still has no result"
    assert (counts.processed, counts.rejected, counts.failed) == (19, 1, 3)
    problems = [json.loads(line) for line in report.read_text().splitlines()]
    assert {p["key"] for p in problems} == {keys[6], *keys[20:]}


def test_a_prefix_outside_the_input_prefix_is_refused(aws):
    s3, sqs, queue_url = aws
    with pytest.raises(ValueError, match="not under the input prefix"):
        backfill.run(BUCKET, "output/", queue_url, clients=(s3, sqs), quiet=True)
