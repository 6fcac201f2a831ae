"""API Gateway proxy answers as Powertools responses: JSON documents, the tar.gz, and errors."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response

from .contract import JSON_MEDIA_TYPE

REQUEST_ID_HEADER = "X-Request-Id"


def json_response(status: int, document: dict, request_id: str) -> Response:
    return Response(
        status_code=status,
        content_type=JSON_MEDIA_TYPE,
        body=json.dumps(document),
        headers={REQUEST_ID_HEADER: request_id},
    )


def error_response(status: int, code: str, message: str, request_id: str) -> Response:
    return json_response(
        status, {"error": {"code": code, "message": message}, "request_id": request_id}, request_id
    )


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
