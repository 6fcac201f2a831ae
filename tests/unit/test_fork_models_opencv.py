"""The maintained fork's models (yolov4, yolov4-tiny, yolov7-tiny) against OpenCV DNN's Darknet importer.

pjreddie's Darknet in the image cannot run these (mish, route groups, scale_x_y, new_coords), so the
independent reference is OpenCV 4.x's readNetFromDarknet, test-time only. Real weights are not reachable
offline: each model gets random weights of its real shape, at a reduced network size to stay quick. The
converted graph's raw head maps must match OpenCV's within float tolerance, and so must the decoded candidates
(boxes, objectness, class probabilities) of darknet_detector.engines.heads against OpenCV's own yolo decoding.
The heads are calibrated as darknet_detector.building.random_parity does for the Darknet CLI's models.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from support import ROOT

from darknet_detector.building.convert import build_layers, convert, parse_cfg
from darknet_detector.building.random_parity import calibrated_random_weights, resized_cfg
from darknet_detector.engines.heads import yolo_candidates
from darknet_detector.model_format import INPUT_NAME

CONTAINER = ROOT / "container"
MANIFEST = json.loads((CONTAINER / "models.json").read_text())
FORK_MODELS = {"yolov4": 320, "yolov4-tiny": 416, "yolov7-tiny": 320}
THRESHOLD = 0.5


@pytest.fixture(scope="module", params=sorted(FORK_MODELS))
def fork_model(request, tmp_path_factory):
    name, size = request.param, FORK_MODELS[request.param]
    folder = tmp_path_factory.mktemp(name)
    cfg = folder / f"{name}.cfg"
    cfg.write_text(resized_cfg((CONTAINER / MANIFEST[name]["cfg"].partition(":")[2]).read_text(), size))
    weights = folder / f"{name}.weights"
    image = np.random.default_rng(6).random((1, 3, size, size), dtype=np.float32)
    calibrated_random_weights(cfg, weights, "fork", image)
    onnx_path = folder / f"{name}.onnx"
    convert(cfg, weights, onnx_path, "fork")

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ours = session.run(None, {INPUT_NAME: image})
    _, layers = build_layers(parse_cfg(cfg.read_text()), "fork")
    heads = [layer for layer in layers if layer.section.kind == "yolo"]
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    names = list(net.getLayerNames())
    # OpenCV names a [yolo] layer yolo_<index> after a permute_<index> of its input map.
    feeding = [names[names.index(f"permute_{head.index}") - 1] for head in heads]
    net.setInput(image)
    outputs = net.forward([*feeding, *(f"yolo_{head.index}" for head in heads)])
    return name, size, heads, ours, outputs[: len(heads)], outputs[len(heads) :]


def test_raw_head_maps_match_opencv(fork_model):
    _, _, heads, ours, theirs, _ = fork_model
    for head, got, reference in zip(heads, ours, theirs, strict=True):
        assert got.shape == reference.shape == (1, head.shape.c, head.shape.h, head.shape.w)
        assert reference.std() > 0.1  # calibrated: not the near-constant maps of raw random weights
        np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


def test_decoded_candidates_match_opencv(fork_model):
    """Boxes relative to the (unletterboxed) network input, in the same cell-then-anchor order."""
    _, size, heads, ours, _, decoded = fork_model
    total = 0
    for head, raw, reference in zip(heads, ours, decoded, strict=True):
        boxes, objectness, probs = yolo_candidates(head.head(), raw, size, size, size, size, THRESHOLD, False)
        rows = reference[reference[:, 4] > THRESHOLD]
        assert len(boxes) == len(rows) < len(reference)
        np.testing.assert_allclose(boxes, rows[:, :4], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(objectness, rows[:, 4], rtol=1e-4, atol=1e-6)
        kept = probs > 0
        np.testing.assert_allclose(probs[kept], rows[:, 5:][kept], rtol=1e-4)
        assert np.all(rows[:, 5:][~kept] <= THRESHOLD + 1e-5)
        total += int(kept.sum())
    assert total > 0
