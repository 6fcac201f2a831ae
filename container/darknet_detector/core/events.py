"""Completion events: the EventBridge entry of a result.json, and publishing it with bounded retries.

The entry's detail is a CloudEvents 1.0 event in structured JSON (specversion, id, source, type,
subject, time, datacontenttype, data): `id` is the request id, the key consumers drop duplicates by.
Its `data` is what a consumer acts on without reading result.json: the image's source, model and
engine, counts per class, the detections (cut to fit EventBridge's entry limit, saying so), the output
keys, the error of a failed image, and the timings.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

from aws_lambda_powertools import Logger

from darknet_detector.contract import (
    EVENT_COMPLETED,
    EVENT_ENTRY_LIMIT_BYTES,
    EVENT_FAILED,
    EVENT_PUBLISH_ATTEMPTS,
    EVENT_RETRY_BASE_SECONDS,
    JSON_MEDIA_TYPE,
    SERVICE_NAME,
)

logger = Logger(service=SERVICE_NAME)

CLOUDEVENTS_VERSION = "1.0"
# PutEvents counts a given Time as 14 bytes (eb-putevent-size.html); the entry sends none (EventBridge
# stamps its own) but the bound keeps room for one.
_TIME_BYTES = 14


def detail_type(document: dict) -> str:
    return EVENT_FAILED if document["status"] == "error" else EVENT_COMPLETED


def subject(source: dict) -> str:
    """What the result is about: the object's s3:// URI, or the HTTP request's file name."""
    if "bucket" in source and "key" in source:
        return f"s3://{source['bucket']}/{source['key']}"
    return f"http:{source.get('http', 'request')}"


def event_data(document: dict) -> dict:
    """The CloudEvent's data: result.json's facts a consumer acts on, every detection included."""
    detections = document.get("detections") or []
    data = {
        "request_id": document["request_id"],
        "status": document["status"],
        "source": document["source"],
        "model": document["model"],
        "engine": document["engine"],
        "threshold": document.get("threshold"),
        "created_at": document.get("created_at"),
        "counts": dict(sorted(Counter(d["class"] for d in detections).items())),
        "detections": detections,
        "detections_total": len(detections),
        "detections_truncated": False,
        "detections_omitted": 0,
        "outputs": document.get("outputs") or {},
    }
    for optional in ("image", "error", "timings"):
        if optional in document:
            data[optional] = document[optional]
    return data


def cloud_event(document: dict, source: str) -> dict:
    """The event's detail: a structured CloudEvent around event_data (id = the request id)."""
    return {
        "specversion": CLOUDEVENTS_VERSION,
        "id": document["request_id"],
        "source": source,
        "type": detail_type(document),
        "subject": subject(document["source"]),
        "time": document.get("created_at"),
        "datacontenttype": JSON_MEDIA_TYPE,
        "data": event_data(document),
    }


def entry_size(entry: dict) -> int:
    """A PutEvents entry's size as EventBridge counts it against its limit."""
    size = _TIME_BYTES + sum(len(entry[k].encode()) for k in ("Source", "DetailType", "Detail"))
    return size + sum(len(resource.encode()) for resource in entry.get("Resources", ()))


def completion_entry(document: dict, bus: str, source: str, limit: int = EVENT_ENTRY_LIMIT_BYTES) -> dict:
    """The PutEvents entry of a result.json document, under `limit` bytes: when every detection does not
    fit, the list keeps as many as fit, in result.json's order, and data says how many were left out
    (counts stay complete)."""
    detail = cloud_event(document, source)
    data = detail["data"]
    detections = data["detections"]

    def entry(kept: int) -> dict:
        data["detections"] = detections[:kept]
        data["detections_truncated"] = kept < len(detections)
        data["detections_omitted"] = len(detections) - kept
        return {
            "EventBusName": bus,
            "Source": source,
            "DetailType": detail["type"],
            "Detail": json.dumps(detail, separators=(",", ":")),
        }

    whole = entry(len(detections))
    if entry_size(whole) <= limit:
        return whole
    low, high = 0, len(detections) - 1  # the most that fit lies in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if entry_size(entry(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    cut = entry(low)
    if entry_size(cut) > limit:
        raise ValueError(f"the event of {document['request_id']} is over {limit} bytes with no detection")
    return cut


def publish(
    client,
    entry: dict,
    attempts: int = EVENT_PUBLISH_ATTEMPTS,
    base_delay: float = EVENT_RETRY_BASE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """PutEvents with up to `attempts` calls, waiting base_delay, then twice as long, between them.

    A call that raises or whose entry EventBridge refuses (FailedEntryCount) is retried; False when the
    last one failed too. Never raises: the result is written, and an event must not redo the image."""
    problem = ""
    for attempt in range(attempts):
        if attempt:
            sleep(base_delay * 2 ** (attempt - 1))
        try:
            answer = client.put_events(Entries=[entry])
        except Exception as error:  # any failure of the call is retried, then counted
            problem = f"{type(error).__name__}: {error}"
            continue
        if not answer.get("FailedEntryCount"):
            return True
        failed = (answer.get("Entries") or [{}])[0]
        problem = f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
    logger.error(
        "completion event not published",
        extra={"detail_type": entry["DetailType"], "attempts": attempts, "problem": problem},
    )
    return False
