"""The engine's numpy parts against loop-for-loop transcriptions of yolo_layer.c and image.c."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from PIL import Image

from darknet_detector.contract import RESULT_IMAGE
from darknet_detector.engines.heads import letterbox_size, yolo_candidates
from darknet_detector.engines.onnx_runtime import (
    ALLOW_SPINNING_KEY,
    percent,
    pixel_box,
    session_options,
    write_png,
)
from darknet_detector.model_format import YoloHead

HEAD = YoloHead(
    output="l16_yolo",
    layer=16,
    classes=3,
    mask=[3, 4, 5],
    anchors=[10, 14, 23, 27, 37, 58, 81, 82, 135, 169, 344, 319],
    height=4,
    width=5,
)


def logistic(x):
    return 1.0 / (1.0 + math.exp(-x))


def reference_yolo(head, raw, image_w, image_h, net_w, net_h, thresh):
    """get_yolo_detections + correct_yolo_boxes, written the way the C loops read."""
    out = raw.reshape(-1)
    cells = head.width * head.height

    def entry(anchor, loc, field):
        return anchor * cells * (head.classes + 5) + field * cells + loc

    if net_w / image_w < net_h / image_h:
        new_w, new_h = net_w, (image_h * net_w) // image_w
    else:
        new_w, new_h = (image_w * net_h) // image_h, net_h
    found = []
    for loc in range(cells):
        row, col = loc // head.width, loc % head.width
        for anchor in range(len(head.mask)):
            objectness = logistic(out[entry(anchor, loc, 4)])
            if objectness <= thresh:
                continue
            x = (col + logistic(out[entry(anchor, loc, 0)])) / head.width
            y = (row + logistic(out[entry(anchor, loc, 1)])) / head.height
            w = math.exp(out[entry(anchor, loc, 2)]) * head.anchors[2 * head.mask[anchor]] / net_w
            h = math.exp(out[entry(anchor, loc, 3)]) * head.anchors[2 * head.mask[anchor] + 1] / net_h
            x = (x - (net_w - new_w) / 2.0 / net_w) / (new_w / net_w)
            y = (y - (net_h - new_h) / 2.0 / net_h) / (new_h / net_h)
            w, h = w * net_w / new_w, h * net_h / new_h
            probs = [objectness * logistic(out[entry(anchor, loc, 5 + c)]) for c in range(head.classes)]
            found.append(((x, y, w, h), objectness, [p if p > thresh else 0 for p in probs]))
    return found


@pytest.mark.parametrize(("image_w", "image_h"), [(768, 576), (300, 500), (416, 416)])
def test_yolo_decoding_matches_darknets_loops(image_w, image_h):
    raw = np.random.default_rng(5).normal(0, 2, (1, 3 * 8, 4, 5)).astype(np.float32)
    boxes, objectness, probs = yolo_candidates(HEAD, raw, image_w, image_h, 160, 128, 0.5)
    expected = reference_yolo(HEAD, raw, image_w, image_h, 160, 128, 0.5)
    assert 0 < len(expected) < 60 and len(boxes) == len(expected)
    for i, (box, obj, prob) in enumerate(expected):
        np.testing.assert_allclose(boxes[i], box, rtol=1e-6, atol=1e-6)
        assert objectness[i] == pytest.approx(obj, rel=1e-6)
        np.testing.assert_allclose(probs[i], prob, rtol=1e-6)


def test_yolo_decoding_with_nothing_above_threshold():
    raw = np.full((1, 24, 4, 5), -10, dtype=np.float32)
    boxes, objectness, probs = yolo_candidates(HEAD, raw, 640, 480, 160, 128, 0.5)
    assert boxes.shape == (0, 4) and objectness.shape == (0,) and probs.shape == (0, 3)


def test_letterbox_size_keeps_aspect_ratio_like_darknet():
    assert letterbox_size(768, 576, 416, 416) == (416, 312)
    assert letterbox_size(300, 500, 416, 416) == (249, 416)


def test_pixel_box_truncates_and_clips_like_draw_detections():
    assert pixel_box(0.5, 0.5, 0.25, 0.5, 768, 576) == (288, 144, 480, 432)
    assert pixel_box(0.05, 0.95, 0.2, 0.2, 100, 100) == (0, 85, 15, 99)
    assert pixel_box(0.5, 0.5, 0.1999, 0.1999, 10, 10)[0] == 4  # 4.0005 truncates toward zero


@pytest.mark.parametrize(("prob", "text"), [(0.5707, "57%"), (0.985, "98%"), (0.995, "100%"), (0.125, "12%")])
def test_percent_like_printf(prob, text):
    """Darknet multiplies in float: 0.985f*100 is 98.5 exactly, which printf rounds to even (C prints 98%)."""
    assert percent(np.float32(prob)) == text


def test_png_has_exactly_the_pixels(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = write_png(tmp_path / RESULT_IMAGE, pixels)
    with Image.open(path) as decoded:
        assert decoded.format == "PNG" and decoded.mode == "RGB"
        assert np.array_equal(np.asarray(decoded), pixels)
    zlib.decompress(path.read_bytes()[41:-12])  # a single well-formed IDAT stream


def test_one_thread_leaves_spinning_to_onnx_runtime():
    options = session_options(1)
    assert options.intra_op_num_threads == 1
    with pytest.raises(RuntimeError, match="does not have configuration"):
        options.get_session_config_entry(ALLOW_SPINNING_KEY)


@pytest.mark.parametrize("threads", [2, 6])
def test_several_threads_do_not_spin_wait(threads):
    """Spinning workers burn the CPU share the next layer needs (Lambda's quota above 1769 MB)."""
    options = session_options(threads)
    assert options.intra_op_num_threads == threads
    assert options.get_session_config_entry(ALLOW_SPINNING_KEY) == "0"
