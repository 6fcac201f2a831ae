"""Typed requests parsed from the event shapes the function receives.

S3 notifications (delivered directly, through EventBridge, or as the bodies of SQS messages) are read
with Powertools' data classes; API Gateway REST proxy events are only recognised here and read by the
HTTP layer (http_api); the last shape is the function's own asynchronous job, sent by the HTTP path to
itself.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import (
    S3Event,
    S3EventBridgeNotificationEvent,
    SQSRecord,
)

from darknet_detector.contract import request_id_of_object
from darknet_detector.core.requests import ASYNC_JOB_KEY, BadEvent, S3ObjectRequest

# The detail-type of S3's EventBridge event for a new object (AWS S3 user guide, "EventBridge event
# message structure").
EVENTBRIDGE_OBJECT_CREATED = "Object Created"
# The event S3 sends to a queue when a notification configuration is saved (S3 user guide, "Event
# message structure"): nothing to process.
S3_TEST_EVENT = "s3:TestEvent"


def event_kind(event: dict) -> str:
    if not isinstance(event, dict):
        raise BadEvent(f"event is a {type(event).__name__}, not an object")
    if ASYNC_JOB_KEY in event:
        return "job"
    records = event.get("Records")
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:s3":
        return "s3"
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:sqs":
        return "sqs"
    if event.get("source") == "aws.s3" and event.get("detail-type") == EVENTBRIDGE_OBJECT_CREATED:
        return "s3-eventbridge"
    if "httpMethod" in event and "requestContext" in event:
        return "http"
    raise BadEvent(
        "not an S3 notification, an S3 'Object Created' EventBridge event, an SQS batch, an API Gateway "
        "REST proxy event or a detection job"
    )


def _object_request(
    bucket: str,
    key: str,
    etag: str | None,
    version_id: str | None,
    size,
    event_time: str | None,
    input_prefix: str,
) -> S3ObjectRequest:
    if not etag:
        raise BadEvent(f"the event of s3://{bucket}/{key} carries no ETag to identify the object's content")
    return S3ObjectRequest(
        bucket=bucket,
        key=key,
        size=int(size) if size is not None else None,
        request_id=request_id_of_object(bucket, key, etag, input_prefix),
        etag=etag.strip('"'),
        version_id=version_id or None,
        event_time=event_time,
    )


def parse_s3_event(event: dict, input_prefix: str) -> list[S3ObjectRequest]:
    """Every ObjectCreated record, keys decoded (S3 sends them URL-encoded, spaces as '+'). The input
    prefix tells an upload's key (its id is the one POST /uploads answered) from any other."""
    requests = []
    for record in S3Event(event).records:
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        obj = record.s3.get_object
        requests.append(
            _object_request(
                record.s3.bucket.name,
                unquote_plus(obj.key),
                obj.get("eTag"),
                obj.get("versionId"),
                obj.get("size"),
                record.get("eventTime"),
                input_prefix,
            )
        )
    return requests


def parse_s3_eventbridge_event(event: dict, input_prefix: str) -> list[S3ObjectRequest]:
    """S3's 'Object Created' event as EventBridge delivers it: one object per event, key URL-encoded."""
    try:
        detail = S3EventBridgeNotificationEvent(event).detail
        bucket = detail.bucket.name
        obj = detail.object
        key, etag, version_id, size = obj.key, obj.get("etag"), obj.get("version-id"), obj.size
    except (KeyError, TypeError, AttributeError) as error:
        raise BadEvent(f"malformed S3 EventBridge event: missing {error}") from None
    return [_object_request(bucket, key, etag, version_id, size, event.get("time"), input_prefix)]


def parse_sqs_record(record: SQSRecord, input_prefix: str) -> list[S3ObjectRequest]:
    """The objects one queue message names: its body is an S3 notification (from S3 or `make backfill`)
    or S3's EventBridge event (from an EventBridge rule); S3's test event names none."""
    try:
        body = json.loads(record.body)
    except (TypeError, ValueError):
        raise BadEvent(f"message {record.message_id} is not JSON") from None
    if not isinstance(body, dict):
        raise BadEvent(f"message {record.message_id} is not a JSON object")
    if body.get("Event") == S3_TEST_EVENT:
        return []
    kind = event_kind(body)
    if kind == "s3":
        return parse_s3_event(body, input_prefix)
    if kind == "s3-eventbridge":
        return parse_s3_eventbridge_event(body, input_prefix)
    raise BadEvent(f"message {record.message_id} holds a {kind} event, not an S3 event")
