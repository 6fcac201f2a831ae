"""The converter against a plain numpy transcription of Darknet's forward pass (no Darknet, no Docker)."""

from __future__ import annotations

import json
import struct

import darknet_reference
import numpy as np
import onnxruntime as ort
import pytest

from darknet_detector.building.convert import (
    build_layers,
    convert,
    parse_cfg,
    read_weights_header,
    write_random_weights,
)
from darknet_detector.building.layers import ConversionError, maxpool_pads
from darknet_detector.model_format import INPUT_NAME, METADATA_KEY, NetworkInfo

# Every layer kind and geometry the converter maps: batch-normed leaky convs, Darknet's right/bottom-only
# maxpool (size 2 stride 1), an odd-sized stride-2 maxpool, a strided and a grouped conv, routes of one and
# two layers, upsample, shortcut, and two YOLO heads. Whitespace and comments as people write them.
SMALL_CFG = """
[net]
# a comment
width = 20
height=20
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
groups=2
activation=leaky

[maxpool]
size=2
stride=1

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=relu

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask = 3,4,5
anchors = 10,14,  23,27,  37,58,  81,82,  135,169,  344,319
classes=2
num=6

[route]
layers = -3

[upsample]
stride=2

[route]
layers = -1, -8

[convolutional]
batch_normalize=1
filters=24
size=1
stride=1
pad=1
activation=leaky

[shortcut]
from=-2
activation=linear

[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear

[yolo]
mask = 0,1,2
anchors = 10,14,  23,27,  37,58,  81,82,  135,169,  344,319
classes=2
num=6
"""


@pytest.fixture
def small_model(tmp_path):
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL_CFG)
    weights = tmp_path / "small.weights"
    write_random_weights(cfg, weights, seed=7)
    onnx_path = tmp_path / "small.onnx"
    summary = convert(cfg, weights, onnx_path)
    return cfg, weights, onnx_path, summary


def test_converted_graph_computes_darknets_forward_pass(small_model):
    _, weights, onnx_path, summary = small_model
    assert "l6_yolo 5x5" in summary and "l13_yolo 10x10" in summary
    image = np.random.default_rng(3).random((1, 3, 20, 20), dtype=np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: image})
    expected = darknet_reference.forward(SMALL_CFG, weights, image[0])
    assert [g.shape for g in got] == [(1, *e.shape) for e in expected] == [(1, 21, 5, 5), (1, 21, 10, 10)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g[0], e, rtol=1e-4, atol=1e-4)


def test_decoder_parameters_travel_in_the_onnx_metadata(small_model):
    _, _, onnx_path, _ = small_model
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    info = NetworkInfo.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert (info.width, info.height, info.channels) == (20, 20, 3)
    first, second = info.heads
    assert (first.output, first.mask, first.classes, first.height) == ("l6_yolo", [3, 4, 5], 2, 5)
    assert (second.mask, second.height) == ([0, 1, 2], 10)
    assert first.anchors[:4] == [10.0, 14.0, 23.0, 27.0] and len(first.anchors) == 12
    assert json.loads(info.to_json())["heads"][1]["output"] == second.output


def test_maxpool_size2_stride1_pads_right_and_bottom_only():
    pads, out_h, out_w = maxpool_pads(size=2, stride=1, padding=1, height=13, width=13)
    assert pads == [0, 0, 1, 1] and (out_h, out_w) == (13, 13)


@pytest.mark.parametrize(
    ("size", "stride", "height", "pads", "out"),
    [(2, 2, 416, [0, 0, 0, 0], 208), (2, 2, 13, [0, 0, 1, 1], 7), (3, 1, 10, [1, 1, 1, 1], 10)],
)
def test_maxpool_geometry_matches_darknet(size, stride, height, pads, out):
    got, out_h, _ = maxpool_pads(size, stride, size - 1, height, height)
    assert got == pads and out_h == out
    x = np.random.default_rng(0).random((1, height, height))
    assert darknet_reference.maxpool(x, size, stride, size - 1).shape[1] == out


def test_weights_header_seen_is_64_bit_from_version_0_2():
    new = struct.pack("<iiiQ", 0, 2, 0, 32013312) + b"\0" * 4
    old = struct.pack("<iiii", 0, 1, 0, 500) + b"\0" * 4
    header = read_weights_header(new)
    assert (header.major, header.minor, header.seen, header.size) == (0, 2, 32013312, 20)
    header = read_weights_header(old)
    assert (header.minor, header.seen, header.size) == (1, 500, 16)
    # parser.c only trusts the 64-bit field for sane version numbers (major and minor below 1000).
    odd = struct.pack("<iiii", 1000, 2, 0, 9) + b"\0" * 4
    assert read_weights_header(odd).size == 16
    with pytest.raises(ConversionError, match="too short"):
        read_weights_header(b"\0" * 8)


def test_cfg_parsing_drops_whitespace_and_comments():
    net, conv, *_ = parse_cfg(SMALL_CFG)
    assert net.kind == "net" and net.integer("width", 0) == 20
    assert conv.options["activation"] == "leaky"
    yolo = parse_cfg(SMALL_CFG)[7]
    assert yolo.options["anchors"].startswith("10,14,23,27,")


def tiny_yolov3_cfg() -> str:
    """yolov3-tiny's published architecture, written out compactly."""

    def conv(filters, size, stride=1, bn=True, activation="leaky"):
        bn_line = "batch_normalize=1\n" if bn else ""
        return (
            f"[convolutional]\n{bn_line}filters={filters}\nsize={size}\nstride={stride}\npad=1\n"
            f"activation={activation}\n"
        )

    def pool(stride):
        return f"[maxpool]\nsize=2\nstride={stride}\n"

    def yolo(mask):
        return f"[yolo]\nmask={mask}\nanchors=10,14,23,27,37,58,81,82,135,169,344,319\nclasses=80\nnum=6\n"

    body = ["[net]\nwidth=416\nheight=416\nchannels=3\n"]
    for filters in (16, 32, 64, 128, 256):
        body += [conv(filters, 3), pool(2)]
    body += [conv(512, 3), pool(1), conv(1024, 3), conv(256, 1), conv(512, 3)]
    body += [conv(255, 1, bn=False, activation="linear"), yolo("3,4,5")]
    body += ["[route]\nlayers=-4\n", conv(128, 1), "[upsample]\nstride=2\n", "[route]\nlayers=-1,8\n"]
    body += [conv(256, 3), conv(255, 1, bn=False, activation="linear"), yolo("0,1,2")]
    return "\n".join(body)


def test_random_weights_have_the_size_of_the_real_yolov3_tiny_weights(tmp_path):
    cfg = tmp_path / "yolov3-tiny.cfg"
    cfg.write_text(tiny_yolov3_cfg())
    # The published yolov3-tiny.weights file is 35,434,956 bytes: same layout, byte for byte in size.
    assert write_random_weights(cfg, tmp_path / "random.weights", seed=1) == 35_434_956
    _, layers = build_layers(parse_cfg(cfg.read_text()))
    assert [(layer.shape.c, layer.shape.h) for layer in layers if layer.section.kind == "yolo"] == [
        (255, 13),
        (255, 26),
    ]


def test_random_weights_are_reproducible_and_seeded(tmp_path):
    cfg = tmp_path / "small.cfg"
    cfg.write_text(SMALL_CFG)
    paths = [tmp_path / f"{name}.weights" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (1, 1, 2), strict=True):
        write_random_weights(cfg, path, seed=seed)
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()


def test_unknown_layer_type_is_named(tmp_path):
    with pytest.raises(ConversionError, match=r"layer 1 \[crop\] \(cfg line \d+\).*not supported"):
        build_layers(parse_cfg("[net]\nwidth=8\nheight=8\nchannels=3\n[maxpool]\nstride=2\n[crop]\n"))


def test_unsupported_activation_is_named():
    with pytest.raises(ConversionError, match=r"layer 0 .*activation=selu on cfg line 6: activation 'selu'"):
        build_layers(parse_cfg("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nactivation=selu\n"))


def test_weights_that_do_not_fit_the_cfg_are_rejected(tmp_path, small_model):
    cfg, weights, _, _ = small_model
    for name, data in (("short", weights.read_bytes()[:-4]), ("long", weights.read_bytes() + b"\0" * 4)):
        bad = tmp_path / f"{name}.weights"
        bad.write_bytes(data)
        with pytest.raises(ConversionError, match="do not match"):
            convert(cfg, bad, tmp_path / f"{name}.onnx")


def test_random_weights_never_detect_so_timing_measures_the_network(small_model):
    _, _, onnx_path, _ = small_model
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(4).random((1, 3, 20, 20), dtype=np.float32)
    for raw in session.run(None, {INPUT_NAME: image}):
        objectness = raw.reshape(3, 2 + 5, -1)[:, 4]
        np.testing.assert_array_equal(objectness, -30.0)
