"""API Gateway REST proxy responses: JSON, the base64 tar.gz of the binary mode, and errors."""

from __future__ import annotations

import base64
import json

JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(status: int, document: dict, request_id: str | None = None) -> dict:
    headers = dict(JSON_HEADERS)
    if request_id:
        headers["X-Request-Id"] = request_id
    return {
        "statusCode": status,
        "headers": headers,
        "body": json.dumps(document),
        "isBase64Encoded": False,
    }


def error_response(status: int, code: str, message: str, request_id: str | None = None) -> dict:
    return json_response(
        status, {"error": {"code": code, "message": message}, "request_id": request_id}, request_id
    )


def gzip_response(archive: bytes, request_id: str) -> dict:
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": "application/gzip",
            "Content-Disposition": f'attachment; filename="{request_id}.tar.gz"',
            "X-Request-Id": request_id,
        },
        "body": base64.b64encode(archive).decode(),
        "isBase64Encoded": True,
    }
