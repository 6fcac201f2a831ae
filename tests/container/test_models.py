"""Every manifest model the Darknet CLI runs, and a team's own model, inside the image's build stages.

Random-weights parity runs once, in the model stage of the image already built (it has onnx, Darknet and
libdarknet), looping over the models: no image per model. The own-model test builds a real image from a
tiny cfg of three classes with weights the test generates, through `make image MODEL_DIR=...`'s script,
and detects through AWS's Lambda emulator; the build context DarknetImage stages for the same files builds
the same model. All fail (never skip) without Docker or the built image.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from local_lambda import DEFAULT_IMAGE, LocalLambda
from PIL import Image
from support import ROOT
from support.models import OWN_NAMES, write_own_model

from darknet_lambda.image import DarknetImageArgs, image_build_args, stage_own_model

pytestmark = pytest.mark.docker

MANIFEST = json.loads((ROOT / "container" / "models.json").read_text())
DARKNET_CLI_MODELS = sorted(name for name, entry in MANIFEST.items() if entry["darknet_cli"])
SAMPLES = ["/opt/darknet/data/dog.jpg", "/opt/darknet/data/person.jpg"]
NETWORK_SIZE = 320  # smaller than the cfgs' 416/608 to keep CI quick; every layer still runs


def stage_image(stage: str, image: str = DEFAULT_IMAGE) -> str:
    """The tag build-image.sh gives a build stage of image."""
    name, _, tag = image.partition(":")
    return f"{name}-stage:{stage}-{tag}"


def test_darknet_cli_models_match_darknet_with_random_weights(detector_image):
    model_stage = stage_image("model")
    completed = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", model_stage,
         "-m", "darknet_detector.building.random_parity", "--manifest", "/build/models.json", "--size",
         str(NETWORK_SIZE),
         *DARKNET_CLI_MODELS, "--images", *SAMPLES],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout)
    assert [report["model"] for report in summary["models"]] == DARKNET_CLI_MODELS
    for report in summary["models"]:
        assert report["passed"], report
        assert all(raw["max_relative_difference"] < 1e-4 for raw in report["raw"]), report["raw"]
    detections = {report["model"]: sum(report["detections_per_image"]) for report in summary["models"]}
    # Calibrated heads make both decoders ([region], [yolo]) report boxes, so NMS and order are compared.
    assert detections["yolov2"] > 0 and detections["yolov3"] > 0, detections


FORK_CFG = """[net]
batch=64
subdivisions=8
width=160
height=160
channels=3
mosaic=1

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=mish

[convolutional]
batch_normalize=1
filters=32
size=3
stride=2
pad=1
activation=leaky

[route]
layers=-1
groups=2
group_id=1

[maxpool]
size=2
stride=2

[convolutional]
size=1
stride=1
pad=1
filters=24
activation=linear

[yolo]
mask=0,1,2
anchors=12,16,40,40,90,80
classes=3
num=3
scale_x_y=1.05
iou_loss=ciou
jitter=.3
ignore_thresh=.7
nms_kind=greedynms
beta_nms=0.6
"""


@pytest.fixture(scope="module")
def own_model_folder(tmp_path_factory, samples) -> Path:
    """parts.cfg, parts.weights, parts.names: what `make image MODEL_DIR=` and `model_dir` take."""
    with Image.open(samples / "dog.jpg") as photo:
        pixels = np.asarray(photo.convert("RGB").resize((160, 160)), dtype=np.float32) / 255
    return write_own_model(
        tmp_path_factory.mktemp("parts"), FORK_CFG, calibrated_on=pixels.transpose(2, 0, 1)[None].copy()
    )


@pytest.fixture(scope="module")
def own_model_image(detector_image, own_model_folder) -> str:
    folder = own_model_folder
    name, _, _ = DEFAULT_IMAGE.partition(":")
    tag = f"{name}:own-parts"
    completed = subprocess.run(
        ["bash", str(ROOT / "container" / "scripts" / "build-image.sh")],
        env={**os.environ, "MODEL_DIR": str(folder), "IMAGE_TAG": tag, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    return tag


def test_own_model_is_built_and_detects_with_its_own_names(own_model_image, lambda_env, dog_jpg, api_event):
    function = LocalLambda(image=own_model_image, env=lambda_env)
    function.start()
    try:
        function.wait_ready(timeout=60)
        response = function.invoke(api_event(dog_jpg))
    finally:
        function.stop()
    assert response["statusCode"] == 200, response
    document = json.loads(response["body"])
    assert (document["model"], document["engine"], document["status"]) == ("parts", "onnx", "ok")
    labels = {detection["class"] for detection in document["detections"]}
    assert labels and labels <= set(OWN_NAMES), document["detections"]


OWN_MODEL_PROBE = (
    "import json, pathlib\n"
    "from darknet_detector.engines.darknet_cli import DarknetCliEngine, UnsupportedModelError\n"
    "model = pathlib.Path('/opt/model')\n"
    "print(json.dumps(sorted(p.name for p in model.iterdir())))\n"
    "print((model / 'model.json').read_text().strip())\n"
    "try:\n"
    "    DarknetCliEngine(model, 'parts', 0.5, pathlib.Path('/opt/darknet/bin/darknet'))\n"
    "except UnsupportedModelError as error:\n"
    "    print(error)\n"
)


def probe_own_model(image: str) -> tuple[list[str], dict, str]:
    """The image's model folder, its model.json and the Darknet CLI engine's refusal."""
    completed = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image,
         "-c", OWN_MODEL_PROBE],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    files, info, refusal = completed.stdout.splitlines()
    return json.loads(files), json.loads(info), refusal


def test_own_model_image_records_its_files_and_refuses_the_darknet_cli(own_model_image):
    files, info, refusal = probe_own_model(own_model_image)
    graphs = [name for name in files if ".x86_64-nchwc" in name]  # pre-optimised per CPU layout
    assert [name for name in files if name not in graphs] == [
        "model.json", "parts.cfg", "parts.data", "parts.names", "parts.onnx"
    ]  # fmt: skip
    assert {"parts.x86_64-nchwc8.onnx", "parts.x86_64-nchwc8.json"} <= set(graphs)  # AVX2's layout
    assert info == {"model": "parts", "flavour": "fork", "darknet_cli": False}
    assert "only the maintained Darknet fork has" in refusal


def test_a_context_the_component_stages_builds_the_same_own_model(
    own_model_image, own_model_folder, tmp_path
):
    """DarknetImage's own-model build context, built as its Docker provider builds it (same context,
    Dockerfile and build arguments), gives the image `make image MODEL_DIR=` gives."""
    args = DarknetImageArgs(model="parts", model_dir=str(own_model_folder), push_to_ecr=False)
    build = image_build_args(args, stage_own_model(args, tmp_path / "context"))
    name, _, _ = DEFAULT_IMAGE.partition(":")
    tag = f"{name}:own-parts-staged"
    build_arguments = [
        item for key, value in build.args.items() for item in ("--build-arg", f"{key}={value}")
    ]
    # The same lock as `make image`: another build's prune of untagged images would remove this one's stages.
    lock = (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "darknet-lambda"
        / "image-build.lock"
    )
    lock.parent.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        ["flock", str(lock), "docker", "build", "--quiet", *build_arguments, "--platform", build.platform,
         "-f", build.dockerfile, "-t", tag, build.context],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert probe_own_model(tag) == probe_own_model(own_model_image)


def test_own_model_whose_names_disagree_fails_the_build_saying_why(detector_image, tmp_path):
    write_own_model(tmp_path, FORK_CFG)
    (tmp_path / "parts.names").write_text("bolt\nnut\n")
    name, _, _ = DEFAULT_IMAGE.partition(":")
    completed = subprocess.run(
        ["bash", str(ROOT / "container" / "scripts" / "build-image.sh")],
        env={**os.environ, "MODEL_DIR": str(tmp_path), "IMAGE_TAG": f"{name}:own-broken",
             "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "has classes=3 but parts.names lists 2 names" in completed.stdout + completed.stderr
