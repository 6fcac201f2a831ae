"""The pre-optimised graphs in the built image: right on an AVX2-only CPU, and a safe fallback otherwise.

Lambda's x86 functions are promised AVX2, not AVX-512, and a graph optimised for one NCHWc layout is wrong
on the other. The image's start-up path therefore runs here under `qemu-x86_64 -cpu Haswell` (Debian's
static qemu-user, added to a throw-away copy of the image), where it must pick the AVX2 graph and find
exactly what the plain graph finds on the same CPU, and what the image finds natively. The fallback runs
the real function with its pre-optimised graph missing, made for another layout or corrupt.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from local_lambda import LocalLambda, files_from_image

from darknet_detector.building.parity import compare
from darknet_detector.contract import DEFAULT_MODEL
from darknet_detector.core.detection import Detection

pytestmark = pytest.mark.docker

MODEL = DEFAULT_MODEL
PROBE = Path(__file__).with_name("startup_probe.py")
FALLBACK_LOG = "pre-optimised graph not used, optimising the plain graph"
QEMU = "/usr/local/bin/qemu-x86_64-static"
# Debian's static qemu-user, copied into the image under test (which has no package tooling).
HASWELL_DOCKERFILE = """\
FROM debian:bookworm-slim AS qemu
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
FROM {image}
COPY --from=qemu /usr/bin/qemu-x86_64-static {qemu}
"""
EMULATION_TIMEOUT_SECONDS = 900


def probe(image: str, dog_folder: Path, *emulator: str) -> dict:
    """startup_probe.py on dog.jpg in a read-only, network-less container of the image (under emulator)."""
    command = ["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--network", "none"]
    command += ["--volume", f"{PROBE}:/probe/startup_probe.py:ro", "--volume", f"{dog_folder}:/samples:ro"]
    python = ["python3"] if not emulator else [*emulator, "/usr/bin/python3"]
    command += ["--entrypoint", python[0], image, *python[1:], "/probe/startup_probe.py", "/samples/dog.jpg"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=EMULATION_TIMEOUT_SECONDS, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def readable_by_the_function(folder: Path) -> Path:
    """The image runs as an unprivileged user: a folder mounted into it must be world-readable."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def dog_folder(samples: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dog")
    (folder / "dog.jpg").write_bytes((samples / "dog.jpg").read_bytes())
    return readable_by_the_function(folder)


@pytest.fixture(scope="module")
def haswell_image(detector_image: str) -> str:
    tag = f"{detector_image}-haswell"
    built = subprocess.run(
        ["docker", "build", "--quiet", "--tag", tag, "-"],
        input=HASWELL_DOCKERFILE.format(image=detector_image, qemu=QEMU),
        capture_output=True,
        text=True,
        timeout=EMULATION_TIMEOUT_SECONDS,
        check=False,
    )
    assert built.returncode == 0, (
        f"could not add qemu-user-static to {detector_image}:\n{built.stderr[-3000:]}"
    )
    yield tag
    subprocess.run(["docker", "image", "rm", tag], capture_output=True, check=False)


@pytest.fixture(scope="module")
def native(detector_image: str, dog_folder: Path) -> dict:
    return probe(detector_image, dog_folder)


def detections(run: dict) -> list[Detection]:
    return [Detection(**detection) for detection in run["detections"]]


def test_on_an_avx2_only_cpu_the_avx2_graph_finds_exactly_what_the_plain_graph_does(
    haswell_image, dog_folder, native
):
    emulated = probe(haswell_image, dog_folder, QEMU, "-cpu", "Haswell")

    assert emulated["nchwc_block_size"] == 8
    preoptimised, plain = emulated["runs"]["pre-optimised"], emulated["runs"]["plain"]
    assert preoptimised["preoptimised"] and not plain["preoptimised"]
    assert preoptimised["detections"] == plain["detections"]
    assert preoptimised["result_lines"] == plain["result_lines"] == native["runs"]["plain"]["result_lines"]
    verdict = compare("dog.jpg", detections(native["runs"]["plain"]), detections(preoptimised))
    assert verdict.passed, verdict.problems


def test_natively_the_image_starts_from_its_graph_for_this_cpu(native):
    preoptimised, plain = native["runs"]["pre-optimised"], native["runs"]["plain"]
    assert preoptimised["preoptimised"] and not plain["preoptimised"]
    assert preoptimised == {**plain, "preoptimised": True}


@pytest.fixture(scope="module")
def image_model_dir(detector_image: str, tmp_path_factory) -> Path:
    """The image's /opt/model, copied out."""
    return files_from_image(detector_image, "/opt/model", "*", tmp_path_factory.mktemp("model"))


def graph_files(model_dir: Path, native: dict) -> tuple[Path, Path]:
    """The pre-optimised graph the image loads natively, and its facts, in a copy of the model directory."""
    graph = model_dir / f"{MODEL}.x86_64-nchwc{native['nchwc_block_size']}.onnx"
    return graph, graph.with_suffix(".json")


def missing(graph: Path, facts: Path) -> None:
    graph.unlink()


def other_layout(graph: Path, facts: Path) -> None:
    recorded = json.loads(facts.read_text())
    facts.unlink()
    facts.write_text(json.dumps({**recorded, "nchwc_block_size": 24}))


def corrupt(graph: Path, facts: Path) -> None:
    size = graph.stat().st_size
    graph.unlink()
    graph.write_bytes(b"\xff" * size)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (missing, "no pre-optimised graph for this CPU"),
        (other_layout, "was made for another set-up: nchwc_block_size 24"),
        (corrupt, "could not be loaded"),
    ],
)
def test_without_a_usable_graph_the_function_optimises_the_plain_one_finds_the_same_and_says_so(
    detector_image, native, image_model_dir, lambda_env, api_event, dog_jpg, tmp_path, damage, reason
):
    damaged = tmp_path / "model"
    damaged.mkdir()
    for path in image_model_dir.iterdir():
        os.link(path, damaged / path.name)  # each damage replaces a file rather than write through a link
    damage(*graph_files(damaged, native))
    readable_by_the_function(damaged)

    function = LocalLambda(
        image=detector_image,
        env={**lambda_env, "DETECTOR_MODEL_DIR": "/opt/damaged-model"},
        volumes={str(damaged): "/opt/damaged-model"},
    )
    try:
        function.start()
        function.wait_ready(timeout=60)
        response = function.invoke(api_event(dog_jpg))
        logs = function.logs()
    finally:
        function.stop()

    assert response["statusCode"] == 200, response
    document = json.loads(response["body"])
    found = [
        Detection(
            d["class"], d["confidence"], *(d["box"][side] for side in ("left", "top", "right", "bottom"))
        )
        for d in document["detections"]
    ]
    verdict = compare("dog.jpg", detections(native["runs"]["plain"]), found)
    assert verdict.passed, verdict.problems
    assert [d.as_dict()["box"] for d in found] == [
        d.as_dict()["box"] for d in detections(native["runs"]["plain"])
    ]
    fallback_lines = [line for line in logs.splitlines() if FALLBACK_LOG in line]
    assert len(fallback_lines) == 1, logs[-3000:]
    assert reason in fallback_lines[0]
    assert document["result_out"].splitlines()[1:] == native["runs"]["plain"]["result_lines"]
