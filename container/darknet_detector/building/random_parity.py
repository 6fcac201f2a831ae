"""Parity of models whose real weights are out of reach: random weights of the real shape, checked per model.

For each model, the cfg at a reduced network size gets random weights whose head convolutions are
calibrated so objectness and classes fall on both sides of the threshold; the converted graph must then
reproduce the reference's raw head maps within float tolerance, and the engine's detections must match.
Here the reference is pjreddie's Darknet in the image (libdarknet's network_predict on the cfg cut just
before each head, and `darknet detector test` for the detections), for every model its CLI can run:

    python3 -m darknet_detector.building.random_parity --manifest /build/models.json yolov2 yolov3 ...
    --images IMAGE...

Runs where onnx is installed (the image's model stage). The fork's models are checked against OpenCV's
Darknet importer on the host (tests/unit), with the same weights helpers.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from darknet_detector.building.convert import (
    build_layers,
    conv_layers,
    convert,
    parse_cfg,
    write_random_weights,
)
from darknet_detector.building.layers import Region, Yolo
from darknet_detector.building.model_dir import assemble
from darknet_detector.model_format import INPUT_NAME

HEAD_KINDS = ("yolo", "region")
# Standard deviation of what enters each calibrated head's activation: softmax over 80 classes needs a
# wider spread than independent logistic classes before any class reaches the threshold.
HEAD_SPREAD = {"yolo": 2.0, "region": 8.0}
OBJECT_FRACTION = 0.05  # of the cells whose objectness beats 0.5, per anchor: some, not thousands
CLASS_FRACTION = 0.1  # of the cells where a [yolo] class (independent logistics) beats 0.5
RAW_TOLERANCE = 1e-4  # relative to the largest magnitude of the map


def resized_cfg(text: str, size: int) -> str:
    """The cfg with [net] width and height replaced; the other lines unchanged, so error lines still match."""
    lines = []
    for line in text.splitlines():
        key = "".join(line.split()).partition("=")[0]
        lines.append(f"{key}={size}" if key in ("width", "height") else line)
    return "\n".join(lines) + "\n"


def head_maps(onnx_path: Path, image: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: image})


def calibrated_random_weights(
    cfg: Path, weights: Path, flavour: str, image: np.ndarray, seed: int = 5
) -> None:
    """Random weights (gain 1, so 100+ layers neither vanish nor overflow), head convolutions rescaled.

    The last convolution before each head is linear up to its activation, so scaling its floats scales
    what enters the activation: measured directly for linear heads, through the logit for logistic ones.
    Each anchor's objectness bias is then shifted so that OBJECT_FRACTION of the cells pass 0.5, and
    each [yolo] class's so that CLASS_FRACTION do: a few detections of a class or two each.
    """
    write_random_weights(cfg, weights, seed=seed, quiet_heads=False, gain=1.0)
    _, layers = build_layers(parse_cfg(cfg.read_text()), flavour)
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "calibrate.onnx"
        convert(cfg, weights, onnx_path, flavour)
        heads = [layer for layer in layers if isinstance(layer, (Yolo, Region))]
        maps = dict(zip((h.index - 1 for h in heads), head_maps(onnx_path, image), strict=True))
        kinds = {h.index - 1: h.section.kind for h in heads}
        classes = {h.index - 1: h.classes for h in heads}
    values = np.fromfile(weights, dtype="<f4", offset=20)
    offset = 0
    for layer in conv_layers(layers):
        if layer.index in maps:
            if layer.conv.batch_normalize:
                raise ValueError(
                    f"{layer.describe()}: calibration expects a head convolution without batch norm"
                )
            entering = maps[layer.index][0].astype(np.float64)
            if layer.activation == "logistic":
                entering = np.log(entering / (1 - entering))
            scale = HEAD_SPREAD[kinds[layer.index]] / entering.std()
            values[offset : offset + layer.conv.float_count] *= scale
            fractions = {4: OBJECT_FRACTION}
            if kinds[layer.index] == "yolo":
                fractions.update(dict.fromkeys(range(5, classes[layer.index] + 5), CLASS_FRACTION))
            for channel in range(layer.conv.filters):  # biases come first in the layer's floats
                field = channel % (classes[layer.index] + 5)
                if field in fractions:
                    values[offset + channel] -= np.quantile(entering[channel] * scale, 1 - fractions[field])
        offset += layer.conv.float_count
    weights.write_bytes(weights.read_bytes()[:20] + values.astype("<f4").tobytes())


def cut_before(cfg_text: str, layer_index: int) -> str:
    """The cfg up to (not including) layer layer_index: its last layer is then the one feeding that head."""
    sections = parse_cfg(cfg_text)
    end_line = sections[layer_index + 1].line
    return "\n".join(cfg_text.splitlines()[: end_line - 1]) + "\n"


class DarknetNetwork:
    """pjreddie's network_predict through libdarknet.so: the reference for raw maps."""

    def __init__(self, library: str):
        self._lib = ctypes.CDLL(library)
        self._lib.load_network.restype = ctypes.c_void_p
        self._lib.load_network.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
        self._lib.set_batch_network.argtypes = (ctypes.c_void_p, ctypes.c_int)
        self._lib.network_predict.restype = ctypes.POINTER(ctypes.c_float)
        self._lib.network_predict.argtypes = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_float))
        self._lib.free_network.argtypes = (ctypes.c_void_p,)

    def predict(self, cfg: Path, weights: Path, image: np.ndarray, outputs: int) -> np.ndarray:
        network = self._lib.load_network(str(cfg).encode(), str(weights).encode(), 0)
        try:
            self._lib.set_batch_network(network, 1)
            data = np.ascontiguousarray(image, dtype=np.float32)
            result = self._lib.network_predict(network, data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
            return np.ctypeslib.as_array(result, shape=(outputs,)).copy()
        finally:
            self._lib.free_network(network)


def check_model(
    name: str, entry: dict, size: int, images: list[Path], darknet: Path, library: str, work: Path
) -> dict:
    """Raw maps against network_predict, then detections against the Darknet CLI, as a JSON-able report."""
    from darknet_detector.building.parity import check_images
    from darknet_detector.core.decoding import darknet_image
    from darknet_detector.core.libdarknet import Libdarknet
    from darknet_detector.core.source import SourceImage
    from darknet_detector.engines.darknet_cli import DarknetCliEngine
    from darknet_detector.engines.onnx_runtime import OnnxEngine

    source = Path("/opt/darknet") / entry["cfg"].partition(":")[2]
    cfg = work / f"{name}.cfg"
    cfg.write_text(resized_cfg(source.read_text(), size))
    # Calibrated on the first image as the engine feeds it: maps of noise and of photos differ in spread.
    libdarknet = Libdarknet(library)
    first = darknet_image(SourceImage.from_file(images[0]), libdarknet)
    image = libdarknet.letterbox(first.struct, size, size)
    weights = work / f"{name}.weights"
    calibrated_random_weights(cfg, weights, entry["flavour"], image)
    model_dir = work / "model"
    files = assemble(
        cfg, weights, Path("/opt/darknet/data/coco.names"), model_dir, name, entry["flavour"], True
    )
    convert(files.cfg, files.weights, files.onnx, entry["flavour"])

    _, layers = build_layers(parse_cfg(cfg.read_text()), entry["flavour"])
    heads = [layer for layer in layers if layer.section.kind in HEAD_KINDS]
    ours = head_maps(files.onnx, image)
    network = DarknetNetwork(library)
    raw: list[dict[str, Any]] = []
    for head, got in zip(heads, ours, strict=True):
        cut = work / f"{name}-to-{head.index}.cfg"
        cut.write_text(cut_before(cfg.read_text(), head.index))
        reference = network.predict(cut, weights, image, got.size).reshape(got.shape)
        worst = float(np.abs(got - reference).max() / np.abs(reference).max())
        raw.append({"head": head.output, "shape": list(got.shape[1:]), "max_relative_difference": worst})

    summary = check_images(
        DarknetCliEngine(model_dir, name, 0.5, darknet), OnnxEngine(model_dir, name, 0.5), images
    )
    detections = [report["detections"] for report in summary["images"]]
    passed = summary["passed"] and all(r["max_relative_difference"] < RAW_TOLERANCE for r in raw)
    passed = passed and all(report["result_text_identical"] for report in summary["images"])
    return {
        "model": name,
        "network_size": size,
        "passed": passed,
        "raw": raw,
        "detections_per_image": detections,
        "images": [
            {"image": r["image"], "passed": r["passed"], "problems": r["problems"]} for r in summary["images"]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parity per model with random weights of the real shape.")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--darknet", type=Path, default=Path("/opt/darknet/bin/darknet"))
    parser.add_argument("--darknet-lib", default="/opt/darknet/lib/libdarknet.so")
    parser.add_argument("--size", type=int, default=320, help="network width and height for the check")
    parser.add_argument("models", nargs="+")
    parser.add_argument(
        "--images", type=Path, nargs="+", required=True, help="the first calibrates the heads"
    )
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    reports = []
    for name in args.models:
        entry = manifest[name]
        if not entry["darknet_cli"]:
            parser.error(
                f"{name}: the Darknet CLI cannot run it; its reference is OpenCV's importer (tests/unit)"
            )
        with tempfile.TemporaryDirectory(prefix=f"parity-{name}-") as scratch:
            report = check_model(
                name, entry, args.size, args.images, args.darknet, args.darknet_lib, Path(scratch)
            )
        reports.append(report)
        worst = max(r["max_relative_difference"] for r in report["raw"])
        verdict = "ok  " if report["passed"] else "FAIL"
        print(
            f"random-weights parity {verdict} {name} at {args.size}: raw maps max relative difference "
            f"{worst:.2e}, detections per image {report['detections_per_image']}",
            file=sys.stderr,
        )
    print(json.dumps({"passed": all(r["passed"] for r in reports), "models": reports}, indent=2))
    return 0 if all(r["passed"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
