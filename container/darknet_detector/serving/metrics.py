"""The function's own CloudWatch metrics, in embedded metric format (Powertools Metrics).

Written to the log as JSON, turned into metrics by CloudWatch Logs: no API call, no latency. The
names are the shared contract's, so the alarms and the dashboard read exactly what is written here.
"""

from __future__ import annotations

import time
from datetime import datetime

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from darknet_detector.contract import (
    METRIC_DETECTIONS,
    METRIC_EVENTS_NOT_PUBLISHED,
    METRIC_IMAGES_FAILED,
    METRIC_IMAGES_PROCESSED,
    METRIC_IMAGES_REJECTED,
    METRIC_MEGAPIXELS,
    METRIC_QUEUE_LATENCY,
    METRIC_STAGE_PREFIX,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)

metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def record_result(document: dict, event_time: str | None = None) -> None:
    """One image's result.json: processed or rejected, its detections, size and stage latencies."""
    status = document.get("status")
    if status == "error":
        metrics.add_metric(name=METRIC_IMAGES_REJECTED, unit=MetricUnit.Count, value=1)
        return
    if status != "ok":
        return  # ignored or gone: nothing was processed
    metrics.add_metric(name=METRIC_IMAGES_PROCESSED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=METRIC_DETECTIONS, unit=MetricUnit.Count, value=len(document.get("detections", []))
    )
    image = document.get("image") or {}
    if image.get("width") and image.get("height"):
        megapixels = image["width"] * image["height"] / 1e6
        metrics.add_metric(name=METRIC_MEGAPIXELS, unit=MetricUnit.Count, value=round(megapixels, 3))
    for name, seconds in (document.get("timings") or {}).items():
        if name.endswith("_seconds") and isinstance(seconds, int | float):
            stage = name.removesuffix("_seconds")
            metrics.add_metric(
                name=f"{METRIC_STAGE_PREFIX}{stage}", unit=MetricUnit.Milliseconds, value=seconds * 1000
            )
    latency = upload_to_result_seconds(event_time)
    if latency is not None:
        metrics.add_metric(name=METRIC_QUEUE_LATENCY, unit=MetricUnit.Milliseconds, value=latency * 1000)


def record_failure() -> None:
    """An image whose processing raised: it will be delivered again, or land in a dead-letter queue."""
    metrics.add_metric(name=METRIC_IMAGES_FAILED, unit=MetricUnit.Count, value=1)


def record_event_not_published() -> None:
    """A result whose completion event EventBridge did not take after the retries (its alarm's metric)."""
    metrics.add_metric(name=METRIC_EVENTS_NOT_PUBLISHED, unit=MetricUnit.Count, value=1)


def upload_to_result_seconds(event_time: str | None, now: float | None = None) -> float | None:
    """Seconds since S3 saw the upload (its event's ISO 8601 time), or None without a usable time."""
    if not event_time:
        return None
    try:
        uploaded = datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return max(0.0, (time.time() if now is None else now) - uploaded)
