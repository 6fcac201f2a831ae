"""S3 events through EventBridge on LocalStack: a shared bucket keeps its other notification, and an
image under input/ still reaches the function and yields its results."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest
from e2e_harness import applier, program
from e2e_harness.client import aws, classes
from support.event_rules import save_event

from darknet_detector.contract import EVENT_COMPLETED, OUTPUT_FILES
from darknet_lambda import DarknetS3Trigger, DarknetS3TriggerArgs


@pytest.fixture
def shared_bucket(s3):
    """A bucket another project owns: it notifies its own queue of objects under other/ and has
    switched its EventBridge delivery on, as its owner would."""
    sqs = aws("sqs")
    name = f"shared-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "other/"}]}},
                }
            ],
            "EventBridgeConfiguration": {},
        },
    )
    yield name, queue_url
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)
    sqs.delete_queue(QueueUrl=queue_url)


def test_eventbridge_delivery_keeps_the_buckets_other_notification(
    stack, s3, dog_jpg, shared_bucket, timed, subscriber, redelivery_window
):
    bucket, queue_url = shared_bucket
    function_arn = f"arn:aws:lambda:us-east-1:{applier.ACCOUNT}:function:{stack.function_name}"
    target = applier.Applier()
    try:
        program.run(
            lambda: DarknetS3Trigger(
                "shared",
                DarknetS3TriggerArgs(
                    bucket_name=bucket,
                    function_name=stack.function_name,
                    function_arn=function_arn,
                    delivery="eventbridge",
                ),
            ),
            "e2e-eventbridge",
            {},
            target.create,
        )
        assert sorted(a.type for a in target.applied) == [
            "aws:cloudwatch/eventRule:EventRule",
            "aws:cloudwatch/eventTarget:EventTarget",
            "aws:lambda/permission:Permission",
        ]
        notification = s3.get_bucket_notification_configuration(Bucket=bucket)
        assert [q["Filter"]["Key"]["FilterRules"] for q in notification["QueueConfigurations"]] == [
            [{"Name": "Prefix", "Value": "other/"}]
        ], "the other consumer's notification is untouched"
        assert "EventBridgeConfiguration" in notification

        key = f"input/{uuid.uuid4().hex[:8]}-dog.jpg"
        with timed("EventBridge path: put under input/ -> result.json"):
            s3.put_object(Bucket=bucket, Key=key, Body=dog_jpg)
            folder, document = dataclasses.replace(stack, bucket=bucket).wait_for_results({key}, timeout=90)[
                key
            ]
        assert document["status"] == "ok"
        assert classes(document) >= {"dog", "truck", "bicycle"}
        listed = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]}
        assert listed == {f"{folder}{n}" for n in OUTPUT_FILES}
        # Its completion event, on the stack's bus like every other path's.
        (event,) = subscriber.wait_for(document["request_id"])
        subscriber.poll(redelivery_window)
        assert subscriber.by_id[document["request_id"]] == [event], "exactly one event"
        assert (event["detail-type"], event["detail"]["data"]["source"]) == (
            EVENT_COMPLETED,
            document["source"],
        )
        assert event["detail"]["subject"] == f"s3://{bucket}/{key}"
        save_event("s3-eventbridge", event)

        s3.put_object(Bucket=bucket, Key="other/note.txt", Body=b"for the other consumer")
        assert _queued_keys(queue_url, timeout=30) == ["other/note.txt"], "the other consumer still hears"
    finally:
        failures = target.destroy()
    assert failures == []


def _queued_keys(queue_url: str, timeout: float) -> list[str]:
    sqs, deadline = aws("sqs"), time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])
        records = [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]
        if records:
            return [r["s3"]["object"]["key"] for r in records]
    return []
