"""Typed requests parsed from the event shapes the function receives.

S3 notifications (delivered directly or through EventBridge) are read with Powertools' data classes;
API Gateway REST proxy events are only recognised here and read by the HTTP layer (http_api); the
last shape is the function's own asynchronous job, sent by the HTTP path to itself.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import (
    S3Event,
    S3EventBridgeNotificationEvent,
)

ASYNC_JOB_KEY = "darknet_job"
# The detail-type of S3's EventBridge event for a new object (AWS S3 user guide, "EventBridge event
# message structure").
EVENTBRIDGE_OBJECT_CREATED = "Object Created"
# Request ids of S3 objects are derived from the object's identity, so a duplicated delivery of
# the same notification rewrites the same output folder instead of creating a second one.
S3_REQUEST_NAMESPACE = uuid.UUID("6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21")


class BadEvent(ValueError):
    """The event is not one the function understands."""


@dataclass(frozen=True)
class S3ObjectRequest:
    bucket: str
    key: str  # URL-decoded, as the object is really named
    size: int | None
    request_id: str


@dataclass(frozen=True)
class AsyncJob:
    request_id: str
    bucket: str
    image: bytes
    filename: str


def event_kind(event: dict) -> str:
    if not isinstance(event, dict):
        raise BadEvent(f"event is a {type(event).__name__}, not an object")
    if ASYNC_JOB_KEY in event:
        return "job"
    records = event.get("Records")
    if isinstance(records, list) and records and records[0].get("eventSource") == "aws:s3":
        return "s3"
    if event.get("source") == "aws.s3" and event.get("detail-type") == EVENTBRIDGE_OBJECT_CREATED:
        return "s3-eventbridge"
    if "httpMethod" in event and "requestContext" in event:
        return "http"
    raise BadEvent(
        "not an S3 notification, an S3 'Object Created' EventBridge event, an API Gateway REST proxy "
        "event or a detection job"
    )


def s3_request_id(bucket: str, key: str, version_or_sequencer: str) -> str:
    return str(uuid.uuid5(S3_REQUEST_NAMESPACE, f"{bucket}\0{key}\0{version_or_sequencer}"))


def parse_s3_event(event: dict) -> list[S3ObjectRequest]:
    """Every ObjectCreated record, keys decoded (S3 sends them URL-encoded, spaces as '+')."""
    requests = []
    for record in S3Event(event).records:
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        obj = record.s3.get_object
        bucket = record.s3.bucket.name
        key = unquote_plus(obj.key)
        identity = obj.version_id or obj.get("sequencer") or obj.etag
        size = obj.get("size")
        requests.append(
            S3ObjectRequest(
                bucket=bucket,
                key=key,
                size=int(size) if size is not None else None,
                request_id=s3_request_id(bucket, key, identity),
            )
        )
    return requests


def parse_s3_eventbridge_event(event: dict) -> list[S3ObjectRequest]:
    """S3's 'Object Created' event as EventBridge delivers it: one object per event, key URL-encoded."""
    try:
        detail = S3EventBridgeNotificationEvent(event).detail
        bucket = detail.bucket.name
        obj = detail.object
        key = obj.key
        identity = obj.get("version-id") or obj.get("sequencer") or obj.etag
        size = obj.size
    except (KeyError, TypeError, AttributeError) as error:
        raise BadEvent(f"malformed S3 EventBridge event: missing {error}") from None
    return [
        S3ObjectRequest(
            bucket=bucket,
            key=key,
            size=int(size) if size is not None else None,
            request_id=s3_request_id(bucket, key, identity),
        )
    ]


def make_async_job(request_id: str, bucket: str, image: bytes, filename: str) -> dict:
    return {
        ASYNC_JOB_KEY: {
            "request_id": request_id,
            "bucket": bucket,
            "filename": filename,
            "image_base64": base64.b64encode(image).decode(),
        }
    }


def parse_async_job(event: dict) -> AsyncJob:
    job = event[ASYNC_JOB_KEY]
    try:
        return AsyncJob(
            request_id=str(uuid.UUID(job["request_id"])),
            bucket=job["bucket"],
            image=base64.b64decode(job["image_base64"], validate=True),
            filename=job["filename"],
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise BadEvent(f"malformed detection job: {error}") from None
