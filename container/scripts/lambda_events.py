"""AWS event shapes as AWS documents them: S3 notifications and API Gateway REST proxy events.

Used by the tests of every layer, `make detect` and `make bench`, so that every local invocation
sends what Lambda would receive.
"""

from __future__ import annotations

import base64
import time
import uuid
from urllib.parse import quote_plus

from darknet_detector.contract import DETECT_ROUTE


def make_s3_event(
    bucket: str,
    key: str,
    size: int = 1024,
    sequencer: str | None = None,
    event_name: str = "ObjectCreated:Put",
    etag: str | None = None,
) -> dict:
    """An S3 notification with one record; the key URL-encoded as S3 sends it. Without an ETag, each
    event stands for a new upload (a new content version) of the key."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "darknet-input",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag or uuid.uuid4().hex,
                        "sequencer": sequencer or uuid.uuid4().hex[:18].upper(),
                    },
                },
            }
        ]
    }


def make_api_event(body: bytes, headers: dict[str, str] | None = None, base64_encoded: bool = True) -> dict:
    """An API Gateway REST (v1) Lambda proxy event for POST /detect."""
    headers = {
        "Content-Type": "image/jpeg",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        **(headers or {}),
    }
    return {
        "resource": DETECT_ROUTE,
        "path": DETECT_ROUTE,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "httpMethod": "POST",
            "path": f"/prod{DETECT_ROUTE}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "res123",
            "resourcePath": DETECT_ROUTE,
            "stage": "prod",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
        },
        "body": base64.b64encode(body).decode() if base64_encoded else body.decode("latin-1"),
        "isBase64Encoded": base64_encoded,
    }


def response_headers(response: dict) -> dict[str, str]:
    """A proxy response's headers, from `headers` and `multiValueHeaders` (the last value of each)."""
    multi = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items() if values}
    return {**multi, **(response.get("headers") or {})}
