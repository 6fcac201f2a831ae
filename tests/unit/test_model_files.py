"""The model manifest, and the checks that a model's cfg, weights and names agree (own models too)."""

from __future__ import annotations

import json

import pytest
from support import ROOT
from support.models import OWN_NAMES, write_own_model

from darknet_detector.building.convert import (
    build_layers,
    parse_cfg,
    weights_bytes_needed,
)
from darknet_detector.building.model_dir import assemble, check_model, main
from darknet_detector.contract import DEFAULT_MODEL
from darknet_detector.model_format import ModelFiles, read_names

CONTAINER = ROOT / "container"
MANIFEST = json.loads((CONTAINER / "models.json").read_text())
MODELS = [
    "yolov2",
    "yolov2-tiny",
    "yolov3",
    "yolov3-spp",
    DEFAULT_MODEL,
    "yolov4",
    "yolov4-tiny",
    "yolov7-tiny",
]

FORK_CFG = """[net]
width=64
height=64
channels=3
letter_box=1

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=mish

[route]
layers=-1
groups=2
group_id=1

[convolutional]
size=1
stride=1
pad=1
filters=24
activation=logistic

[yolo]
mask=0,1,2
anchors=8,8,16,16,24,24
classes=3
num=3
scale_x_y=2.0
new_coords=1
nms_kind=diounms
beta_nms=0.6
"""


def test_manifest_lists_every_model_with_the_fields_the_build_and_deploy_read():
    assert sorted(MANIFEST) == sorted(MODELS)
    for name, entry in MANIFEST.items():
        assert isinstance(entry["darknet_cli"], bool), name
        # The image's Darknet CLI is pjreddie's: it runs exactly the models pjreddie's Darknet trained.
        assert entry["darknet_cli"] == (entry["flavour"] == "pjreddie"), name
        origin, _, cfg = entry["cfg"].partition(":")
        assert origin in ("darknet", "repo") and cfg == f"cfg/{name}.cfg", name
        if origin == "repo":
            assert (CONTAINER / cfg).is_file(), name
        weights = entry["weights"]
        assert weights["file"] == f"{name}.weights" and weights["size"] > 0
        assert weights["sha256"] is None or len(weights["sha256"]) == 64
        assert all(source.get("url", "https://").startswith("https://") for source in weights["sources"])


@pytest.mark.parametrize("name", [n for n in MODELS if MANIFEST[n]["cfg"].startswith("repo:")])
def test_carried_cfgs_need_weights_of_the_manifest_size(name):
    """The fork's weights files carry a 20-byte header; the rest is the cfg's floats, byte for byte."""
    entry = MANIFEST[name]
    _, layers = build_layers(parse_cfg((CONTAINER / entry["cfg"].partition(":")[2]).read_text()), "fork")
    assert 20 + weights_bytes_needed(layers) == entry["weights"]["size"]


@pytest.fixture
def own_model(tmp_path):
    """A model of the fork's own layers (mish, route groups, letter_box)."""
    return write_own_model(tmp_path / "own", FORK_CFG, seed=3)


def test_names_ignore_trailing_blank_lines(own_model):
    names = own_model / "parts.names"
    names.write_text(names.read_text() + "\n\n")
    assert read_names(names) == list(OWN_NAMES)


def test_agreeing_files_pass_and_assemble_a_model_directory(own_model, tmp_path):
    files = own_model / "parts.cfg", own_model / "parts.weights", own_model / "parts.names"
    assert check_model(*files, "fork") == []
    model = assemble(*files, tmp_path / "opt-model", "parts", "fork", darknet_cli=False)
    assert model == ModelFiles(tmp_path / "opt-model", "parts")
    assert model.data.read_text() == f"classes = 3\nnames = {model.names}\n"
    assert model.read_info() == {"model": "parts", "flavour": "fork", "darknet_cli": False}
    assert model.cfg.read_text() == FORK_CFG


def test_names_that_do_not_match_the_class_count_are_named(own_model):
    (own_model / "parts.names").write_text("bolt\nnut\n")
    (problem,) = check_model(
        own_model / "parts.cfg", own_model / "parts.weights", own_model / "parts.names", "fork"
    )
    assert problem == "layer 3 [yolo] (cfg line 27) has classes=3 but parts.names lists 2 names"


def test_weights_of_another_cfg_are_named_with_the_sizes(own_model):
    weights = own_model / "parts.weights"
    weights.write_bytes(weights.read_bytes() + b"\0" * 8)
    (problem,) = check_model(own_model / "parts.cfg", weights, own_model / "parts.names", "fork")
    assert problem.startswith(f"parts.weights is {weights.stat().st_size} bytes: the cfg's layers need ")
    assert "+8 bytes off" in problem


def test_a_cfg_that_cannot_be_converted_is_named(own_model):
    (own_model / "parts.cfg").write_text(FORK_CFG.replace("activation=mish", "activation=selu"))
    (problem,) = check_model(
        own_model / "parts.cfg", own_model / "parts.weights", own_model / "parts.names", "fork"
    )
    assert problem.startswith("parts.cfg: layer 0 [convolutional]") and "selu" in problem


def test_the_command_line_check_fails_with_every_problem(own_model, capsys):
    (own_model / "parts.names").write_text("bolt\n")
    weights = own_model / "parts.weights"
    weights.write_bytes(weights.read_bytes()[:-4])
    arguments = ["check", "--cfg", str(own_model / "parts.cfg"), "--weights", str(weights)]
    assert main([*arguments, "--names", str(own_model / "parts.names")]) == 1
    error = capsys.readouterr().err
    assert "-4 bytes off" in error and "lists 1 names" in error
