"""The local Lambda client is honest: one request is one invocation, and failures fail the test."""

from __future__ import annotations

import json
import platform
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import local_lambda
import pytest
from local_lambda import FunctionError, LocalLambda, free_port


class Emulator:
    """A stand-in for the emulator's Invoke endpoint answering a fixed status, headers and body."""

    def __init__(self, port: int, status: int, body: dict, headers: dict | None = None) -> None:
        self.calls = 0
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                emulator.calls += 1
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def port() -> int:
    return free_port()


def test_a_5xx_is_raised_at_once_never_retried(port):
    emulator = Emulator(port, 502, {"message": "Internal server error"})
    try:
        with pytest.raises(FunctionError, match="HTTP 502"):
            LocalLambda(port=port).invoke({})
        assert emulator.calls == 1
    finally:
        emulator.close()


@pytest.mark.parametrize(
    "body,headers",
    [
        ({"errorType": "Runtime.ExitError", "errorMessage": "exit status 137"}, {}),
        ({"errorMessage": "boom"}, {"X-Amz-Function-Error": "Unhandled"}),
    ],
)
def test_a_function_error_fails_the_caller_after_one_invocation(port, body, headers):
    emulator = Emulator(port, 200, body, headers)
    try:
        with pytest.raises(FunctionError, match="the function failed"):
            LocalLambda(port=port).invoke({})
        assert emulator.calls == 1
    finally:
        emulator.close()


def test_connection_refused_while_starting_is_waited_out(port):
    starter = threading.Timer(0.3, lambda: started.append(Emulator(port, 200, {"ok": True})))
    started: list[Emulator] = []
    starter.start()
    try:
        assert LocalLambda(port=port).invoke({}) == {"ok": True}
        assert started[0].calls == 1
    finally:
        starter.join()
        for emulator in started:
            emulator.close()


def test_once_the_emulator_has_answered_a_refused_connection_is_an_error(port):
    emulator = Emulator(port, 200, {"ok": True})
    function = LocalLambda(port=port)
    assert function.invoke({}) == {"ok": True}
    emulator.close()
    with pytest.raises(FunctionError, match="invoke failed"):
        function.invoke({})


@pytest.fixture
def wheelhouse(tmp_path, monkeypatch):
    """Where the emulator comes from (the aws-sam-cli wheel) and where it is copied to, both temporary."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setattr(local_lambda, "EMULATOR_WHEELS", wheels)
    monkeypatch.setattr(local_lambda, "EMULATOR_FOLDER", tmp_path / "rie")
    return wheels


def test_the_emulator_is_copied_out_of_the_wheel_for_this_architecture_once(wheelhouse):
    machine = {"aarch64": "arm64"}.get(platform.machine(), platform.machine())
    with zipfile.ZipFile(wheelhouse / "aws_sam_cli-1.0.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"samcli/local/rapid/aws-lambda-rie-{machine}", b"emulator for this machine")
        wheel.writestr("samcli/local/rapid/aws-lambda-rie-other", b"another architecture's")
    binary = local_lambda.emulator()
    assert binary.read_bytes() == b"emulator for this machine"
    assert binary.stat().st_mode & 0o111, "executable"
    assert local_lambda.emulator() == binary
    assert sorted(p.name for p in binary.parent.iterdir()) == [binary.name], "no partial copy left"


def test_without_the_wheel_the_emulator_points_to_make_image(wheelhouse):
    with pytest.raises(FileNotFoundError, match=r"`make image` downloads it"):
        local_lambda.emulator()


def test_the_warm_invoker_sends_one_invocation_per_call_and_returns_each_answer(port):
    emulator = Emulator(port, 200, {"statusCode": 200, "body": "{}"})
    try:
        call = LocalLambda(port=port).invoker({"path": "/detect"})  # not started: the published port
        assert [call() for _ in range(3)] == [{"statusCode": 200, "body": "{}"}] * 3
        assert emulator.calls == 3
    finally:
        emulator.close()


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        (502, {"message": "Internal server error"}, None, "HTTP 502"),
        (200, {"errorType": "Runtime.ExitError"}, {"X-Amz-Function-Error": "Unhandled"}, "function failed"),
    ],
)
def test_the_warm_invoker_raises_as_invoke_does(port, status, body, headers, message):
    emulator = Emulator(port, status, body, headers)
    try:
        with pytest.raises(FunctionError, match=message):
            LocalLambda(port=port).invoker({})()
        assert emulator.calls == 1
    finally:
        emulator.close()
