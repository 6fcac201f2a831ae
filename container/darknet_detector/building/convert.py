"""Convert a Darknet cfg + weights into an ONNX graph that computes exactly what Darknet's forward pass does.

Run at image build time (`python3 -m darknet_detector.building.convert CFG WEIGHTS OUT.onnx [--flavour
fork]`); the runtime only needs onnxruntime. Each layer kind lives in darknet_detector.building.layers
(options, shape and nodes together). Detection heads ([yolo], [region]) are graph outputs carrying the raw
convolution map; their decoding lives in darknet_detector.engines.heads, in numpy, and the parameters it needs
travel inside the ONNX file as metadata so graph and decoder cannot drift apart.

The cfg and weights header parsing here is plain Python and numpy, so `write_random_weights` and the
parsers work without the `onnx` package, which is imported only when a graph is built.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from darknet_detector.building.layers import (
    FLAVOURS,
    HEAD_KINDS,
    LAYER_KINDS,
    ConversionError,
    Convolutional,
    ConvWeights,
    GraphBuilder,
    Layer,
    NetOptions,
    Section,
    net_options,
)
from darknet_detector.contract import SERVICE_NAME
from darknet_detector.model_format import INPUT_NAME, METADATA_KEY, NetworkInfo

OPSET = 13
IR_VERSION = 8


def parse_cfg(text: str) -> list[Section]:
    """Sections of a cfg, read like Darknet's read_cfg: all whitespace dropped, '#' and ';' start comments."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            sections.append(Section(kind=line.strip("[]"), line=number))
            continue
        if not sections:
            raise ConversionError(f"cfg line {number}: option {line!r} before the first [section]")
        key, sep, value = line.partition("=")
        if not sep:
            raise ConversionError(f"cfg line {number}: cannot parse {line!r} (expected key=value)")
        sections[-1].options[key] = value
        sections[-1].lines[key] = number
    if not sections or sections[0].kind not in ("net", "network"):
        raise ConversionError("cfg must start with a [net] or [network] section")
    return sections


@dataclass(frozen=True)
class WeightsHeader:
    major: int
    minor: int
    revision: int
    seen: int
    size: int  # bytes the header takes in the file


def read_weights_header(data: bytes) -> WeightsHeader:
    """The header exactly as parser.c's load_weights_upto reads it: `seen` is 8 bytes from version 0.2 on."""
    if len(data) < 16:
        raise ConversionError(f"weights file too short for a Darknet header ({len(data)} bytes)")
    major, minor, revision = struct.unpack_from("<iii", data, 0)
    if major * 10 + minor >= 2 and major < 1000 and minor < 1000:
        if len(data) < 20:
            raise ConversionError("weights file too short for a Darknet header with a 64-bit 'seen'")
        (seen,) = struct.unpack_from("<Q", data, 12)
        return WeightsHeader(major, minor, revision, seen, 20)
    (seen,) = struct.unpack_from("<i", data, 12)
    return WeightsHeader(major, minor, revision, seen, 16)


def build_layers(sections: list[Section], flavour: str = "pjreddie") -> tuple[NetOptions, list[Layer]]:
    """Walk the cfg like parse_network_cfg: each section through its layer kind, options checked."""
    net_section, *layer_sections = sections
    net = net_options(net_section, flavour)
    layers: list[Layer] = []
    for index, section in enumerate(layer_sections):
        kind = LAYER_KINDS.get(section.kind)
        if kind is None:
            supported = ", ".join(sorted({k.kinds[0] for k in LAYER_KINDS.values()}))
            raise ConversionError(
                f"layer {index} [{section.kind}] (cfg line {section.line}): layer type "
                f"[{section.kind}] is not supported (supported: {supported})"
            )
        layers.append(kind(index, section, layers, net))
    if not any(isinstance(layer, HEAD_KINDS) for layer in layers):
        raise ConversionError("the network has no [yolo] or [region] layer: nothing to detect with")
    return net, layers


def conv_layers(layers: list[Layer]) -> list[Convolutional]:
    """The convolutional layers in weights-file order."""
    return [layer for layer in layers if isinstance(layer, Convolutional)]


def weights_bytes_needed(layers: list[Layer]) -> int:
    """Bytes after the header a weights file for these layers holds, as load_weights reads them."""
    return 4 * sum(layer.conv.float_count for layer in conv_layers(layers))


def read_conv_weights(data: bytes, header: WeightsHeader, layers: list[Layer]) -> list[ConvWeights]:
    """Slice the weights file like load_convolutional_weights; a file that is too short or too long fails."""
    needed = weights_bytes_needed(layers)
    body = len(data) - header.size
    if body != needed:
        raise ConversionError(
            f"weights file holds {body} bytes after its header but the cfg needs {needed} "
            f"({needed // 4} floats): weights and cfg do not match"
        )
    values = np.frombuffer(data, dtype="<f4", offset=header.size)
    result = []
    offset = 0

    def take(count: int) -> np.ndarray:
        nonlocal offset
        chunk = values[offset : offset + count].astype(np.float32)
        offset += count
        return chunk

    for layer in conv_layers(layers):
        shape = layer.conv
        biases = take(shape.filters)
        scales = mean = variance = None
        if shape.batch_normalize:
            scales, mean, variance = take(shape.filters), take(shape.filters), take(shape.filters)
        kernel = take(shape.weight_count).reshape(
            shape.filters, shape.channels // shape.groups, shape.size, shape.size
        )
        result.append(ConvWeights(biases, scales, mean, variance, kernel))
    return result


def network_info(net: NetOptions, layers: list[Layer]) -> NetworkInfo:
    """Heads in layer order; the NMS kind is the last layer's, as the fork's test_detector reads it."""
    heads = [layer for layer in layers if isinstance(layer, HEAD_KINDS)]
    last = layers[-1]
    return NetworkInfo(
        width=net.width,
        height=net.height,
        channels=net.channels,
        heads=[head.head() for head in heads],
        letterbox=net.letterbox,
        nms_kind=getattr(last, "nms_kind", "default"),
        beta_nms=getattr(last, "beta_nms", 0.6),
        flavour=net.flavour,
    )


def build_model(cfg_path: Path, weights_path: Path, flavour: str = "pjreddie"):
    """The ONNX ModelProto for a cfg + weights pair, plus the NetworkInfo stored in its metadata."""
    from onnx import TensorProto, helper

    cfg_text = Path(cfg_path).read_text()
    data = Path(weights_path).read_bytes()
    net, layers = build_layers(parse_cfg(cfg_text), flavour)
    header = read_weights_header(data)
    graph = GraphBuilder(iter(read_conv_weights(data, header, layers)))
    for layer in layers:
        sources = [layers[j].output for j in layer.inputs] or [INPUT_NAME]
        produced = layer.emit(graph, sources)
        assert produced == layer.output, f"{layer.describe()} emitted {produced}"

    info = network_info(net, layers)
    outputs = [
        helper.make_tensor_value_info(
            head.output, TensorProto.FLOAT, [1, layers[head.layer].shape.c, head.height, head.width]
        )
        for head in info.heads
    ]
    input_info = helper.make_tensor_value_info(
        INPUT_NAME, TensorProto.FLOAT, [1, info.channels, info.height, info.width]
    )
    onnx_graph = helper.make_graph(
        graph.nodes, Path(cfg_path).stem, [input_info], outputs, initializer=graph.initializers
    )
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=SERVICE_NAME
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(
        model,
        {
            METADATA_KEY: info.to_json(),
            "cfg_sha256": hashlib.sha256(cfg_text.encode()).hexdigest(),
            "weights_sha256": hashlib.sha256(data).hexdigest(),
            "weights_version": f"{header.major}.{header.minor}.{header.revision}",
        },
    )
    return model, info


def convert(cfg_path: Path, weights_path: Path, out_path: Path, flavour: str = "pjreddie") -> str:
    """Write the ONNX file, checked by onnx's checker; returns a one-line summary."""
    import onnx

    model, info = build_model(cfg_path, weights_path, flavour)
    onnx.checker.check_model(model, full_check=True)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, out_path)
    convs = sum(1 for node in model.graph.node if node.op_type == "Conv")
    heads = ", ".join(f"{h.output} {h.width}x{h.height}" for h in info.heads)
    return (
        f"{out_path}: {len(model.graph.node)} nodes ({convs} conv), input {info.channels}x{info.height}x"
        f"{info.width}, {'letterbox' if info.letterbox else 'resize'}, heads [{heads}], nms {info.nms_kind}, "
        f"{out_path.stat().st_size} bytes"
    )


def write_random_weights(
    cfg_path: Path, out_path: Path, seed: int = 0, *, quiet_heads: bool = True, gain: float = 2.0
) -> int:
    """Write a weights file of the right shape for cfg_path, filled with random values.

    For timing and parity checks of models whose real weights cannot be fetched: the network does the same
    arithmetic, but its detections are meaningless, so these files must never be used for detection. Returns
    the bytes written. With quiet_heads the convolutions feeding detection heads get zero objectness kernels
    and a -30 bias: random objectness would otherwise flood NMS with tens of thousands of boxes and time NMS
    instead of the network. Kernels are normal with variance gain/fan-in: 2 (He) for timing, smaller for
    parity checks of deep networks, whose activations would otherwise overflow to inf through 100+ layers.
    """
    _, layers = build_layers(parse_cfg(Path(cfg_path).read_text()), "fork")
    rng = np.random.default_rng(seed)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as handle:
        handle.write(struct.pack("<iiiQ", 0, 2, 0, 0))
        for layer in conv_layers(layers):
            shape = layer.conv
            fan_in = shape.weight_count // shape.filters
            biases = rng.normal(0.0, 0.01, shape.filters)
            kernel = rng.normal(0.0, np.sqrt(gain / fan_in), (shape.filters, fan_in))
            following = layers[layer.index + 1] if layer.index + 1 < len(layers) else None
            if quiet_heads and isinstance(following, HEAD_KINDS):
                objectness = np.arange(4, shape.filters, following.classes + 5)
                biases[objectness] = -30.0
                kernel[objectness] = 0.0
            parts = [biases]
            if shape.batch_normalize:
                parts += [
                    rng.uniform(0.8, 1.2, shape.filters),
                    rng.normal(0.0, 0.01, shape.filters),
                    rng.uniform(0.8, 1.2, shape.filters),
                ]
            parts.append(kernel.reshape(-1))
            handle.write(np.concatenate(parts).astype("<f4").tobytes())
    return out_path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cfg", type=Path)
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--flavour",
        choices=FLAVOURS,
        default="pjreddie",
        help="the Darknet that trained the model (pjreddie's letterboxes, the fork if letter_box=1)",
    )
    args = parser.parse_args(argv)
    try:
        print(convert(args.cfg, args.weights, args.out, args.flavour))
    except ConversionError as error:
        print(f"conversion failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
