"""`invoke` against a stand-in of the HTTP API on a local port: answers, auth headers, errors, polling."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import boto3
import pytest
from support.cli import jpeg

import darknet_lambda.cli as cli_module
from darknet_detector.contract import RESULT_IMAGE, RESULT_JSON, RESULT_TEXT

DOCUMENT = {
    "request_id": "r-1",
    "status": "ok",
    "detections": [{"class": "dog", "confidence": 0.5707}, {"class": "car", "confidence": 0.5193}],
    "timings": {"predict_seconds": 0.028},
}
ASYNC_ID = "0193f0e2-8a4b-7c1d-9e2f-3a4b5c6d7e8f"


class StandInApi(BaseHTTPRequestHandler):
    """POST /v1/detect, POST /v1/uploads, GET /v1/results/ID, POST /s3 (the upload form), GET /links/NAME."""

    seen: ClassVar[list] = []
    pending_polls = 2
    answers: ClassVar[dict] = {}

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json", **headers):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(("POST", self.path, dict(self.headers), body))
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.path.startswith("/v1/detect"):
            if "detect" in self.answers:
                return self._send(*self.answers["detect"])
            if not body.startswith(b"\xff\xd8"):
                return self._send(
                    415,
                    {
                        "error": {
                            "code": "not_an_image",
                            "message": "the body is not an image: send JPEG, PNG, ...",
                        }
                    },
                )
            if self.headers.get("X-Amz-Invocation-Type") == "Event":
                return self._send(
                    202,
                    {
                        "request_id": ASYNC_ID,
                        "status": "accepted",
                        "location": f"s3://b/output/{ASYNC_ID}/",
                        "result_url": f"{base}/v1/results/{ASYNC_ID}",
                    },
                )
            if self.headers.get("Accept") == "application/gzip":
                return self._send(
                    200, archive({RESULT_TEXT: b"dog: 57%\n"}), "application/gzip", X_Request_Id="r-1"
                )
            return self._send(200, DOCUMENT, X_Request_Id="r-1")
        if self.path == "/v1/uploads":
            return self._send(
                200,
                {
                    "request_id": ASYNC_ID,
                    "upload": {"url": f"{base}/s3", "fields": {"key": f"input/uploads/{ASYNC_ID}/big.jpg"}},
                    "result_url": f"{base}/v1/results/{ASYNC_ID}",
                },
            )
        if self.path == "/s3":
            return self._send(204, b"")
        return self._send(404, {"message": "no route"})

    def do_GET(self):
        self.seen.append(("GET", self.path, dict(self.headers), b""))
        if self.path.startswith("/v1/results/"):
            if StandInApi.pending_polls > 0:
                StandInApi.pending_polls -= 1
                return self._send(202, {"status": "pending"}, Retry_After="0")
            return self._send(200, {**DOCUMENT, "request_id": ASYNC_ID})
        if self.path.startswith("/links/"):
            return self._send(200, self.path.encode(), "application/octet-stream")
        return self._send(404, {"message": "no route"})


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def api(cli_stack):
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StandInApi.seen, StandInApi.pending_polls, StandInApi.answers = [], 2, {}
    base = f"http://127.0.0.1:{server.server_port}/v1"
    cli_stack.write(apiUrl=f"{base}/detect", uploadsUrl=f"{base}/uploads", resultsUrl=f"{base}/results/")
    yield cli_stack
    server.shutdown()


@pytest.fixture
def dog(tmp_path):
    path = tmp_path / "dog.jpg"
    path.write_bytes(jpeg())
    return path


def test_sync_prints_darknet_lines(api, dog):
    result = api.run("invoke", str(dog), "--threshold", "0.25", "--classes", "dog,car", "--tiles", "3x2:0.1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{dog}: Predicted in 0.028 seconds.", "dog: 57%", "car: 52%"]
    _, path, headers, body = StandInApi.seen[0]
    assert path == "/v1/detect?threshold=0.25&classes=dog%2Ccar&tiles=3x2%3A0.1"
    assert headers["Content-Type"] == "image/jpeg" and body == dog.read_bytes()
    assert json.loads(api.run("invoke", str(dog), "--json").stdout) == DOCUMENT


def test_output_writes_the_archive_or_packs_a_stored_answers_links(api, dog, tmp_path):
    out = tmp_path / "result.tar.gz"
    result = api.run("invoke", str(dog), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert StandInApi.seen[0][2]["Accept"] == "application/gzip"
    assert gzip.decompress(out.read_bytes())  # the archive as answered
    base = api.outputs["apiUrl"].rsplit("/v1", 1)[0]
    links = {name: f"{base}/links/{file}" for name, file in (("image", RESULT_IMAGE), ("json", RESULT_JSON))}
    StandInApi.answers["detect"] = (200, {"status": "stored", "links": links, "request_id": "r-2"})
    stored = tmp_path / "stored.tar.gz"
    assert api.run("invoke", str(dog), "-o", str(stored)).exit_code == 0
    with tarfile.open(stored) as tar:
        assert sorted(tar.getnames()) == sorted([RESULT_IMAGE, RESULT_JSON])


def test_async_prints_the_request_and_wait_polls_until_200(api, dog):
    queued = api.run("invoke", str(dog), "-a")
    assert queued.exit_code == 0 and f"request id: {ASYNC_ID}" in queued.stdout
    assert StandInApi.seen[0][2]["X-Amz-Invocation-Type"] == "Event"
    waited = api.run("invoke", str(dog), "-a", "--wait")
    assert waited.exit_code == 0, waited.output
    assert "dog: 57%" in waited.stdout
    assert [s[1] for s in StandInApi.seen if s[0] == "GET"] == [f"/v1/results/{ASYNC_ID}"] * 3


def test_a_result_that_never_comes_exits_1(api, dog):
    StandInApi.pending_polls = 10**6
    result = api.run("invoke", str(dog), "-a", "--wait", "--timeout", "0.5")
    assert result.exit_code == 1
    assert "no result within 0.5 s" in result.stderr


def test_a_large_file_goes_through_uploads_by_itself(api, tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "SYNC_BODY_LIMIT_BYTES", 1000)
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg(400, 300) + b"\0" * 2000)
    result = api.run("invoke", str(big))
    assert result.exit_code == 0, result.output
    assert [s[1] for s in StandInApi.seen][:2] == ["/v1/uploads", "/s3"]
    assert json.loads(StandInApi.seen[0][3]) == {"filename": "big.jpg", "content_type": "image/jpeg"}
    assert big.read_bytes() in StandInApi.seen[1][3]  # the form's file
    assert "dog: 57%" in result.stdout


def test_a_text_file_gets_the_apis_415_message_and_exit_1(api, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = api.run("invoke", str(notes))
    assert result.exit_code == 1
    assert result.stderr == (
        "darknet-lambda: the API rejected it (415): the body is not an image: send JPEG, PNG, ...\n"
    )
    assert StandInApi.seen[0][2]["Content-Type"] == "application/octet-stream"


def test_api_key_mode_sends_the_given_key_and_a_refusal_is_exit_2(api, dog, monkeypatch):
    api.write(apiAuthorization="api_key", apiKeyId="k1")
    StandInApi.answers["detect"] = (403, {"message": "Forbidden"})
    result = api.run("--api-key", "wrong", "invoke", str(dog))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "darknet-lambda: the API refused the request (403): Forbidden (check the API key"
    )
    assert StandInApi.seen[0][2]["x-api-key"] == "wrong"
    monkeypatch.setenv("DARKNET_LAMBDA_API_KEY", "from-env")
    api.run("invoke", str(dog))
    assert StandInApi.seen[1][2]["x-api-key"] == "from-env"


def test_api_key_mode_reads_the_key_from_the_stack(api, dog):
    gateway = boto3.client("apigateway", region_name="us-east-1")
    key = gateway.create_api_key(name="darknet", value="the-real-key-0123456789", enabled=True)
    api.write(apiAuthorization="api_key", apiKeyId=key["id"])
    assert api.run("invoke", str(dog)).exit_code == 0
    assert StandInApi.seen[0][2]["x-api-key"] == "the-real-key-0123456789"


def test_iam_mode_signs_with_sigv4_for_execute_api(api, dog):
    api.write(apiAuthorization="iam")
    assert api.run("invoke", str(dog)).exit_code == 0
    authorization = StandInApi.seen[0][2]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")  # the caller's own key
    assert "/us-east-1/execute-api/aws4_request" in authorization
    assert "X-Amz-Date" in StandInApi.seen[0][2]
