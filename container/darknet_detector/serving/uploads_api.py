"""The uploads function's HTTP layer: GET / (the viewer page), POST /uploads and GET /results/{request_id}.

Routes read the request, call the plain functions of `uploads` and map their values and errors to API
Gateway proxy responses with Powertools' APIGatewayRestResolver, in the detector's error shape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from darknet_detector.contract import (
    DETECT_ROUTE,
    RESULT_ROUTE,
    S3_IMAGE_LIMIT_BYTES,
    SYNC_BODY_LIMIT_BYTES,
    UPLOADS_ROUTE,
    VERSION,
    VIEWER_ROUTE,
    VIEWER_THRESHOLD,
    DetectorConfig,
    result_route,
    routes_text,
)
from darknet_detector.core.presigned import (
    MalformedRequestId,
    UploadRequestError,
    UploadsSettings,
    look_up_result,
    presign_upload,
    upload_request,
)
from darknet_detector.serving.responses import (
    REQUEST_ID_HEADER,
    StackCors,
    error_response,
    json_response,
    route_url,
)

app = APIGatewayRestResolver(cors=StackCors())

UPLOAD_STATUS = {"bad_json": 400, "unsupported_type": 415, "not_json": 415}


@dataclass(frozen=True)
class Uploads:
    """What the routes need from the handler: settings, an S3 client made on demand, the clock (ms)."""

    settings: UploadsSettings
    s3: Callable[[], Any]
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000


def resolve(event: dict, context, uploads: Uploads) -> dict:
    app.append_context(uploads=uploads)
    return app.resolve(event, context)


def _uploads() -> Uploads:
    return app.context["uploads"]


def _invocation_id() -> str:
    return app.lambda_context.aws_request_id


VIEWER_PAGE = Path(__file__).with_name("viewer.html")
CONFIG_SLOT = "__VIEWER_CONFIG__"


@app.get(VIEWER_ROUTE)
def viewer() -> Response:
    """The viewer page: pick or drop photos, see the boxes (container/detector/viewer.html)."""
    page, policy = viewer_page()
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=page,
        headers={
            "Content-Security-Policy": policy,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            REQUEST_ID_HEADER: _invocation_id(),
        },
    )


def viewer_config() -> dict:
    """The contract's facts the page needs; routes relative to the page, which is the API's root."""
    return {
        "version": VERSION,
        "routes": {
            "detect": DETECT_ROUTE.lstrip("/"),
            "uploads": UPLOADS_ROUTE.lstrip("/"),
            "results": RESULT_ROUTE.lstrip("/").partition("{")[0],
        },
        "syncBodyLimitBytes": SYNC_BODY_LIMIT_BYTES,
        "uploadLimitBytes": S3_IMAGE_LIMIT_BYTES,
        "askThreshold": VIEWER_THRESHOLD,
        "defaultThreshold": DetectorConfig().threshold,
    }


@cache
def viewer_page() -> tuple[str, str]:
    """The page with its config filled in, and a Content-Security-Policy that lets only its own inline
    script and style run (by their hashes). It may connect anywhere: the upload form's S3 endpoint is
    the bucket's, which only the form names."""
    config = json.dumps(viewer_config()).replace("<", "\\u003c")
    page = VIEWER_PAGE.read_text(encoding="utf-8").replace(CONFIG_SLOT, config)

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
        digests = (base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() for block in blocks)
        return " ".join(f"'sha256-{digest}'" for digest in digests)

    policy = (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "img-src blob: data:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy


@app.post(UPLOADS_ROUTE)
def create_upload() -> Response:
    uploads = _uploads()
    filename, content_type = upload_request(json_body())
    form = presign_upload(uploads.s3(), uploads.settings, filename, content_type, uploads.now_ms())
    poll = route_url(app.current_event, result_route(form.request_id))
    document = {
        "request_id": form.request_id,
        "upload": {"url": form.url, "fields": form.fields, "method": "POST"},
        "key": form.key,
        "content_type": form.content_type,
        "max_bytes": form.max_bytes,
        "expires_in": form.expires_in,
        "result_url": poll,
        "message": "POST a multipart form to upload.url with each of upload.fields, then the image as "
        f"the field 'file' (last), within {form.expires_in} s; then GET result_url until it answers 200",
    }
    return json_response(200, document, form.request_id)


@app.get(result_route("<request_id>"))  # Powertools names a path parameter <name>
def get_result(request_id: str) -> Response:
    uploads = _uploads()
    found = look_up_result(uploads.s3(), uploads.settings, request_id, uploads.now_ms())
    if found.document is not None:
        return json_response(200, found.document, request_id)
    if found.status == "pending":
        document = {
            "request_id": request_id,
            "status": "pending",
            "message": "no result yet: the image is not uploaded or is being processed; retry later",
            "retry_after": found.retry_after,
        }
        response = json_response(202, document, request_id)
        response.headers["Retry-After"] = str(found.retry_after)
        return response
    return error_response(
        404,
        "unknown_request",
        "no result under this id, and it was not given out within the last "
        f"{uploads.settings.result_window_seconds} s: ids come from POST /uploads and "
        "POST /detect with X-Amz-Invocation-Type: Event",
        request_id,
        status="unknown",
    )


def json_body() -> object:
    """The optional JSON body of POST /uploads: None when empty."""
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise UploadRequestError(
                "not_json",
                "POST /uploads takes no image: it answers a form to upload the image to; send no body "
                'or JSON like {"filename": "photo.jpg"}',
            ) from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise UploadRequestError("bad_json", f"the JSON body does not parse ({error})") from None


@app.exception_handler(UploadRequestError)
def _bad_upload_request(error: UploadRequestError) -> Response:
    return error_response(UPLOAD_STATUS.get(error.code, 400), error.code, str(error), _invocation_id())


@app.exception_handler(MalformedRequestId)
def _malformed_request_id(error: MalformedRequestId) -> Response:
    return error_response(400, "bad_request_id", str(error), _invocation_id())


@app.not_found
def _not_found(_error: Exception) -> Response:
    event = app.current_event
    return error_response(
        404,
        "not_found",
        f"no route {event.http_method} {event.path}: the API serves {routes_text()}",
        _invocation_id(),
    )
