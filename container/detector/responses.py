"""API Gateway proxy answers as Powertools responses: JSON documents, the tar.gz, and errors."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from .contract import JSON_MEDIA_TYPE

REQUEST_ID_HEADER = "X-Request-Id"


def json_response(status: int, document: dict, request_id: str) -> Response:
    return Response(
        status_code=status,
        content_type=JSON_MEDIA_TYPE,
        body=json.dumps(document),
        headers={REQUEST_ID_HEADER: request_id},
    )


def error_response(http_status: int, code: str, message: str, request_id: str, **fields: str) -> Response:
    """The one error shape: {"error": {"code", "message"}, "request_id"}, plus any route's own fields."""
    document = {"error": {"code": code, "message": message}, "request_id": request_id, **fields}
    return json_response(http_status, document, request_id)


def route_url(event: APIGatewayProxyEvent, route: str) -> str:
    """The absolute URL of another route of the same API and stage as this request, as the client
    called it (API Gateway's own domain or a custom one); the route alone if the event cannot tell."""
    host = event.headers.get("host")
    called, resource_path = event.request_context.path or "", event.path or ""
    if not host or not called.endswith(resource_path):
        return route
    scheme = event.headers.get("x-forwarded-proto") or "https"
    return f"{scheme}://{host}{called[: len(called) - len(resource_path)]}{route}"


def results_route(request_id: str) -> str:
    return f"/results/{request_id}"


def archive_response(archive: bytes, media_type: str, request_id: str) -> Response:
    """Bytes, which Powertools sends base64-encoded with isBase64Encoded set."""
    return Response(
        status_code=200,
        content_type=media_type,
        body=archive,
        headers={
            "Content-Disposition": f'attachment; filename="{request_id}.tar.gz"',
            REQUEST_ID_HEADER: request_id,
        },
    )
