"""Each layer kind of the converter against darknet_reference (Darknet's C loops in numpy); strictness."""

from __future__ import annotations

import darknet_reference
import numpy as np
import onnxruntime as ort
import pytest

from darknet_detector.building.convert import build_layers, convert, parse_cfg, write_random_weights
from darknet_detector.building.layers import ConversionError
from darknet_detector.model_format import INPUT_NAME

NET = "[net]\nwidth={size}\nheight={size}\nchannels=3\n"


def conv(filters, size=3, stride=1, activation="leaky", bn=True, groups=1):
    bn_line = "batch_normalize=1\n" if bn else ""
    group_line = f"groups={groups}\n" if groups > 1 else ""
    return (
        f"[convolutional]\n{bn_line}{group_line}filters={filters}\nsize={size}\nstride={stride}\npad=1\n"
        f"activation={activation}\n"
    )


def yolo_head(classes=2, extra=""):
    """A 1x1 linear conv of 3 anchors x (classes + 5) and its [yolo]."""
    return conv(3 * (classes + 5), size=1, activation="linear", bn=False) + (
        f"[yolo]\nmask=0,1,2\nanchors=10,14,23,27,37,58\nclasses={classes}\nnum=3\n{extra}"
    )


# One cfg per layer kind (or option) under test; each ends in a head so it converts.
CASES = {
    "conv-activations": (
        NET.format(size=12)
        + conv(8, activation="mish")
        + conv(8, activation="swish")
        + conv(8, activation="logistic", groups=2)
        + conv(8, activation="relu", stride=2)
        + yolo_head()
    ),
    "maxpool-stride1-and-spp": (
        NET.format(size=13)
        + conv(4)
        + "[maxpool]\nsize=2\nstride=1\n"
        + "[maxpool]\nsize=5\nstride=1\n[route]\nlayers=-2\n[maxpool]\nsize=9\nstride=1\n"
        + "[route]\nlayers=-1,-3,-4\n[maxpool]\nsize=3\nstride=2\n"
        + yolo_head()
    ),
    "route-groups": (
        NET.format(size=8)
        + conv(8)
        + "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"
        + conv(6)
        + "[route]\nlayers=-1,-3\ngroups=2\ngroup_id=0\n"
        + "[route]\nlayers=-1,-2\n"
        + yolo_head()
    ),
    "shortcut-upsample-dropout": (
        NET.format(size=8)
        + conv(6, stride=2)
        + conv(6)
        + "[shortcut]\nfrom=-2\nactivation=leaky\n"
        + "[dropout]\nprobability=.5\n"
        + "[upsample]\nstride=2\n"
        + yolo_head()
    ),
    "reorg": (
        NET.format(size=8)
        + conv(8)
        + "[maxpool]\nsize=2\nstride=2\n"
        + "[reorg]\nstride=2\n"
        + conv(3 * 7, size=1, activation="linear", bn=False)
        + "[region]\nanchors=1,1,2,2,3,3\nclasses=2\nnum=3\ncoords=4\nsoftmax=1\n"
    ),
}


def run_case(tmp_path, cfg_text, flavour):
    cfg = tmp_path / "case.cfg"
    cfg.write_text(cfg_text)
    weights = tmp_path / "case.weights"
    write_random_weights(cfg, weights, seed=11, quiet_heads=False)
    onnx_path = tmp_path / "case.onnx"
    convert(cfg, weights, onnx_path, flavour)
    size = parse_cfg(cfg_text)[0].integer("width", 0)
    image = np.random.default_rng(2).random((1, 3, size, size), dtype=np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: image}), darknet_reference.forward(
        cfg_text, weights, image[0], flavour
    )


FORK_ONLY_CASES = {"conv-activations", "route-groups"}  # mish, swish, route groups


@pytest.mark.parametrize(
    ("case", "flavour"),
    [(case, "fork") for case in sorted(CASES)]
    + [(case, "pjreddie") for case in sorted(CASES) if case not in FORK_ONLY_CASES],
)
def test_layer_kind_computes_what_darknet_computes(tmp_path, case, flavour):
    got, expected = run_case(tmp_path, CASES[case], flavour)
    assert [g.shape[1:] for g in got] == [e.shape for e in expected]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g[0], e, rtol=1e-4, atol=1e-4)


def test_the_two_reorgs_differ_so_the_flavour_matters(tmp_path):
    pjreddie, _ = run_case(tmp_path, CASES["reorg"], "pjreddie")
    fork, _ = run_case(tmp_path, CASES["reorg"], "fork")
    assert not np.allclose(pjreddie[0], fork[0])


def test_route_groups_halve_the_channels():
    _, layers = build_layers(parse_cfg(CASES["route-groups"]), "fork")
    assert [layer.shape.c for layer in layers[:5]] == [8, 4, 6, 7, 13]


def test_spp_maxpools_keep_the_map_size():
    _, layers = build_layers(parse_cfg(CASES["maxpool-stride1-and-spp"]), "fork")
    assert [(layer.shape.c, layer.shape.h) for layer in layers[:7]] == [
        (4, 13),
        (4, 13),
        (4, 13),
        (4, 13),
        (4, 13),
        (12, 13),
        (12, 7),
    ]


def error_for(cfg_text: str, flavour: str = "fork") -> str:
    with pytest.raises(ConversionError) as caught:
        build_layers(parse_cfg(cfg_text), flavour)
    return str(caught.value)


def test_unknown_option_is_an_error_naming_layer_option_and_line():
    message = error_for(NET.format(size=8) + conv(4).replace("pad=1\n", "pad=1\nwobble=3\n") + yolo_head())
    assert message.startswith("layer 0 [convolutional] (cfg line 5), option wobble=3 on cfg line 11: unknown")


def test_inference_option_the_converter_lacks_is_refused():
    message = error_for(NET.format(size=8) + conv(4) + "binary=1\n" + yolo_head())
    assert "layer 0 [convolutional]" in message and "option binary=1 on cfg line 12" in message
    assert "changes inference" in message


def test_harmless_value_of_a_refused_option_is_accepted():
    build_layers(parse_cfg(NET.format(size=8) + conv(4) + "binary=0\n" + yolo_head()), "fork")


def test_training_only_options_are_ignored():
    extra = "jitter=.3\nignore_thresh=.7\ntruth_thresh=1\niou_loss=ciou\nobjectness_smooth=1\nrandom=1\n"
    cfg = NET.format(size=8).replace("channels=3\n", "channels=3\nbatch=64\nmosaic=1\n") + yolo_head(
        extra=extra
    )
    _, layers = build_layers(parse_cfg(cfg), "fork")
    assert layers[-1].section.kind == "yolo"


def test_unknown_net_option_is_an_error():
    message = error_for(NET.format(size=8) + "inputs=256\n" + yolo_head())
    assert "[net] (cfg line 1), option inputs=256 on cfg line 5: unknown option" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[route]\nlayers=-1\ngroups=2\ngroup_id=2\n", "option group_id=2 on cfg line 15"),
        ("[route]\nlayers=-1\ngroups=5\n", "groups=5 does not divide"),
        ("[route]\nlayers=5\n", "refers to layer 5, not an earlier one"),
        ("[yolo]\nmask=0\nanchors=1,1\nclasses=3\nnum=1\n", "expected 1 anchors x (3 classes + 5)"),
        ("[yolo]\nmask=0\nanchors=1,1\nclasses=7\nnum=1\nnms_kind=softnms\n", "nms_kind must be one of"),
        ("[region]\nclasses=1\nnum=2\ncoords=4\nbackground=1\n", "option background=1"),
        ("[reorg]\nstride=3\n", "stride 3 does not divide"),
        ("[crop]\n", "layer type [crop] is not supported"),
    ],
)
def test_what_cannot_be_converted_faithfully_is_refused(body, expected):
    assert expected in error_for(NET.format(size=8) + conv(12) + body + yolo_head())


def test_a_network_without_a_head_is_refused():
    assert "no [yolo] or [region] layer" in error_for(NET.format(size=8) + conv(4))


def test_letterbox_follows_the_flavour_and_net_letter_box():
    cfg = NET.format(size=8) + yolo_head()
    boxed = cfg.replace("channels=3\n", "channels=3\nletter_box=1\n")
    assert build_layers(parse_cfg(cfg), "pjreddie")[0].letterbox
    assert not build_layers(parse_cfg(cfg), "fork")[0].letterbox
    assert build_layers(parse_cfg(boxed), "fork")[0].letterbox


@pytest.mark.parametrize(
    ("body", "option"),
    [
        ("[route]\nlayers=-1\ngroups=2\ngroup_id=1\n", "groups=2"),
        (conv(8, activation="mish"), "activation=mish"),
    ],
)
def test_fork_only_options_are_refused_for_a_pjreddie_model(body, option):
    message = error_for(NET.format(size=8) + conv(16) + body + yolo_head(), "pjreddie")
    assert f"option {option}" in message and "flavour fork" in message


def test_fork_only_head_options_are_refused_for_a_pjreddie_model():
    message = error_for(NET.format(size=8) + yolo_head(extra="scale_x_y=1.05\n"), "pjreddie")
    assert "option scale_x_y=1.05" in message and "flavour fork" in message


def test_a_network_that_is_not_fed_colour_images_is_refused():
    message = error_for(NET.format(size=8).replace("channels=3", "channels=1") + yolo_head())
    assert "option channels=1" in message and "only channels=3" in message
