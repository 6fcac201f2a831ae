"""The requests the pipeline serves, whatever event brought them, and the asynchronous job's own format.

serving.events reads AWS's event shapes into these; the HTTP path sends itself a job (make_async_job)
that parse_async_job reads back in the invocation that does the work.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field

from darknet_detector.core.detection import DEFAULT_OPTIONS, DetectOptions

ASYNC_JOB_KEY = "darknet_job"


class BadEvent(ValueError):
    """The event is not one the function understands."""


@dataclass(frozen=True)
class S3ObjectRequest:
    bucket: str
    key: str  # URL-decoded, as the object is really named
    size: int | None
    request_id: str
    etag: str | None = None
    version_id: str | None = None
    # When the event was sent (ISO 8601), for the upload-to-result latency; not part of the identity.
    event_time: str | None = field(default=None, compare=False)

    def source(self) -> dict:
        """result.json's `source`: the exact object version the result belongs to."""
        version = {"etag": self.etag, "version_id": self.version_id}
        return {"bucket": self.bucket, "key": self.key, **{k: v for k, v in version.items() if v}}


@dataclass(frozen=True)
class AsyncJob:
    request_id: str
    bucket: str
    image: bytes
    filename: str
    options: DetectOptions = DEFAULT_OPTIONS  # the request's, checked before the job was sent


def make_async_job(
    request_id: str, bucket: str, image: bytes, filename: str, options: DetectOptions = DEFAULT_OPTIONS
) -> dict:
    return {
        ASYNC_JOB_KEY: {
            "request_id": request_id,
            "bucket": bucket,
            "filename": filename,
            "image_base64": base64.b64encode(image).decode(),
            "options": {
                "threshold": options.threshold,
                "classes": sorted(options.classes),
                "tiles": options.tiles,
            },
        }
    }


def _job_options(options: dict) -> DetectOptions:
    """A job's options; a job sent before options existed has none and keeps the defaults."""
    threshold, tiles = options.get("threshold"), options.get("tiles")
    return DetectOptions(
        threshold=None if threshold is None else float(threshold),
        classes=frozenset(map(str, options.get("classes") or ())),
        tiles=None if tiles is None else str(tiles),
    )


def parse_async_job(event: dict) -> AsyncJob:
    job = event[ASYNC_JOB_KEY]
    try:
        return AsyncJob(
            request_id=str(uuid.UUID(job["request_id"])),
            bucket=job["bucket"],
            image=base64.b64decode(job["image_base64"], validate=True),
            filename=job["filename"],
            options=_job_options(job.get("options") or {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise BadEvent(f"malformed detection job: {error}") from None
