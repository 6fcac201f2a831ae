"""The default image and its reference variant: what each carries, the size budget, and the default image's
clear refusal of the darknet engine. Needs Docker and both built images (`make image` builds them)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from local_lambda import FunctionError, LocalLambda

pytestmark = pytest.mark.docker

# The default image without its plain network graph: with yolov3-tiny's 35 MB graph, at most 200 MB. The
# graphs pre-optimised per CPU layout count against the budget: they carry no weights of their own.
BUDGET_WITHOUT_GRAPH_BYTES = 165_000_000

# The AWS clients the functions make (S3, Lambda for the asynchronous half, EventBridge for completion
# events): the image keeps only these of botocore's API models.
AWS_CLIENTS = {"s3", "lambda", "events"}
CONTENTS = """
import json, os, pathlib
import botocore.session
model, function = pathlib.Path("/opt/model"), pathlib.Path("/var/task/darknet_detector")
print(json.dumps({
    "model_files": sorted(p.name for p in model.iterdir()),
    "graph_bytes": (model / (os.environ["DETECTOR_MODEL"] + ".onnx")).stat().st_size,
    "darknet_cli": os.path.isfile("/opt/darknet/bin/darknet"),
    "libdarknet": os.path.isfile("/opt/darknet/lib/libdarknet.so"),
    "samples": sorted(p.name for p in pathlib.Path("/opt/darknet/data").glob("*.jpg")),
    "packages": sorted(os.listdir("/var/lib/dpkg/status.d")),
    "tools": [t for t in ("apt-get", "dpkg", "bash", "perl", "ls") if os.path.exists(f"/usr/bin/{t}")],
    "function_parts": sorted(p.name for p in function.iterdir() if p.is_dir()),
    "aws_services": botocore.session.get_session().get_available_services(),
}))
"""


def docker_inspect(image: str, template: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "-f", template, image], capture_output=True, text=True, check=True
    ).stdout.strip()


def contents(image: str) -> dict:
    completed = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c", CONTENTS],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def default_contents(detector_image: str) -> dict:
    return contents(detector_image)


def test_the_default_image_fits_its_size_budget(detector_image, default_contents):
    size = int(docker_inspect(detector_image, "{{.Size}}"))
    assert size - default_contents["graph_bytes"] <= BUDGET_WITHOUT_GRAPH_BYTES, (
        f"{size / 1e6:.1f} MB, of which the graph {default_contents['graph_bytes'] / 1e6:.1f} MB"
    )


def test_the_default_image_runs_the_onnx_engine_only(detector_image, default_contents):
    model = docker_inspect(detector_image, "{{range .Config.Env}}{{println .}}{{end}}")
    name = next(line.split("=", 1)[1] for line in model.splitlines() if line.startswith("DETECTOR_MODEL="))
    files = set(default_contents["model_files"])
    assert {f"{name}.cfg", f"{name}.names", f"{name}.onnx", "model.json"} <= files, files
    assert not any(file.endswith(".weights") for file in files), "the weights belong to the reference variant"
    assert not default_contents["darknet_cli"], "Darknet's CLI belongs to the reference variant"
    assert default_contents["libdarknet"], "decode, letterbox, NMS and drawing run through libdarknet"
    assert "dog.jpg" in default_contents["samples"]
    assert default_contents["function_parts"] == ["__pycache__", "core", "engines", "serving"], (
        "the default image ships what runs, not the model-building tools"
    )
    missing = AWS_CLIENTS - set(default_contents["aws_services"])
    assert not missing, f"the image has no botocore model for {sorted(missing)}, a client the handlers make"


def test_the_default_image_carries_only_the_packages_it_runs_and_declares_them(default_contents):
    """Distroless-style: no package manager or shell tools, each package still visible to image scanners."""
    assert default_contents["tools"] == [], default_contents["tools"]
    assert {"python3.11-minimal", "libpython3.11-stdlib", "libc6", "libssl3", "libgomp1", "dash"} <= set(
        default_contents["packages"]
    )
    assert not {"apt", "dpkg", "perl-base", "coreutils", "bash"} & set(default_contents["packages"])


def test_the_reference_variant_is_the_default_image_plus_the_cli_the_weights_and_the_parity_tools(
    detector_image, reference_image, default_contents
):
    base = docker_inspect(detector_image, "{{json .RootFS.Layers}}")
    variant = docker_inspect(reference_image, "{{json .RootFS.Layers}}")
    base_layers, variant_layers = json.loads(base), json.loads(variant)
    assert variant_layers[: len(base_layers)] == base_layers, "the variant shares every layer of the default"
    assert len(variant_layers) == len(base_layers) + 3
    reference = contents(reference_image)
    added = sorted(set(reference["model_files"]) - set(default_contents["model_files"]))
    assert len(added) == 1 and added[0].endswith(".weights"), added
    assert reference["darknet_cli"]
    assert "building" in reference["function_parts"], "the parity tools compare the engines here"


def test_the_default_image_refuses_the_darknet_engine_naming_the_reference_variant(
    detector_image, lambda_env, dog_jpg, api_event
):
    function = LocalLambda(image=detector_image, env={**lambda_env, "DETECTOR_ENGINE": "darknet"})
    function.start()
    try:
        function.wait_ready(timeout=60)
        with pytest.raises(FunctionError) as failure:
            function.invoke(api_event(dog_jpg))
    finally:
        function.stop()
    # The engine is created in the init phase, so the refusal is the init error the runtime client reports
    # (the emulator answers it with HTTP 502), and it is the function's own, with its own message.
    answer = str(failure.value).split("\n--- container log ---", 1)[0]
    error = re.search(r'"errorMessage": "([^"]*)", "errorType": "([^"]*)"', answer)
    assert error, answer
    message, error_type = error.groups()
    assert error_type == "EngineUnavailable", answer
    assert "reference variant" in message, message
    assert "tag IMAGE:TAG-reference" in message, message
    assert "/opt/" not in message, "no internal path in the message"


def test_outside_lambda_without_the_emulator_the_entrypoint_says_what_to_mount(detector_image):
    """The image does not carry AWS's emulator (Lambda never runs it): a bare `docker run` says so."""
    completed = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", detector_image],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 1
    assert "mount AWS's Runtime Interface Emulator there" in completed.stderr, completed.stderr
