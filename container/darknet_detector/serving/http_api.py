"""The HTTP API, the one layer that knows HTTP.

Routes read what a client sent (body, Content-Type, Accept), call the pipeline's plain functions and
turn their values and errors into API Gateway proxy responses, with Powertools' APIGatewayRestResolver.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import mimeparse
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from darknet_detector.contract import (
    ANNOTATION_FORMATS,
    ANNOTATION_MEDIA_TYPES,
    ARCHIVE_MEDIA_TYPES,
    BINARY_MEDIA_TYPES,
    DEFAULT_MAX_TILES,
    DETECT_ROUTE,
    FORMAT_PARAMETER,
    JSON_MEDIA_TYPE,
    PNG_MEDIA_TYPE,
    SERVICE_NAME,
    SUPPORTED_FORMATS,
    SUPPORTED_NAMES,
    VIEWER_ROUTE,
    new_time_ordered_id,
    result_route,
    routes_text,
    sniff,
)
from darknet_detector.core import annotation_formats, pipeline
from darknet_detector.core.detection import DEFAULT_OPTIONS, DetectOptions, Engine, UnsupportedOption
from darknet_detector.core.images import ImageDecodeError, ImageTooLarge, InvalidImage
from darknet_detector.core.settings import Settings
from darknet_detector.serving.responses import (
    StackCors,
    annotation_response,
    archive_response,
    error_response,
    json_response,
    png_response,
    route_url,
)

# What the domain's image problems mean to an HTTP client.
IMAGE_ERROR_STATUS = {
    "empty_body": 400,
    "corrupt_image": 400,
    "truncated_image": 400,
    "not_an_image": 415,
    "unsupported_type": 415,
    "too_large": 413,
}
# In the order preferred when Accept ties: JSON for `*/*`, the PNG for `image/*`.
ANSWER_TYPES = (JSON_MEDIA_TYPE, *ARCHIVE_MEDIA_TYPES, PNG_MEDIA_TYPE)
RAW_IMAGE_TYPES = ("application/octet-stream",)  # besides image/*
HOW_TO_SEND = (
    "send the image as the body with its type (curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg'), "
    'as a file of a multipart form (curl -F image=@photo.jpg), or as JSON {"image": "<base64>"} '
    "with Content-Type: application/json"
)

# Per-request options: in the query string, a multipart form's fields or the JSON body beside "image".
OPTION_NAMES = ("threshold", "classes", "tiles")
QUERY_NAMES = (*OPTION_NAMES, FORMAT_PARAMETER)
HOW_TO_SET_OPTIONS = (
    "set options as ?threshold=0.25&classes=dog,person&tiles=auto (classes may repeat), as form fields "
    '(curl -F threshold=0.25 -F classes=dog -F tiles=auto), or in a JSON body {"image": ..., '
    '"threshold": 0.25, "classes": ["dog"], "tiles": "auto"}'
)

app = APIGatewayRestResolver(cors=StackCors())
if TYPE_CHECKING:
    from email.message import Message

logger = Logger(service=SERVICE_NAME, child=True)


class HttpError(Exception):
    """A request the API cannot take as sent, with the status and code the client gets."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Detector:
    """What the routes need from the handler; the engine is loaded only when a route detects."""

    engine: Callable[[], Engine]
    settings: Settings
    invoke_async: Callable[[dict], None]
    s3: Callable[[], Any]
    announce: Callable[[dict], None] = lambda document: None
    """Publishes the completion event of a result.json a stored binary answer wrote (handler.announce)."""
    deadline: Callable[[], float | None] = lambda: None
    """When this invocation's tiles must have finished (time.monotonic()); None: no bound."""


def resolve(event: dict, context, detector: Detector) -> dict:
    app.append_context(detector=detector)
    return app.resolve(event, context)


def _detector() -> Detector:
    return app.context["detector"]


def _request_id() -> str:
    return app.lambda_context.aws_request_id


@app.post(DETECT_ROUTE)
def detect() -> Response:
    detector, request_id, event = _detector(), _request_id(), app.current_event
    annotation_format = requested_format(event)
    if annotation_format is None:
        answer_type = negotiate(event.headers.get("accept"))
    else:
        answer_type = negotiate_format(event.headers.get("accept"), annotation_format)
    image, fields = request_image(event, detector.settings.max_http_image_bytes)
    options = request_options(event, fields, detector.engine, detector.settings.max_tiles)
    options = replace(options.with_tiles_default(detector.settings.tiles), deadline=detector.deadline())
    if wants_async(event):
        if annotation_format is not None:
            raise HttpError(
                400,
                "bad_format",
                f"{FORMAT_PARAMETER}={annotation_format} answers in the request; an asynchronous job writes "
                "result.json, which `darknet-lambda export` turns into that format",
            )
        # A time-ordered id, so that GET /results tells a result still to come from an unknown id. This
        # invocation logs it beside its own id (X-Request-Id), the job's logs carry it as request_id.
        job_id = new_time_ordered_id()
        accepted = pipeline.submit_job(image, job_id, detector.settings, detector.invoke_async, options)
        logger.info("asynchronous job submitted", extra={"job_request_id": job_id})
        body = {
            "request_id": job_id,
            "status": "accepted",
            "location": accepted.folder,
            "result": accepted.result,
            "result_url": route_url(event, result_route(job_id)),
            "options": options.as_dict(detector.settings.threshold),
        }
        return json_response(202, body, request_id)
    if annotation_format is not None or answer_type == JSON_MEDIA_TYPE:
        engine = detector.engine()
        document = pipeline.detect_document(image, request_id, engine, detector.settings, options)
        if annotation_format is None:
            return json_response(200, document, request_id)
        rendered = annotation_formats.render(annotation_format, document, engine.names)
        return annotation_response(rendered, annotation_format, answer_type, request_id)
    if answer_type == PNG_MEDIA_TYPE:
        answer = pipeline.detect_png(
            image, request_id, detector.engine(), detector.settings, detector.s3, options
        )
        if isinstance(answer, bytes):
            return png_response(answer, request_id)
    else:
        answer = pipeline.detect_archive(
            image, request_id, detector.engine(), detector.settings, detector.s3, options
        )
        if isinstance(answer, bytes):
            return archive_response(answer, answer_type, request_id)
    detector.announce(answer.document)
    stored = {
        "request_id": request_id,
        "status": "stored",
        "message": f"the {answer.kind} ({answer.size} bytes) is over what Lambda can answer: its files are "
        f"under {answer.folder}, linked for {answer.expires_in} s",
        "links": answer.links,
        "expires_in": answer.expires_in,
    }
    return json_response(200, stored, request_id)


@app.get(VIEWER_ROUTE)
def viewer() -> Response:
    """The API's root when it has no uploads function: the same page the uploads function serves
    (imported here, so that a call of POST /detect never loads it)."""
    from darknet_detector.serving import uploads_api

    return uploads_api.viewer()


def wants_async(event: APIGatewayProxyEvent) -> bool:
    return (event.headers.get("x-amz-invocation-type") or "").strip().lower() == "event"


def negotiate(accept: str | None) -> str:
    """The answer type Accept ranks highest (RFC 9110 q-values, lists, wildcards); JSON without Accept.

    API Gateway decodes a base64 answer into bytes only when Accept's first type is a binary media
    type, so a tar.gz that a later entry asked for would reach the client as base64 text: refused.
    """
    if not accept or not accept.strip():
        return JSON_MEDIA_TYPE
    ranges = accept.lower()  # media types are case-insensitive; the parser compares them as written
    try:
        ranked = [(mimeparse.quality(media, ranges), -rank, media) for rank, media in enumerate(ANSWER_TYPES)]
    except (mimeparse.MimeTypeParseException, ValueError):
        raise HttpError(400, "bad_accept", f"the Accept header {accept!r} does not parse") from None
    quality, _, chosen = max(ranked)
    if quality <= 0:
        raise HttpError(
            406,
            "not_acceptable",
            f"Accept: {accept} admits nothing this API answers: it answers {', '.join(ANSWER_TYPES)}",
        )
    if chosen != JSON_MEDIA_TYPE and not is_binary_media_type(ranges.split(",")[0]):
        raise HttpError(
            406,
            "not_acceptable",
            f"Accept: {accept} selects {chosen}, but API Gateway delivers a binary answer only when its "
            f"type is the first one in Accept: send Accept: {chosen}",
        )
    return chosen


def requested_format(event: APIGatewayProxyEvent) -> str | None:
    """The annotation format `?format=` asks for (coco, yolo, voc; any case), or None for the default
    answers that Accept chooses."""
    values = (event.multi_value_query_string_parameters or {}).get(FORMAT_PARAMETER) or [
        value for value in [(event.query_string_parameters or {}).get(FORMAT_PARAMETER)] if value is not None
    ]
    if not values:
        return None
    names = {str(value).strip().lower() for value in values}
    if len(names) > 1 or not names <= set(ANNOTATION_FORMATS):
        raise HttpError(
            400,
            "bad_format",
            f"{FORMAT_PARAMETER}={','.join(map(str, values))} is not one format: "
            f"POST /detect answers {FORMAT_PARAMETER}={'|'.join(ANNOTATION_FORMATS)}, or result.json "
            "without it",
        )
    return names.pop()


def negotiate_format(accept: str | None, annotation_format: str) -> str:
    """The media type of a format's answer, which Accept must admit (absent, */* and the type itself do)."""
    media = ANNOTATION_MEDIA_TYPES[annotation_format]
    if not accept or not accept.strip():
        return media
    try:
        quality = mimeparse.quality(media, accept.lower())
    except (mimeparse.MimeTypeParseException, ValueError):
        raise HttpError(400, "bad_accept", f"the Accept header {accept!r} does not parse") from None
    if quality <= 0:
        raise HttpError(
            406,
            "not_acceptable",
            f"Accept: {accept} refuses {media}, the type of {FORMAT_PARAMETER}={annotation_format}'s answer",
        )
    return media


def is_binary_media_type(media_range: str) -> bool:
    """Whether API Gateway treats this type as binary: one of BINARY_MEDIA_TYPES, `type/*` included."""
    media, _, _ = media_range.partition(";")
    kind, _, subtype = media.strip().lower().partition("/")
    return any(
        kind == binary_kind and binary_subtype in ("*", subtype)
        for binary_kind, _, binary_subtype in (binary.partition("/") for binary in BINARY_MEDIA_TYPES)
    )


def request_body(event: APIGatewayProxyEvent) -> bytes:
    raw = event.body or ""
    if not event.is_base64_encoded:
        # API Gateway passed the body as text: its Content-Type is not a binary media type.
        return raw.encode("utf-8", errors="replace")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise HttpError(400, "bad_request", "the body is marked base64 but does not decode") from None


def content_type(header: str | None) -> tuple[str, dict[str, str]]:
    """The media type, lower case, and its parameters; ('', {}) without a usable header."""
    if not header or not header.strip():
        return "", {}
    try:
        kind, subtype, parameters = mimeparse.parse_mime_type(header)
    except (mimeparse.MimeTypeParseException, ValueError):
        return "", {}
    return f"{kind}/{subtype}".lower(), parameters


Fields = dict[str, list[Any]]
"""Option fields a body carried beside the image (a form's fields, a JSON body's keys), by name."""


def request_image(event: APIGatewayProxyEvent, limit_bytes: int) -> tuple[bytes, Fields]:
    """The image a client sent (the raw body, a multipart form's first file, or JSON's base64 "image")
    and the option fields beside it."""
    body = request_body(event)
    header = event.headers.get("content-type")
    media, _ = content_type(header)
    if not body:
        raise HttpError(400, "empty_body", f"the request has no image: the body is empty; {HOW_TO_SEND}")
    if len(body) > limit_bytes:
        # API Gateway refuses such a body before the function on AWS; LocalStack passes it on.
        raise ImageTooLarge(len(body), limit_bytes)
    if media.startswith("image/") or media in RAW_IMAGE_TYPES:
        return body, {}
    if media == "multipart/form-data":
        return multipart_file(body, header or "")
    if media == JSON_MEDIA_TYPE:
        return json_image(body)
    if media in ("", "application/x-www-form-urlencoded") and sniff(body) is not None:
        # `curl --data-binary @photo.jpg` without -H labels the photo form-urlencoded: the bytes decide.
        return body, {}
    arrived = f"Content-Type: {header.strip()}" if header and header.strip() else "no Content-Type"
    kind = sniff(body)
    if kind in SUPPORTED_FORMATS:
        what = f"a {kind.upper()} image sent as {media}: send it with its own type"
    else:
        what = f"a {kind.upper()} file, not an image" if kind else "not an image"
    raise HttpError(
        415,
        "unsupported_media_type",
        f"the body ({len(body)} bytes, {arrived}) is {what}; the detector reads {SUPPORTED_NAMES}; "
        f"{HOW_TO_SEND}",
    )


def multipart_file(body: bytes, header: str) -> tuple[bytes, Fields]:
    """The first file part of multipart/form-data, as browsers, `curl -F` and requests send it, and
    the option fields among the other parts.

    The standard library's MIME parser reads it (about 40 ms per MB); it is imported only here."""
    from email import policy
    from email.parser import BytesParser

    envelope = f"Content-Type: {header}\r\n\r\n".encode("latin-1", errors="replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(envelope + body)
    if not message.is_multipart() or not message.get_boundary():
        raise HttpError(400, "bad_multipart", f"the multipart body does not parse; {HOW_TO_SEND}")
    image: bytes | None = None
    fields: dict[str, list[str]] = {}
    names: list[str] = []
    for part in message.iter_parts():
        if part.get_filename() is not None:
            if image is None:
                image = _part_bytes(part)
            continue
        name = str(part.get_param("name", header="content-disposition") or "?")
        names.append(name)
        if name in OPTION_NAMES:
            fields.setdefault(name, []).append(_part_bytes(part).decode("utf-8", errors="replace"))
    if image is not None:
        return image, fields
    raise HttpError(
        400,
        "no_file_part",
        f"the multipart form has no file part (fields: {', '.join(names) or 'none'}); {HOW_TO_SEND}",
    )


def _part_bytes(part: Message) -> bytes:
    """A leaf part's decoded body (base64 and quoted-printable undone); empty when it has none."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def json_image(body: bytes) -> tuple[bytes, Fields]:
    """The image of a JSON body {"image": "<base64>"} (a data: URL's base64 is taken too) and the
    options beside it."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise HttpError(400, "bad_json", f"the JSON body does not parse ({error}); {HOW_TO_SEND}") from None
    encoded = document.get("image") if isinstance(document, dict) else None
    if not isinstance(encoded, str):
        raise HttpError(
            400,
            "bad_json",
            'the JSON body has no "image" string: send {"image": "<base64 of the image file>"}',
        )
    if encoded.startswith("data:") and ";base64," in encoded:
        encoded = encoded.split(";base64,", 1)[1]
    try:
        image = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise HttpError(400, "bad_base64", 'the JSON "image" is not base64 of an image file') from None
    fields: Fields = {}
    for name in ("threshold", "tiles"):
        if name in document:
            fields[name] = [document[name]]
    if "classes" in document:
        classes = document["classes"]
        if isinstance(classes, str):
            classes = [classes]
        if not isinstance(classes, list) or not all(isinstance(name, str) for name in classes):
            raise HttpError(
                400, "bad_classes", f'the JSON "classes" is not a list of class names; {HOW_TO_SET_OPTIONS}'
            )
        fields["classes"] = classes
    return image, fields


def request_options(
    event: APIGatewayProxyEvent,
    fields: Fields,
    engine: Callable[[], Engine],
    max_tiles: int = DEFAULT_MAX_TILES,
) -> DetectOptions:
    """The threshold, class filter and tiles of a request, from the query string and the body's fields.

    A query parameter the API does not know is refused rather than ignored (a misspelt `thresh` would
    otherwise run at the default without a word)."""
    query: Fields = dict(event.multi_value_query_string_parameters or {})
    for name, value in (event.query_string_parameters or {}).items():
        query.setdefault(name, [value])
    unknown = sorted(set(query) - set(QUERY_NAMES))
    if unknown:
        raise HttpError(
            400,
            "unknown_parameter",
            f"unknown query parameter {', '.join(unknown)}: POST /detect takes {', '.join(QUERY_NAMES)}",
        )
    thresholds = [*query.get("threshold", []), *fields.get("threshold", [])]
    if len({str(value).strip() for value in thresholds}) > 1:
        raise pipeline.InvalidOption(
            "bad_threshold", f"threshold is given more than once, with different values: {thresholds}"
        )
    threshold = parse_number(thresholds[0]) if thresholds else None
    classes = [
        name.strip()
        for value in (*query.get("classes", []), *fields.get("classes", []))
        for name in str(value).split(",")
        if name.strip()
    ]
    tilings = [str(value).strip().lower() for value in (*query.get("tiles", []), *fields.get("tiles", []))]
    if len(set(tilings)) > 1:
        raise pipeline.InvalidOption(
            "bad_tiles", f"tiles is given more than once, with different values: {tilings}"
        )
    if not thresholds and not classes and not tilings:
        return DEFAULT_OPTIONS
    tiles = tilings[0] if tilings else None
    return pipeline.check_options(threshold, list(dict.fromkeys(classes)), engine, tiles, max_tiles)


def parse_number(value: Any) -> Any:
    """A query or form field's text as a number; JSON's numbers as they are; anything else unchanged,
    for the range check to name."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


@app.exception_handler(HttpError)
def _http_error(error: HttpError) -> Response:
    return error_response(error.status, error.code, str(error), _request_id())


@app.exception_handler(InvalidImage)
def _invalid_image(error: InvalidImage) -> Response:
    message = str(error)
    if isinstance(error, ImageTooLarge):
        message = f"{message} through the HTTP API; {larger_images_hint(_detector().settings)}"
    return error_response(IMAGE_ERROR_STATUS.get(error.code, 400), error.code, message, _request_id())


def larger_images_hint(settings: Settings) -> str:
    target = (
        f"s3://{settings.output_bucket}/{settings.input_prefix}" if settings.output_bucket else "the S3 path"
    )
    return (
        f"for larger images (up to {settings.max_s3_image_bytes} bytes) POST /uploads for an upload form, "
        f"or upload to {target}"
    )


@app.exception_handler(pipeline.InvalidOption)
def _invalid_option(error: pipeline.InvalidOption) -> Response:
    return error_response(400, error.code, f"{error}; {HOW_TO_SET_OPTIONS}", _request_id())


@app.exception_handler(UnsupportedOption)
def _unsupported_option(error: UnsupportedOption) -> Response:
    return error_response(400, "option_unsupported", str(error), _request_id())


@app.exception_handler(ImageDecodeError)
def _undecodable(error: ImageDecodeError) -> Response:
    return error_response(400, "corrupt_image", str(error), _request_id())


@app.exception_handler(pipeline.AnswerTooLarge)
def _answer_too_large(error: pipeline.AnswerTooLarge) -> Response:
    return error_response(406, "answer_too_large", str(error), _request_id())


@app.exception_handler(pipeline.AsyncUnavailable)
def _async_unavailable(error: pipeline.AsyncUnavailable) -> Response:
    return error_response(501, "async_unavailable", str(error), _request_id())


@app.not_found
def _not_found(_error: Exception) -> Response:
    event = app.current_event
    return error_response(
        404,
        "not_found",
        f"no route {event.http_method} {event.path}: the API serves {routes_text()}",
        _request_id(),
    )
