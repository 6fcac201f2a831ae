"""Inside the built images: the ONNX engine reports what the Darknet binary reports, on every sample image.

Runs darknet_detector.building.parity in the reference variant (the default image plus Darknet's CLI and the
weights), which calls both engines; nothing here compares against stored numbers. Needs Docker and the built
images, and fails (never skips) when either is missing.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess

import pytest
from local_lambda import DEFAULT_IMAGE

from darknet_detector.contract import DEFAULT_MODEL, reference_tag

pytestmark = pytest.mark.docker

IMAGE = DEFAULT_IMAGE
REFERENCE_IMAGE = reference_tag(DEFAULT_IMAGE)
SAMPLES = ["dog", "eagle", "giraffe", "horses", "person", "kite", "scream"]
# An image for another CPU runs under qemu-user (`make parity ARCH=arm64`); QEMU then emulates the CPU
# Lambda runs that architecture on, so that ONNX Runtime picks the kernels it would pick there: Graviton2
# (no SVE, no bf16), not QEMU's default CPU with every feature it knows.
EMULATED_CPU = {"arm64": "neoverse-n1"}
EMULATION_SLOWDOWN = 10
HOST_ARCHITECTURE = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def run_in_image(*args: str, timeout: int = 600, image: str = IMAGE) -> subprocess.CompletedProcess:
    if shutil.which("docker") is None:
        pytest.fail("docker is not installed: the parity test needs the built image")
    inspected = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Architecture}}", image], capture_output=True, text=True
    )
    if inspected.returncode != 0:
        pytest.fail(f"image {image} is not built: run `make image` ({inspected.stderr.strip()})")
    architecture = inspected.stdout.strip()
    emulation = []
    if architecture != HOST_ARCHITECTURE:
        # QEMU translates every instruction: allow for it, and say nothing about speed.
        timeout *= EMULATION_SLOWDOWN
        if architecture in EMULATED_CPU:
            emulation = ["--env", f"QEMU_CPU={EMULATED_CPU[architecture]}"]
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", *emulation, "--entrypoint", "python3", image, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_onnx_engine_matches_darknet_on_every_sample_image():
    completed = run_in_image(
        "-m",
        "darknet_detector.building.parity",
        "--model-dir",
        "/opt/model",
        "--model",
        DEFAULT_MODEL,
        "--darknet",
        "/opt/darknet/bin/darknet",
        *(f"/opt/darknet/data/{name}.jpg" for name in SAMPLES),
        image=REFERENCE_IMAGE,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert summary["passed"] and summary["model"] == DEFAULT_MODEL
    assert [r["image"] for r in summary["images"]] == [f"/opt/darknet/data/{n}.jpg" for n in SAMPLES]
    for report in summary["images"]:
        assert report["passed"], report["problems"]
        assert report["result_text_identical"], report
    counts = {r["image"].rsplit("/", 1)[1]: r["detections"] for r in summary["images"]}
    assert counts["dog.jpg"] == 5 and counts["scream.jpg"] == 0


ENGINE_ON_BAD_INPUT = """
import pathlib, sys, tempfile
from darknet_detector.core.images import ImageDecodeError
from darknet_detector.core.source import SourceImage
from darknet_detector.core.images import ImageInfo
from darknet_detector.engines.onnx_runtime import OnnxEngine
engine = OnnxEngine(pathlib.Path("/opt/model"), "yolov3-tiny", 0.5)
work = pathlib.Path(tempfile.mkdtemp())
dog = pathlib.Path("/opt/darknet/data/dog.jpg").read_bytes()
cases = {"truncated.jpg": dog[: len(dog) // 4], "corrupt.jpg": b"\\xff\\xd8\\xff\\xe0 not a jpeg" * 50}
for name, data in cases.items():
    # Straight to the engine, past the checks that would refuse these first.
    try:
        engine.detect(SourceImage(data, ImageInfo("jpeg", 768, 576), name), work)
        print(name, "decoded")
    except ImageDecodeError as error:
        print(name, "ImageDecodeError", "path" if "/" in str(error) else "no path", error)
run = engine.detect(SourceImage.from_file(pathlib.Path("/opt/darknet/data/dog.jpg")), work)
print("alive", len(run.detections), run.annotated_png.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n")
"""


def test_unreadable_images_raise_instead_of_ending_the_process():
    """Darknet's loader calls exit() on a bad file, which would kill a warm Lambda; the engine must not."""
    completed = run_in_image("-c", ENGINE_ON_BAD_INPUT, timeout=120)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("truncated.jpg ImageDecodeError no path"), lines
    assert lines[1].startswith("corrupt.jpg ImageDecodeError no path"), lines
    assert lines[2] == "alive 5 True", lines


ENGINE_WITHOUT_DRAWING = """
import pathlib, tempfile
from darknet_detector.core.source import SourceImage
from darknet_detector.engines.onnx_runtime import OnnxEngine
engine = OnnxEngine(pathlib.Path("/opt/model"), "yolov3-tiny", 0.5)
dog = SourceImage.from_file(pathlib.Path("/opt/darknet/data/dog.jpg"))
drawn = engine.detect(dog, pathlib.Path(tempfile.mkdtemp()))
bare_folder = pathlib.Path(tempfile.mkdtemp())
bare = engine.detect(dog, bare_folder, annotate=False)
class_lines = [run.result_text.splitlines()[1:] for run in (drawn, bare)]  # after "Predicted in"
print(len(drawn.detections), bare.detections == drawn.detections, class_lines[0] == class_lines[1])
print(bare.annotated_png, sorted(p.name for p in bare_folder.iterdir()), sorted(bare.timings))
"""


def test_detections_without_the_drawn_image_are_the_same_and_write_no_png():
    """The JSON answer skips drawing and PNG encoding; what it reports must not change."""
    completed = run_in_image("-c", ENGINE_WITHOUT_DRAWING, timeout=120)
    assert completed.returncode == 0, completed.stderr
    counts, paths = completed.stdout.splitlines()
    assert counts == "5 True True"
    assert paths == "None [] ['decode_image', 'inference', 'letterbox', 'nms', 'yolo_decode']"
