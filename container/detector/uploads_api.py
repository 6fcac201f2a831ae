"""The uploads function's HTTP layer: GET / (the viewer page), POST /uploads and GET /results/{request_id}.

Routes read the request, call the plain functions of `uploads` and map their values and errors to API
Gateway proxy responses with Powertools' APIGatewayRestResolver, in the detector's error shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from .contract import routes_text
from .responses import StackCors, error_response, json_response, results_route, route_url
from .uploads import (
    MalformedRequestId,
    UploadRequestError,
    UploadsSettings,
    look_up_result,
    presign_upload,
    upload_request,
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


@app.get("/")
def viewer() -> Response:
    """The API's root: a placeholder until the viewer page takes its place."""
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body="<!doctype html><title>darknet-lambda</title><p>POST /detect an image.</p>",
    )


@app.post("/uploads")
def create_upload() -> Response:
    uploads = _uploads()
    filename, content_type = upload_request(json_body())
    form = presign_upload(uploads.s3(), uploads.settings, filename, content_type, uploads.now_ms())
    poll = route_url(app.current_event, results_route(form.request_id))
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


@app.get("/results/<request_id>")
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
