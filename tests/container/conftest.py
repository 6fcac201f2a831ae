"""Fixtures for the container suite: the BUILT image under AWS's Runtime Interface Emulator, S3 from moto.

Every container runs read-only as Lambda runs it and reaches the servers started here over docker's
bridge. Containers are session-scoped (one per configuration) and reused, so warm invocations are
tested as Lambda reuses them. A missing Docker engine or image fails the suite loudly: it never skips.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from local_lambda import (
    DEFAULT_IMAGE,
    LocalLambda,
    docker_bridge_address,
    files_from_image,
    free_port,
)

from darknet_detector.contract import reference_tag

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    pytest.fail(f"nothing listens on {host}:{port} after {timeout} s", pytrace=False)


def built_image(image: str) -> str:
    """The tag, once Docker and the image are there; fails (never skips) when either is missing."""
    if shutil.which("docker") is None:
        pytest.fail("docker is not installed: the container tests need the built image", pytrace=False)
    inspected = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, text=True, timeout=60, check=False
    )
    if inspected.returncode != 0:
        pytest.fail(
            f"image {image} is not built: run `make image` first, which builds it "
            f"(docker image inspect: {inspected.stderr.strip()})",
            pytrace=False,
        )
    return image


@pytest.fixture(scope="session")
def detector_image() -> str:
    """The image tag under test, the default image (onnx engine)."""
    return built_image(DEFAULT_IMAGE)


@pytest.fixture(scope="session")
def reference_image(detector_image: str) -> str:
    """Its reference variant, which adds Darknet's CLI and the weights: the darknet engine runs there."""
    return built_image(reference_tag(detector_image))


@pytest.fixture(scope="session")
def bridge_address(detector_image: str) -> str:
    """The host's address on docker's bridge: servers bound here are reachable from the containers."""
    return docker_bridge_address()


@dataclass
class MotoEndpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="session")
def moto_endpoint(bridge_address: str) -> Iterator[MotoEndpoint]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=bridge_address, port=port, verbose=False)
    server.start()
    wait_for_port(bridge_address, port)
    yield MotoEndpoint(bridge_address, port)
    server.stop()


@pytest.fixture(scope="session")
def s3(moto_endpoint: MotoEndpoint):
    """A boto3 S3 client on the host, talking to the same moto server as the containers."""
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint.url,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="session")
def bucket(s3) -> str:
    name = f"detector-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def lambda_env(moto_endpoint: MotoEndpoint, bucket: str) -> dict[str, str]:
    """The environment every test container gets: S3 is moto's server, outputs go to the bucket."""
    return {"AWS_ENDPOINT_URL_S3": moto_endpoint.url, "OUTPUT_BUCKET": bucket, **CREDENTIALS}


def _running(image: str, env: dict[str, str], memory_mb: int | None = None) -> LocalLambda:
    function = LocalLambda(image=image, env=env, memory_mb=memory_mb)
    try:
        function.start()
        function.wait_ready(timeout=60)
    except (subprocess.CalledProcessError, TimeoutError) as error:
        function.stop()
        details = getattr(error, "stderr", "") or ""
        pytest.fail(f"the Lambda container did not start: {error} {details}", pytrace=False)
    return function


@pytest.fixture(scope="session")
def lambda_onnx(detector_image: str, lambda_env: dict[str, str]) -> Iterator[LocalLambda]:
    """The image as configured by default (ONNX Runtime engine)."""
    function = _running(detector_image, lambda_env)
    yield function
    function.stop()


# The smallest memory the project deploys with: large photos must fit it.
SMALL_FUNCTION_MB = 1024


@pytest.fixture(scope="session")
def lambda_1024(detector_image: str, lambda_env: dict[str, str]) -> Iterator[LocalLambda]:
    """The default image in a 1024 MB container, told its memory size as Lambda tells it."""
    function = _running(detector_image, lambda_env, memory_mb=SMALL_FUNCTION_MB)
    yield function
    function.stop()


# The size prod deploys (Pulumi.prod.yaml): the same photo must get the same answer there as at 1024 MB.
LARGE_FUNCTION_MB = 3538


@pytest.fixture(scope="session")
def lambda_3538(detector_image: str, lambda_env: dict[str, str]) -> Iterator[LocalLambda]:
    """The default image in a 3538 MB container, told its memory size as Lambda tells it."""
    function = _running(detector_image, lambda_env, memory_mb=LARGE_FUNCTION_MB)
    yield function
    function.stop()


@pytest.fixture(scope="session")
def lambda_darknet(reference_image: str, lambda_env: dict[str, str]) -> Iterator[LocalLambda]:
    """The reference variant running the Darknet binary itself."""
    function = _running(reference_image, {**lambda_env, "DETECTOR_ENGINE": "darknet"})
    yield function
    function.stop()


@pytest.fixture(scope="session", params=["onnx", "darknet"])
def any_engine(request) -> tuple[str, LocalLambda]:
    """Each engine's container in turn: (engine name, running function)."""
    return request.param, request.getfixturevalue(f"lambda_{request.param}")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeLambdaApi:
    """A stand-in for Lambda's Invoke API: answers 202 as Invoke does for InvocationType=Event."""

    host: str
    port: int
    requests: list[RecordedRequest] = field(default_factory=list)
    received: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[RecordedRequest]:
        with self.received:
            if not self.received.wait_for(lambda: len(self.requests) >= count, timeout=timeout):
                pytest.fail(f"expected {count} Invoke call(s) within {timeout} s, got {len(self.requests)}")
            return list(self.requests)


@pytest.fixture(scope="session")
def fake_lambda_api(bridge_address: str) -> Iterator[FakeLambdaApi]:
    api = FakeLambdaApi(bridge_address, free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with api.received:
                api.requests.append(
                    RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                api.received.notify_all()
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((bridge_address, api.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def lambda_async(
    detector_image: str, lambda_env: dict[str, str], fake_lambda_api: FakeLambdaApi
) -> Iterator[LocalLambda]:
    """A container whose Lambda client reaches the recording Invoke API instead of AWS."""
    function = _running(detector_image, {**lambda_env, "AWS_ENDPOINT_URL_LAMBDA": fake_lambda_api.url})
    yield function
    function.stop()


@pytest.fixture(scope="session")
def samples(detector_image: str, tmp_path_factory) -> Path:
    """The sample images shipped in the image (/opt/darknet/data/*.jpg), copied out to a folder."""
    folder = tmp_path_factory.mktemp("samples")
    files_from_image(detector_image, "/opt/darknet/data", "*.jpg", folder)
    assert (folder / "dog.jpg").is_file(), sorted(p.name for p in folder.iterdir())
    return folder


@pytest.fixture(scope="session")
def dog_jpg(samples: Path) -> bytes:
    return (samples / "dog.jpg").read_bytes()


@pytest.fixture
def bucket_keys(s3, bucket: str) -> Callable[[str], set[str]]:
    """Every key in the bucket (under a prefix)."""

    def keys(prefix: str = "") -> set[str]:
        found: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update(item["Key"] for item in page.get("Contents", []))
        return found

    return keys


@pytest.fixture
def read_json(s3, bucket: str) -> Callable[[str], dict]:
    def read(key: str) -> dict:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    return read


# yolov3-tiny on dog.jpg as Darknet itself reports it; every value is allowed 2 points either way.
DOG_EXPECTED = {"dog": [0.565], "car": [0.52, 0.62], "truck": [0.555], "bicycle": [0.59]}
DOG_SIZE = (768, 576)
TOLERANCE = 0.02


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a real PNG: its signature, then an IHDR chunk; PIL must decode it."""
    from PIL import Image

    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    assert data[12:16] == b"IHDR", data[:32]
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "PNG"
        return image.size


def check_dog_detections(detections: list[dict]) -> None:
    """Classes and confidences of dog.jpg match Darknet's (within 2 points), boxes are in the image."""
    found: dict[str, list[float]] = {}
    for detection in detections:
        assert set(detection) >= {"class", "confidence", "box"}, detection
        box = detection["box"]
        assert 0 <= box["left"] < box["right"] <= DOG_SIZE[0], detection
        assert 0 <= box["top"] < box["bottom"] <= DOG_SIZE[1], detection
        found.setdefault(detection["class"], []).append(detection["confidence"])
    assert sorted(found) == sorted(DOG_EXPECTED), found
    for label, expected in DOG_EXPECTED.items():
        got = sorted(found[label])
        assert len(got) == len(expected), (label, got)
        for value, wanted in zip(got, expected, strict=True):
            assert abs(value - wanted) <= TOLERANCE, f"{label}: {value:.4f}, Darknet gives {wanted:.3f}"


def check_result_out(text: str) -> None:
    """Darknet's stdout: '<image>: Predicted in X seconds.' then one 'class: NN%' line per detection."""
    import re

    lines = text.splitlines()
    assert re.fullmatch(r".+: Predicted in \d+(\.\d+)? seconds\.", lines[0]), lines[0]
    classes = []
    for line in lines[1:]:
        match = re.fullmatch(r"([a-z][a-z ]*): (\d{1,3})%", line)
        assert match, line
        classes.append(match.group(1))
        label, percent = match.group(1), int(match.group(2)) / 100
        assert any(abs(percent - v) <= TOLERANCE + 0.01 for v in DOG_EXPECTED[label]), line
    assert sorted(classes) == sorted(c for c, values in DOG_EXPECTED.items() for _ in values), classes


@pytest.fixture(scope="session")
def dog_checks() -> dict[str, Callable]:
    """The assertions on dog.jpg's results, shared by the S3 and HTTP tests."""
    return {
        "detections": check_dog_detections,
        "result_out": check_result_out,
        "png_size": png_size,
        "size": DOG_SIZE,
    }
