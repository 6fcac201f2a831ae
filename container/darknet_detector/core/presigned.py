"""Uploads and results without AWS credentials: presigned upload forms and result look-ups.

Plain functions of an S3 client and the time; nothing here knows HTTP (uploads_api maps their values
and errors to responses). Standard library and the contract only, so the uploads function starts
without the detector's numerical stack.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from darknet_detector.contract import (
    OUTPUT_BUCKET_ENV,
    REQUEST_ID,
    RESULT_WINDOW_ENV,
    S3_IMAGE_LIMIT_BYTES,
    UPLOAD_CONTENT_TYPE_PREFIX,
    UPLOAD_URL_SECONDS,
    DetectorConfig,
    mint_time_ordered_id,
    result_json_key,
    time_ordered_id_millis,
    upload_key,
    upload_name,
)

# Image types the standard library's table may lack.
IMAGE_EXTENSIONS = {"heic": "image/heic", "heif": "image/heif", "avif": "image/avif", "webp": "image/webp"}
CLOCK_SKEW_MS = 5 * 60 * 1000
"""How far in the future an id's time may be and still count as minted here (clocks differ)."""


class UploadRequestError(ValueError):
    """An upload request the route cannot sign; `code` names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class MalformedRequestId(ValueError):
    """Not the form of any request id this service gives out."""


@dataclass(frozen=True)
class UploadsSettings:
    """The uploads function's environment: where uploads go, where results are, how long to wait."""

    bucket: str
    input_prefix: str
    output_prefix: str
    result_window_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UploadsSettings:
        env = os.environ if env is None else env
        config = DetectorConfig.from_environment(env)  # the prefixes, checked as the detector checks them
        bucket = env.get(OUTPUT_BUCKET_ENV, "").strip()
        if not bucket:
            raise ValueError(f"{OUTPUT_BUCKET_ENV} is not set")
        window = env.get(RESULT_WINDOW_ENV, "").strip()
        if not window.isdigit() or int(window) < UPLOAD_URL_SECONDS:
            raise ValueError(
                f"{RESULT_WINDOW_ENV}={window!r} must be whole seconds, at least {UPLOAD_URL_SECONDS}"
            )
        return cls(bucket, config.input_prefix, config.output_prefix, int(window))


@dataclass(frozen=True)
class UploadForm:
    """A presigned POST for one key: send `fields`, then the file last, to `url`, before `expires_in`."""

    request_id: str
    key: str
    url: str
    fields: dict[str, str]
    expires_in: int
    max_bytes: int
    content_type: str


@dataclass(frozen=True)
class LookUp:
    """A result look-up: `document` (result.json as written) when done, else `pending` or `unknown`."""

    request_id: str
    status: str
    document: dict | None = None
    retry_after: int | None = None


def content_type_for(name: str, requested: object) -> str:
    """The Content-Type the form fixes: the client's (an image type), or guessed from the file name;
    image/jpeg when the name says nothing (the detector reads the bytes, the type only gates them)."""
    if requested is not None:
        if not isinstance(requested, str) or not requested.lower().startswith(UPLOAD_CONTENT_TYPE_PREFIX):
            raise UploadRequestError(
                "unsupported_type", f"content_type {requested!r} is not an image type (image/...)"
            )
        return requested.lower()
    extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
    guessed = IMAGE_EXTENSIONS.get(extension) or mimetypes.guess_type(name)[0]
    if guessed is None:
        return "image/jpeg"
    if not guessed.startswith(UPLOAD_CONTENT_TYPE_PREFIX):
        raise UploadRequestError(
            "unsupported_type", f"{name!r} names a {guessed} file, not an image: upload JPEG, PNG, HEIC, ..."
        )
    return guessed


def upload_request(body: object) -> tuple[str | None, object]:
    """The optional filename and content_type of POST /uploads' JSON body (None: no body)."""
    if body is None:
        return None, None
    if not isinstance(body, dict):
        raise UploadRequestError("bad_json", 'the body must be a JSON object like {"filename": "photo.jpg"}')
    unknown = sorted(set(body) - {"filename", "content_type"})
    if unknown:
        raise UploadRequestError(
            "bad_json", f"unknown field(s) {', '.join(unknown)}; known: filename, content_type"
        )
    filename = body.get("filename")
    if filename is not None and (not isinstance(filename, str) or not filename.strip()):
        raise UploadRequestError("bad_json", f"filename {filename!r} is not a file name")
    return filename, body.get("content_type")


def presign_upload(
    s3, settings: UploadsSettings, filename: str | None, content_type: object, now_ms: int
) -> UploadForm:
    """A POST policy for one new key under the input prefix, bounded in size, type and time."""
    request_id = mint_time_ordered_id(now_ms, secrets.randbits(74))
    name = upload_name(filename)
    media_type = content_type_for(name, content_type)
    key = upload_key(settings.input_prefix, request_id, name)
    # generate_presigned_post adds the exact bucket and key conditions itself.
    presigned = s3.generate_presigned_post(
        Bucket=settings.bucket,
        Key=key,
        Fields={"Content-Type": media_type},
        Conditions=[
            ["content-length-range", 1, S3_IMAGE_LIMIT_BYTES],
            ["starts-with", "$Content-Type", UPLOAD_CONTENT_TYPE_PREFIX],
        ],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return UploadForm(
        request_id=request_id,
        key=key,
        url=presigned["url"],
        fields=dict(presigned["fields"]),
        expires_in=UPLOAD_URL_SECONDS,
        max_bytes=S3_IMAGE_LIMIT_BYTES,
        content_type=media_type,
    )


def checked_request_id(request_id: str) -> str:
    if not REQUEST_ID.fullmatch(request_id):
        raise MalformedRequestId(
            f"{request_id[:80]!r} is not a request id (a lower-case UUID, as POST /uploads and POST /detect "
            "answer it)"
        )
    return request_id


def look_up_result(s3, settings: UploadsSettings, request_id: str, now_ms: int) -> LookUp:
    """result.json when it exists; otherwise pending for an id minted within the result window,
    unknown for any other. Without s3:ListBucket a missing object reads as AccessDenied: the same."""
    checked_request_id(request_id)
    key = result_json_key(settings.output_prefix, request_id)
    try:
        body = s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404", "AccessDenied", "403"):
            raise
    else:
        return LookUp(request_id, "done", document=json.loads(body))
    minted = time_ordered_id_millis(request_id)
    window_ms = settings.result_window_seconds * 1000
    if minted is not None and now_ms - window_ms <= minted <= now_ms + CLOCK_SKEW_MS:
        remaining = (minted + window_ms - now_ms) // 1000
        return LookUp(request_id, "pending", retry_after=max(1, min(5, remaining)))
    return LookUp(request_id, "unknown")
