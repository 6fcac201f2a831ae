"""Calls to the stack's HTTP API, authenticated the way the API asks (its apiAuthorization output)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from darknet_detector.contract import SUPPORTED_FORMATS, SUPPORTED_NAMES, sniff

from .errors import EXIT_NOT_ALL_SUCCEEDED, CliError, api_message
from .stack import API_KEY_ENV, Stack

MEDIA_TYPES = {"heif": "image/heic"}
"""An image kind's media type where it is not image/<kind>."""
TIMEOUT_SECONDS = 120


def media_type(kind: str | None) -> str:
    """The Content-Type to send a file of a sniffed kind with (unknown: octet-stream, which the API
    sniffs and refuses with its own message)."""
    if kind is None:
        return "application/octet-stream"
    return MEDIA_TYPES.get(kind, f"image/{kind}")


def image_kind(head: bytes) -> str | None:
    """The supported image kind of a file's first bytes, or None (not an image the detector reads)."""
    kind = sniff(head)
    return kind if kind in SUPPORTED_FORMATS else None


NOT_AN_IMAGE = f"not an image the detector reads ({SUPPORTED_NAMES})"


class ImageRejected(CliError):
    """The API refused this image (415, 400, 413): the API's own message; exit 1, the image failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_NOT_ALL_SUCCEEDED)


@dataclass
class Api:
    stack: Stack
    api_key: str | None = None

    def _key(self) -> str:
        if self.api_key:
            return self.api_key
        if os.environ.get(API_KEY_ENV):
            self.api_key = os.environ[API_KEY_ENV]
            return self.api_key
        key_id = self.stack.require(
            "apiKeyId", f"the API asks for a key: give --api-key or set {API_KEY_ENV}"
        )
        import botocore.exceptions

        try:
            answer = self.stack.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)
        except botocore.exceptions.ClientError as error:
            raise CliError(
                f"cannot read the API key {key_id} ({error.response['Error'].get('Code')}): "
                f"give --api-key or set {API_KEY_ENV}"
            ) from None
        self.api_key = str(answer["value"])
        return self.api_key

    def call(self, method: str, url: str, body: bytes | None = None, **headers: str) -> requests.Response:
        """One request, authenticated; a refusal of the caller (401, 403) is a setup problem (exit 2)
        named in the API's own words."""
        mode = self.stack.authorization
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        if mode == "api_key":
            headers["x-api-key"] = self._key()
        elif mode == "iam":
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest

            request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
            SigV4Auth(self.stack.credentials(), "execute-api", self.stack.region).add_auth(request)
            headers = dict(request.headers.items())
        response = requests.request(method, url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
        if response.status_code in (401, 403):
            hint = {
                "api_key": f" (check the API key: --api-key or {API_KEY_ENV})",
                "iam": " (the caller's AWS credentials may not call execute-api:Invoke on this API)",
            }.get(mode, "")
            raise CliError(
                f"the API refused the request ({response.status_code}): {api_message(response)}{hint}"
            )
        return response

    def detect(
        self, body: bytes, content_type: str, params: dict[str, str], accept: str, asynchronous: bool = False
    ) -> requests.Response:
        url = self.stack.require("apiUrl", "the stack has no HTTP API")
        headers = {"Content-Type": content_type, "Accept": accept}
        if asynchronous:
            headers["X-Amz-Invocation-Type"] = "Event"
        if params:
            url = requests.Request("POST", url, params=params).prepare().url or url
        response = self.call("POST", url, body, **headers)
        if response.status_code in (400, 406, 413, 415, 422):
            raise ImageRejected(f"the API rejected it ({response.status_code}): {api_message(response)}")
        if response.status_code >= 300:
            raise CliError(
                f"the API answered {response.status_code}: {api_message(response)}", EXIT_NOT_ALL_SUCCEEDED
            )
        return response

    def upload(self, name: str, data: bytes, content_type: str) -> dict:
        """POST /uploads for a form, then the file to S3 through it: the answer of POST /uploads."""
        url = self.stack.require("uploadsUrl", "the stack has no uploads route for files this large")
        import json

        answer = self.call(
            "POST",
            url,
            json.dumps({"filename": name, "content_type": content_type}).encode(),
            Content_Type="application/json",
        )
        if answer.status_code != 200:
            raise CliError(f"POST /uploads answered {answer.status_code}: {api_message(answer)}")
        form = answer.json()
        posted = requests.post(
            form["upload"]["url"],
            data=form["upload"]["fields"],
            files={"file": (name, data, content_type)},
            timeout=TIMEOUT_SECONDS,
        )
        if posted.status_code >= 300:
            raise ImageRejected(f"the upload form was refused ({posted.status_code}): {posted.text[:300]}")
        return form

    def result_url(self, answer: dict) -> str:
        """Where a request's result is polled: the stack's resultsUrl and the id (the answer's own
        result_url is built from the request's Host, which a proxy or LocalStack's path form can change)."""
        base = self.stack.outputs.get("resultsUrl")
        return f"{base}{answer['request_id']}" if base else str(answer["result_url"])

    def wait_result(self, result_url: str, timeout: float, on_poll=None) -> dict:
        """GET /results/ID until it answers 200 (202: pending, after its Retry-After); the document."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.call("GET", result_url)
            if answer.status_code == 200:
                return answer.json()
            if answer.status_code != 202:
                raise CliError(
                    f"GET {result_url} answered {answer.status_code}: {api_message(answer)}",
                    EXIT_NOT_ALL_SUCCEEDED,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CliError(
                    f"no result within {timeout:g} s; it may still come: GET {result_url}",
                    EXIT_NOT_ALL_SUCCEEDED,
                )
            if on_poll:
                on_poll()
            time.sleep(min(_retry_after(answer), 2.0, remaining))


def _retry_after(answer: requests.Response) -> float:
    try:
        return max(float(answer.headers.get("Retry-After", "1")), 0.2)
    except ValueError:
        return 1.0


def read_image(path: str) -> tuple[bytes, str | None]:
    data = Path(path).read_bytes()
    return data, image_kind(data[:64])


def darknet_lines(document: dict[str, Any]) -> list[str]:
    """Darknet's own lines for a result: `dog: 57%` per detection (printf("%.0f%%")), in its order."""
    return [f"{item['class']}: {item['confidence'] * 100:.0f}%" for item in document.get("detections", [])]


def error_reason(document: dict[str, Any]) -> str:
    error = document.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "rejected")
    return str(error or "rejected")
