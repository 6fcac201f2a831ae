"""Run the Lambda image locally under AWS's Runtime Interface Emulator and invoke it.

Shared by `make detect`, `make bench` and tests/container: the container starts as Lambda
starts it (non-root, read-only root file system, writable /tmp), optionally with a CPU and
memory limit, and answers POST /2015-03-31/functions/function/invocations like Lambda's Invoke.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import platform
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from darknet_detector.contract import DEFAULT_IMAGE_TAG

# The image `make image` builds: IMAGE_TAG as the Makefile exports it, or the default model's tag.
DEFAULT_IMAGE = os.environ.get("IMAGE_TAG") or DEFAULT_IMAGE_TAG
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
EMULATOR_PORT = 8080  # where the emulator listens inside the container
# While the emulator starts, docker's port proxy refuses, resets or closes connections it cannot forward.
NOT_LISTENING_YET = (
    ConnectionRefusedError,
    ConnectionResetError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
)
STARTUP_SECONDS = 30
CONTAINER = Path(__file__).resolve().parents[1]
# AWS's Runtime Interface Emulator: in the aws-sam-cli wheel `make image` keeps in the wheelhouse, copied
# out once and mounted where the image's entrypoint looks for it (the image itself does not carry it).
EMULATOR_WHEELS = CONTAINER / "cache" / "wheels"
EMULATOR_FOLDER = CONTAINER.parent / ".cache" / "rie"
EMULATOR_IN_CONTAINER = "/usr/local/bin/aws-lambda-rie"
# The container's high-water mark of memory, where each cgroup version keeps it (page cache included).
PEAK_MEMORY_FILES = (
    ("/sys/fs/cgroup/memory.peak", "cgroup v2 memory.peak"),
    ("/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "cgroup v1 memory.max_usage_in_bytes"),
)
# The CPU time the container's processes have used, and in what unit each cgroup version counts it: v2's
# cpu.stat starts with "usage_usec N", v1's cpuacct.usage is one number of nanoseconds.
CPU_USAGE_FILES = (("/sys/fs/cgroup/cpu.stat", 1e-6), ("/sys/fs/cgroup/cpuacct/cpuacct.usage", 1e-9))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def docker_bridge_address() -> str:
    """The host's address on docker's bridge: where containers reach servers the host runs."""
    gateway = subprocess.run(
        ["docker", "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return gateway or "172.17.0.1"


def copied_out(image: str, path: str, timeout: int = 300) -> tarfile.TarFile:
    """A tar of an image's file or folder, copied from a container created but never started: nothing in
    the image runs, so it works for the runtime (no shell tools) and the build stages (no Python) alike."""
    created = subprocess.run(
        ["docker", "create", image], capture_output=True, text=True, check=True, timeout=timeout
    ).stdout.strip()
    try:
        copied = subprocess.run(
            ["docker", "cp", f"{created}:{path}", "-"], capture_output=True, check=False, timeout=timeout
        )
    finally:
        subprocess.run(["docker", "rm", created], capture_output=True, check=False, timeout=timeout)
    if copied.returncode != 0:
        raise RuntimeError(f"could not copy {path} out of {image}: {copied.stderr.decode()[-2000:]}")
    return tarfile.open(fileobj=io.BytesIO(copied.stdout))


def file_from_image(image: str, path: str) -> bytes:
    """One file's bytes out of an image."""
    with copied_out(image, path) as archive:
        member = archive.next()
        extracted = archive.extractfile(member) if member is not None else None
        if extracted is None:
            raise FileNotFoundError(f"{image}: {path} is not a file")
        return extracted.read()


def files_from_image(image: str, folder: str, pattern: str, destination: Path, timeout: int = 300) -> Path:
    """The files of an image's folder that pattern matches, copied into destination."""
    with copied_out(image, folder, timeout) as archive:
        # The archive holds the folder itself: its files are the regular members one level below it.
        files = [
            member
            for member in archive.getmembers()
            if member.isfile() and member.name.count("/") == 1 and fnmatch(member.name.split("/")[1], pattern)
        ]
        for member in files:
            member.name = member.name.split("/")[1]
        archive.extractall(destination, members=files, filter="data")
    return destination


def emulator() -> Path:
    """The emulator binary for this machine's architecture, copied out of the aws-sam-cli wheel once."""
    wheels = sorted(EMULATOR_WHEELS.glob("aws_sam_cli-*.whl"))
    if not wheels:
        raise FileNotFoundError(
            f"no aws-sam-cli wheel in {EMULATOR_WHEELS}: `make image` downloads it (it carries the emulator)"
        )
    machine = {"aarch64": "arm64"}.get(platform.machine(), platform.machine())
    binary = EMULATOR_FOLDER / f"{wheels[-1].stem}-aws-lambda-rie-{machine}"
    if not binary.is_file():
        EMULATOR_FOLDER.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(binary.name + ".partial")
        with zipfile.ZipFile(wheels[-1]) as wheel:
            partial.write_bytes(wheel.read(f"samcli/local/rapid/aws-lambda-rie-{machine}"))
        partial.chmod(0o755)
        partial.replace(binary)
    return binary


class FunctionError(RuntimeError):
    """The invocation failed (function error, crash, or emulator error); carries the container's log."""

    def __init__(self, message: str, logs: str) -> None:
        super().__init__(f"{message}\n--- container log ---\n{logs[-4000:]}")
        self.logs = logs


@dataclass
class LocalLambda:
    image: str = DEFAULT_IMAGE
    env: dict[str, str] = field(default_factory=dict)
    cpus: float | None = None
    memory_mb: int | None = None
    port: int = field(default_factory=free_port)
    container_id: str | None = None
    # Host folder -> path in the container, mounted read-only (e.g. a model directory for timing).
    volumes: dict[str, str] = field(default_factory=dict)
    # The handler to run instead of the image's CMD, as a function's ImageConfig command does.
    handler: str | None = None
    _answered: bool = field(default=False, init=False, repr=False)

    def start(self) -> LocalLambda:
        command = [
            "docker",
            "run",
            "--detach",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/tmp:rw,size=512m",
            "--publish",
            f"127.0.0.1:{self.port}:{EMULATOR_PORT}",
            "--volume",
            f"{emulator()}:{EMULATOR_IN_CONTAINER}:ro",
        ]
        if self.cpus:
            command += ["--cpus", str(self.cpus)]
        environment = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
        if self.memory_mb:
            command += ["--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m"]
            # As Lambda tells the function its memory size (the emulator would say 3008 MB).
            environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(self.memory_mb)
        for host_path, container_path in self.volumes.items():
            command += ["--volume", f"{host_path}:{container_path}:ro"]
        for name, value in {**environment, **self.env}.items():
            command += ["--env", f"{name}={value}"]
        command.append(self.image)
        if self.handler:
            command.append(self.handler)
        self.container_id = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """The emulator accepts connections as soon as it starts; wait for its port to answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(
            f"the emulator did not listen on port {self.port} within {timeout} s:\n{self.logs()}"
        )

    def invoke(self, event: dict, timeout: float = 300.0) -> dict:
        """One invocation, answered by the function: its result, or FunctionError.

        Only a connection that never reached the emulator (refused, reset or closed by docker's port
        proxy before the emulator listens) is tried again, and only until this container first answers: an
        HTTP error or a function error is never retried, so one request is one invocation.
        """
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data=json.dumps(event).encode(), method="POST"
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    self._answered = True
                    function_error = response.headers.get("X-Amz-Function-Error")
                    result = json.loads(response.read() or b"null")
                    break
            except urllib.error.HTTPError as error:
                raise FunctionError(
                    f"the emulator answered HTTP {error.code}: {error.read()[:500]!r}", self.logs()
                ) from None
            except (urllib.error.URLError, ConnectionError, http.client.RemoteDisconnected) as error:
                reason = getattr(error, "reason", error)
                starting = not self._answered and isinstance(reason, NOT_LISTENING_YET)
                if not starting or time.monotonic() > deadline:
                    raise FunctionError(f"invoke failed: {error}", self.logs()) from error
                time.sleep(0.005)
        return self._checked(result, function_error)

    def invoker(self, event: dict, timeout: float = 300.0) -> Callable[[], dict]:
        """Repeated invocations of one event by a lean client, for warm timings of an answering container.

        The body is encoded once and sent over one kept-alive connection to the container's address on
        docker's bridge (the published port's proxy would copy each 0.2 MB request once more; it is used
        where the bridge address is not known): what is timed is the emulator and the function, as little
        of the client as a client can be. Errors are raised as invoke raises them.
        """
        body = json.dumps(event).encode()
        address = self.bridge_address()
        connection = (
            http.client.HTTPConnection(address, EMULATOR_PORT, timeout=timeout)
            if address
            else http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        )

        def call() -> dict:
            connection.request("POST", INVOKE_PATH, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                raise FunctionError(
                    f"the emulator answered HTTP {response.status}: {payload[:500]!r}", self.logs()
                )
            return self._checked(json.loads(payload or b"null"), response.getheader("X-Amz-Function-Error"))

        return call

    def bridge_address(self) -> str | None:
        """The container's IP address on docker's default bridge, or None (another network, not started)."""
        if not self.container_id:
            return None
        done = subprocess.run(
            ["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", self.container_id],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None

    def _checked(self, result, function_error: str | None):
        if function_error or (isinstance(result, dict) and "errorType" in result):
            raise FunctionError(f"the function failed: {result}", self.logs())
        return result

    def logs(self) -> str:
        if not self.container_id:
            return ""
        done = subprocess.run(
            ["docker", "logs", self.container_id], capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def _first_number(self, path: str) -> int | None:
        """The first number on a cgroup file's first line ("N" or "key N"), read by the container's shell
        with its own `read`: no other process joins the container's accounting."""
        if not self.container_id:
            return None
        done = subprocess.run(
            ["docker", "exec", self.container_id, "sh", "-c", 'read -r a b < "$0" && echo "${b:-$a}"', path],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        value = done.stdout.strip()
        return int(value) if done.returncode == 0 and value.isdigit() else None

    def peak_memory(self) -> tuple[int, str] | None:
        """The container's peak memory in bytes and the cgroup file it came from (None if none is kept)."""
        for path, source in PEAK_MEMORY_FILES:
            peak = self._first_number(path)
            if peak is not None:
                return peak, source
        return None

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by all of the container's processes (None if the cgroup does not say)."""
        for path, unit in CPU_USAGE_FILES:
            used = self._first_number(path)
            if used is not None:
                return used * unit
        return None

    def stop(self) -> None:
        if self.container_id:
            subprocess.run(["docker", "rm", "--force", self.container_id], capture_output=True, check=False)
            self.container_id = None

    def __enter__(self) -> LocalLambda:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
