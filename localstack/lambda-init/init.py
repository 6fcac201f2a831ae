#!/usr/bin/python3
"""LocalStack's Lambda init for images that run AWS's Runtime Interface Emulator (RIE) outside Lambda.

LocalStack starts every function container with this file as its entrypoint (it copies it to
/var/rapid/init) and the image's own entrypoint and command as arguments (the executor plugin
passes them). It adds no runtime of its own: it starts the image's entrypoint with
AWS_LAMBDA_RUNTIME_API unset, so the image runs AWS's RIE around its runtime client, and
translates between LocalStack's init contract and the RIE's invoke endpoint. Timeouts, handler
errors and the Runtime API are therefore exactly AWS's emulator's.

Contract with LocalStack (localstack/services/lambda_/invocation/executor_endpoint.py):
  - POST {LOCALSTACK_RUNTIME_ENDPOINT}/status/{LOCALSTACK_RUNTIME_ID}/ready once the RIE listens,
    or .../error if the image's entrypoint exits first;
  - serve POST :9563/invoke {"invoke-id", "payload", "trace-id", ...} and answer 200 at once;
  - then POST {"logs": ...} to {endpoint}/invocations/{invoke-id}/logs and the function's result
    to .../response, or its error to .../error.

Standard library only: it runs on the image's python3 (by its path: the image has no /usr/bin/env). The
image does not carry the RIE: the executor plugin mounts the host's copy where its entrypoint looks.
"""

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

INVOKE_PORT = 9563
RIE_PORT = 8080
RIE_INVOKE_URL = f"http://127.0.0.1:{RIE_PORT}/2015-03-31/functions/function/invocations"
RIE_STARTUP_SECONDS = 30
# The RIE enforces the function's timeout itself; this only bounds a wedged emulator.
RIE_GRACE_SECONDS = 30
TIMEOUT_PREFIX = b"Task timed out after"


def post(url: str, body: bytes, timeout: float = 30) -> None:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


class LogTap:
    """Copies the emulator's output to the container log and keeps what one invocation printed."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()
        self._lines: list[str] = []

    def pump(self) -> None:
        for raw in iter(self._stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            sys.stdout.write(line)
            sys.stdout.flush()
            with self._lock:
                self._lines.append(line)

    def take(self) -> str:
        with self._lock:
            lines, self._lines = self._lines, []
        return "".join(lines)


def function_error(body: bytes) -> dict | None:
    """The error the RIE reported for an invocation, or None when the function succeeded."""
    if body.startswith(TIMEOUT_PREFIX):
        return {"errorType": "Sandbox.Timedout", "errorMessage": body.decode("utf-8", "replace")}
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict) and {"errorType", "errorMessage"} <= parsed.keys() and len(parsed) <= 4:
        return parsed
    return None


class Invoker:
    """Serialises invocations (one at a time, as in Lambda) through the RIE."""

    def __init__(self, endpoint: str, logs: LogTap, timeout_seconds: float):
        self._endpoint = endpoint
        self._logs = logs
        self._timeout = timeout_seconds + RIE_GRACE_SECONDS
        self._lock = threading.Lock()

    def run(self, invocation: dict) -> None:
        invoke_id = invocation["invoke-id"]
        with self._lock:
            self._logs.take()
            request = urllib.request.Request(
                RIE_INVOKE_URL, data=invocation.get("payload", "").encode(), method="POST"
            )
            if invocation.get("trace-id"):
                request.add_header("X-Amzn-Trace-Id", invocation["trace-id"])
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    body = response.read()
                error = function_error(body)
            except urllib.error.HTTPError as failure:
                body = failure.read()
                error = {"errorType": "Runtime.ExitError", "errorMessage": body.decode("utf-8", "replace")}
            except OSError as failure:
                error = {"errorType": "Runtime.Unavailable", "errorMessage": str(failure)}
            time.sleep(0.05)  # let the emulator's last log lines reach the tap
            base = f"{self._endpoint}/invocations/{invoke_id}"
            post(f"{base}/logs", json.dumps({"logs": self._logs.take()}).encode())
            if error is None:
                post(f"{base}/response", body)
            else:
                post(f"{base}/error", json.dumps(error).encode())


def invocation_server(invoker: Invoker) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            invocation = json.loads(self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            threading.Thread(target=invoker.run, args=(invocation,), daemon=True).start()

        def log_message(self, *_):
            pass

    return http.server.ThreadingHTTPServer(("0.0.0.0", INVOKE_PORT), Handler)


def wait_for_rie(emulator: subprocess.Popen) -> str | None:
    """None once the RIE accepts connections, else why it never will."""
    deadline = time.monotonic() + RIE_STARTUP_SECONDS
    while time.monotonic() < deadline:
        if emulator.poll() is not None:
            return f"image entrypoint exited with code {emulator.returncode} before the RIE listened"
        try:
            socket.create_connection(("127.0.0.1", RIE_PORT), timeout=1).close()
            return None
        except OSError:
            time.sleep(0.05)
    return f"RIE did not listen on port {RIE_PORT} within {RIE_STARTUP_SECONDS} s"


def forward_sigterm(emulator: subprocess.Popen) -> None:
    """This init is PID 1 of the function's container, where an unhandled SIGTERM is ignored: pass
    it on, so that LocalStack stops a container at once instead of waiting out the stop timeout."""
    signal.signal(signal.SIGTERM, lambda *_: emulator.terminate())


def main() -> int:
    if len(sys.argv) < 2:
        print("init: usage: init IMAGE_ENTRYPOINT [ARGS...]", file=sys.stderr)
        return 2
    endpoint = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
    runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]
    environment = {key: value for key, value in os.environ.items() if key != "AWS_LAMBDA_RUNTIME_API"}
    emulator = subprocess.Popen(
        sys.argv[1:],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    forward_sigterm(emulator)
    logs = LogTap(emulator.stdout)
    threading.Thread(target=logs.pump, daemon=True).start()
    problem = wait_for_rie(emulator)
    if problem:
        post(f"{endpoint}/status/{runtime_id}/error", json.dumps({"errorMessage": problem}).encode())
        return 1
    invoker = Invoker(endpoint, logs, float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "900")))
    server = invocation_server(invoker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    post(f"{endpoint}/status/{runtime_id}/ready", b"{}")
    return emulator.wait()


if __name__ == "__main__":
    sys.exit(main())
