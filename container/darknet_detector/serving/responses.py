"""API Gateway proxy answers as Powertools responses: JSON documents, the tar.gz, and errors."""

from __future__ import annotations

import json
import os

from aws_lambda_powertools.event_handler import CORSConfig, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from darknet_detector.contract import (
    ANNOTATION_EXTENSIONS,
    CORS_ALLOW_HEADERS,
    CORS_EXPOSE_HEADERS,
    CORS_MAX_AGE_SECONDS,
    CORS_ORIGINS_ENV,
    JSON_MEDIA_TYPE,
    PNG_MEDIA_TYPE,
    archive_name,
    cors_origins,
    error_document,
)

REQUEST_ID_HEADER = "X-Request-Id"


def json_response(status: int, document: dict, request_id: str) -> Response:
    return Response(
        status_code=status,
        content_type=JSON_MEDIA_TYPE,
        body=json.dumps(document),
        headers={REQUEST_ID_HEADER: request_id},
    )


def error_response(http_status: int, code: str, message: str, request_id: str, **fields: str) -> Response:
    """An error answer in the contract's one error shape (error_document)."""
    return json_response(http_status, error_document(code, message, request_id, **fields), request_id)


def route_url(event: APIGatewayProxyEvent, route: str) -> str:
    """The absolute URL of another route of the same API and stage as this request, as the client
    called it (API Gateway's own domain or a custom one); the route alone if the event cannot tell."""
    host = event.headers.get("host")
    called, resource_path = event.request_context.path or "", event.path or ""
    if not host or not called.endswith(resource_path):
        return route
    scheme = (event.headers.get("x-forwarded-proto") or "https").lower()
    return f"{scheme}://{host}{called[: len(called) - len(resource_path)]}{route}"


def archive_response(archive: bytes, media_type: str, request_id: str) -> Response:
    """Bytes, which Powertools sends base64-encoded with isBase64Encoded set."""
    return Response(
        status_code=200,
        content_type=media_type,
        body=archive,
        headers={
            "Content-Disposition": f'attachment; filename="{archive_name(request_id)}"',
            REQUEST_ID_HEADER: request_id,
        },
    )


def annotation_response(body: str, annotation_format: str, media_type: str, request_id: str) -> Response:
    """One image's annotations in a standard format (COCO JSON, YOLO text, VOC XML), UTF-8 text."""
    filename = request_id + ANNOTATION_EXTENSIONS[annotation_format]
    return Response(
        status_code=200,
        content_type=f"{media_type}; charset=utf-8",
        body=body,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            REQUEST_ID_HEADER: request_id,
        },
    )


def png_response(picture: bytes, request_id: str) -> Response:
    """The annotated picture, shown in place by a browser and saved by `curl -o out.png`."""
    return Response(
        status_code=200,
        content_type=PNG_MEDIA_TYPE,
        body=picture,
        headers={
            "Content-Disposition": f'inline; filename="{request_id}.png"',
            REQUEST_ID_HEADER: request_id,
        },
    )


class StackCors(CORSConfig):
    """CORS headers on every answer of a resolver (errors and not-found included), for the origins of
    the stack's setting (CORS_ALLOWED_ORIGINS), read per request so that a test or a configuration
    change needs no new resolver. "*" answers `*`; a listed origin is echoed with Vary: Origin, so that
    a cache keeps one answer per origin; an unlisted origin, or none set, gets no CORS header at all."""

    def __init__(self) -> None:
        super().__init__(
            allow_headers=list(CORS_ALLOW_HEADERS),
            expose_headers=list(CORS_EXPOSE_HEADERS),
            max_age=CORS_MAX_AGE_SECONDS,
        )

    def allowed_origin(self, extracted_origin: str | None) -> str | None:
        origins = cors_origins(os.environ.get(CORS_ORIGINS_ENV))
        if not extracted_origin:
            return None
        if "*" in origins:
            return "*"
        return extracted_origin if extracted_origin in origins else None

    def to_dict(self, origin: str | None) -> dict[str, str]:
        if not origin:
            return {}
        headers = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": ",".join(sorted(self.allow_headers)),
            "Access-Control-Expose-Headers": ",".join(self.expose_headers),
            "Access-Control-Max-Age": str(self.max_age),
        }
        if origin != "*":
            headers["Vary"] = "Origin"
        return headers
