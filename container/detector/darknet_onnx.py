"""Convert a Darknet cfg + weights into an ONNX graph that computes exactly what Darknet's forward pass does.

Run at image build time (`python3 -m detector.darknet_onnx CFG WEIGHTS OUT.onnx`); the runtime only needs
onnxruntime. Layer semantics follow Darknet's parser.c and *_layer.c. YOLO layers are graph outputs carrying
the raw convolution map; their decoding (anchors, letterbox correction) lives in the engine, in numpy, and the
parameters it needs travel inside the ONNX file as metadata so graph and decoder cannot drift apart.

The cfg and weights header parsing here is plain Python and numpy, so `write_random_weights` and the
parsers work without the `onnx` package, which is imported only when a graph is built.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METADATA_KEY = "darknet"
INPUT_NAME = "image"
OPSET = 13
IR_VERSION = 8
# Darknet's normalize_cpu divides by (sqrt(variance) + .000001f), not sqrt(variance + eps).
BATCHNORM_EPS = np.float32(0.000001)
LEAKY_SLOPE = 0.1
SUPPORTED_ACTIVATIONS = ("linear", "leaky", "relu", "logistic")


class ConversionError(ValueError):
    """The cfg or weights cannot be converted faithfully; the message names the layer and the reason."""


@dataclass
class Section:
    """One [section] of a Darknet cfg, with the line it starts on for error messages."""

    kind: str
    line: int
    options: dict[str, str] = field(default_factory=dict)

    def text(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def integer(self, key: str, default: int) -> int:
        value = self.options.get(key)
        return default if value is None else int(_c_atof(value))

    def real(self, key: str, default: float) -> float:
        value = self.options.get(key)
        return default if value is None else _c_atof(value)


def _c_atof(value: str) -> float:
    """Darknet reads numbers with atoi/atof: a leading numeric prefix, the rest ignored."""
    digits = ""
    for char in value:
        if char.isdigit() or char in "+-.eE":
            digits += char
        else:
            break
    while digits:
        try:
            return float(digits)
        except ValueError:
            digits = digits[:-1]
    return 0.0


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


@dataclass
class Layer:
    """A cfg layer with the shapes Darknet computes for it (channels, height, width of its output)."""

    index: int
    section: Section
    out_c: int
    out_h: int
    out_w: int
    inputs: list[int] = field(default_factory=list)

    def describe(self) -> str:
        return f"layer {self.index} [{self.section.kind}] (cfg line {self.section.line})"


@dataclass(frozen=True)
class ConvShape:
    filters: int
    channels: int
    size: int
    stride: int
    padding: int
    groups: int
    batch_normalize: bool
    activation: str

    @property
    def weight_count(self) -> int:
        return self.filters * (self.channels // self.groups) * self.size * self.size

    @property
    def float_count(self) -> int:
        """Floats this layer reads from the weights file, in load_convolutional_weights' order."""
        return self.filters * (4 if self.batch_normalize else 1) + self.weight_count


def _conv_shape(section: Section, channels: int) -> ConvShape:
    size = section.integer("size", 1)
    padding = size // 2 if section.integer("pad", 0) else section.integer("padding", 0)
    return ConvShape(
        filters=section.integer("filters", 1),
        channels=channels,
        size=size,
        stride=section.integer("stride", 1),
        padding=padding,
        groups=section.integer("groups", 1),
        batch_normalize=bool(section.integer("batch_normalize", 0)),
        activation=section.text("activation", "logistic") or "logistic",
    )


def _maxpool_geometry(section: Section) -> tuple[int, int, int]:
    stride = section.integer("stride", 1)
    size = section.integer("size", stride)
    padding = section.integer("padding", size - 1)
    return size, stride, padding


def maxpool_pads(size: int, stride: int, padding: int, height: int, width: int) -> tuple[list[int], int, int]:
    """ONNX MaxPool pads reproducing forward_maxpool_layer, and Darknet's output height and width.

    Darknet offsets windows by -padding/2 (so size=2 stride=1 pads only right and bottom) and sizes the
    output as (w + padding - size)/stride + 1; cells outside the input count as -FLT_MAX, like ONNX pads.
    """
    begin = padding // 2
    out_h = (height + padding - size) // stride + 1
    out_w = (width + padding - size) // stride + 1
    end_h = max(0, (out_h - 1) * stride + size - height - begin)
    end_w = max(0, (out_w - 1) * stride + size - width - begin)
    return [begin, begin, end_h, end_w], out_h, out_w


def build_layers(sections: list[Section]) -> tuple[Section, list[Layer]]:
    """Walk the cfg like parse_network_cfg, computing each layer's output shape; reject what we cannot map."""
    net, *layer_sections = sections
    channels = net.integer("channels", 0)
    height = net.integer("height", 0)
    width = net.integer("width", 0)
    if not (channels and height and width):
        raise ConversionError("[net] must give width, height and channels")
    layers: list[Layer] = []
    for index, section in enumerate(layer_sections):
        previous = layers[-1] if layers else None
        prev_c, prev_h, prev_w = (
            (previous.out_c, previous.out_h, previous.out_w) if previous else (channels, height, width)
        )
        layer = Layer(index, section, prev_c, prev_h, prev_w, [index - 1])
        kind = section.kind
        if kind in ("convolutional", "conv"):
            shape = _conv_shape(section, prev_c)
            if section.integer("binary", 0) or section.integer("xnor", 0):
                raise ConversionError(f"{layer.describe()}: binary/xnor convolutions are not supported")
            if shape.activation not in SUPPORTED_ACTIVATIONS:
                raise ConversionError(
                    f"{layer.describe()}: activation {shape.activation!r} is not supported "
                    f"(supported: {', '.join(SUPPORTED_ACTIVATIONS)})"
                )
            if prev_c % shape.groups or shape.filters % shape.groups:
                raise ConversionError(f"{layer.describe()}: groups={shape.groups} does not divide channels")
            layer.out_c = shape.filters
            layer.out_h = (prev_h + 2 * shape.padding - shape.size) // shape.stride + 1
            layer.out_w = (prev_w + 2 * shape.padding - shape.size) // shape.stride + 1
        elif kind in ("maxpool", "max"):
            size, stride, padding = _maxpool_geometry(section)
            _, layer.out_h, layer.out_w = maxpool_pads(size, stride, padding, prev_h, prev_w)
        elif kind == "route":
            layer.inputs = _layer_refs(section, "layers", index, layers)
            sources = [layers[i] for i in layer.inputs]
            if any((s.out_h, s.out_w) != (sources[0].out_h, sources[0].out_w) for s in sources):
                raise ConversionError(f"{layer.describe()}: routed layers differ in height or width")
            layer.out_c = sum(s.out_c for s in sources)
            layer.out_h, layer.out_w = sources[0].out_h, sources[0].out_w
        elif kind in ("upsample",):
            stride = section.integer("stride", 2)
            if stride < 1:
                raise ConversionError(f"{layer.describe()}: only positive upsample strides are supported")
            layer.out_h, layer.out_w = prev_h * stride, prev_w * stride
        elif kind == "shortcut":
            (source,) = _layer_refs(section, "from", index, layers)
            other = layers[source]
            if (other.out_c, other.out_h, other.out_w) != (prev_c, prev_h, prev_w):
                raise ConversionError(f"{layer.describe()}: shortcut between different shapes: unsupported")
            activation = section.text("activation", "linear")
            if activation not in SUPPORTED_ACTIVATIONS:
                raise ConversionError(f"{layer.describe()}: activation {activation!r} is not supported")
            layer.inputs = [index - 1, source]
        elif kind == "yolo":
            classes = section.integer("classes", 20)
            mask = _yolo_mask(section)
            if prev_c != len(mask) * (classes + 5):
                raise ConversionError(
                    f"{layer.describe()}: input has {prev_c} channels, expected "
                    f"{len(mask)} anchors x ({classes} classes + 5)"
                )
        else:
            raise ConversionError(f"{layer.describe()}: layer type [{kind}] is not supported")
        if index == 0 and layer.inputs == [-1]:
            layer.inputs = []
        layers.append(layer)
    if not any(layer.section.kind == "yolo" for layer in layers):
        raise ConversionError("the network has no [yolo] layer: nothing to detect with")
    return net, layers


def _layer_refs(section: Section, key: str, index: int, layers: list[Layer]) -> list[int]:
    value = section.text(key)
    if not value:
        raise ConversionError(f"layer {index} [{section.kind}] (cfg line {section.line}) needs {key}=")
    refs = []
    for item in value.split(","):
        ref = int(_c_atof(item))
        ref = index + ref if ref < 0 else ref
        if not 0 <= ref < index:
            raise ConversionError(f"layer {index} [{section.kind}] refers to layer {ref}, not an earlier one")
        refs.append(ref)
    return refs


def _yolo_mask(section: Section) -> list[int]:
    total = section.integer("num", 1)
    mask = section.text("mask")
    return [int(_c_atof(v)) for v in mask.split(",")] if mask else list(range(total))


def _yolo_anchors(section: Section) -> list[float]:
    """Anchors as float32 values, like parse_yolo's atof into l.biases (unset entries stay .5 in Darknet)."""
    total = section.integer("num", 1)
    anchors = [0.5] * (2 * total)
    text = section.text("anchors")
    if text:
        for i, value in enumerate(text.split(",")):
            if i < len(anchors):
                anchors[i] = _c_atof(value)
    return [float(np.float32(a)) for a in anchors]


def conv_shapes(net: Section, layers: list[Layer]) -> list[tuple[Layer, ConvShape]]:
    """The convolutional layers in weights-file order, each with the input channels it sees."""
    channels = net.integer("channels", 0)
    return [
        (layer, _conv_shape(layer.section, layers[layer.inputs[0]].out_c if layer.inputs else channels))
        for layer in layers
        if layer.section.kind in ("convolutional", "conv")
    ]


@dataclass(frozen=True)
class ConvWeights:
    biases: np.ndarray
    scales: np.ndarray | None
    rolling_mean: np.ndarray | None
    rolling_variance: np.ndarray | None
    weights: np.ndarray  # (filters, channels/groups, size, size)

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """Kernel and bias with inference batch norm folded in, computed in float64 then rounded once."""
        if self.scales is None:
            return self.weights, self.biases
        factor = self.scales.astype(np.float64) / (
            np.sqrt(self.rolling_variance.astype(np.float64)) + float(BATCHNORM_EPS)
        )
        kernel = self.weights.astype(np.float64) * factor[:, None, None, None]
        bias = self.biases.astype(np.float64) - self.rolling_mean.astype(np.float64) * factor
        return kernel.astype(np.float32), bias.astype(np.float32)


def read_conv_weights(
    data: bytes, header: WeightsHeader, shapes: list[tuple[Layer, ConvShape]]
) -> list[ConvWeights]:
    """Slice the weights file like load_convolutional_weights; a file that is too short or too long fails."""
    floats_needed = sum(shape.float_count for _, shape in shapes)
    body = len(data) - header.size
    if body != floats_needed * 4:
        raise ConversionError(
            f"weights file holds {body} bytes after its header but the cfg needs {floats_needed * 4} "
            f"({floats_needed} floats): weights and cfg do not match"
        )
    values = np.frombuffer(data, dtype="<f4", offset=header.size)
    result = []
    offset = 0

    def take(count: int) -> np.ndarray:
        nonlocal offset
        chunk = values[offset : offset + count].astype(np.float32)
        offset += count
        return chunk

    for _, shape in shapes:
        biases = take(shape.filters)
        scales = mean = variance = None
        if shape.batch_normalize:
            scales, mean, variance = take(shape.filters), take(shape.filters), take(shape.filters)
        kernel = take(shape.weight_count).reshape(
            shape.filters, shape.channels // shape.groups, shape.size, shape.size
        )
        result.append(ConvWeights(biases, scales, mean, variance, kernel))
    return result


@dataclass(frozen=True)
class YoloHead:
    """What the numpy decoder needs for one [yolo] layer; stored as JSON in the ONNX metadata."""

    output: str
    layer: int
    classes: int
    mask: list[int]
    anchors: list[float]
    height: int
    width: int


@dataclass(frozen=True)
class NetworkInfo:
    width: int
    height: int
    channels: int
    yolo: list[YoloHead]

    def to_json(self) -> str:
        return json.dumps(
            {
                "width": self.width,
                "height": self.height,
                "channels": self.channels,
                "yolo": [head.__dict__ for head in self.yolo],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> NetworkInfo:
        data = json.loads(text)
        return cls(data["width"], data["height"], data["channels"], [YoloHead(**h) for h in data["yolo"]])


def build_model(cfg_path: Path, weights_path: Path):
    """The ONNX ModelProto for a cfg + weights pair, plus the NetworkInfo stored in its metadata."""
    from onnx import TensorProto, helper, numpy_helper

    cfg_text = cfg_path.read_text()
    data = weights_path.read_bytes()
    net, layers = build_layers(parse_cfg(cfg_text))
    header = read_weights_header(data)
    shapes = conv_shapes(net, layers)
    weights = iter(read_conv_weights(data, header, shapes))
    conv_by_layer = {layer.index: shape for layer, shape in shapes}

    nodes, initializers, outputs, heads = [], [], [], []
    names: list[str] = []

    def constant(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(array, name))
        return name

    for layer in layers:
        section, i = layer.section, layer.index
        sources = [names[j] for j in layer.inputs] if layer.inputs else [INPUT_NAME]
        out = f"l{i}_{section.kind}"
        if layer.index in conv_by_layer:
            shape = conv_by_layer[layer.index]
            kernel, bias = next(weights).folded()
            conv_out = out if shape.activation == "linear" else f"{out}_pre"
            pads = [shape.padding] * 4
            nodes.append(
                helper.make_node(
                    "Conv",
                    [sources[0], constant(f"l{i}_w", kernel), constant(f"l{i}_b", bias)],
                    [conv_out],
                    kernel_shape=[shape.size, shape.size],
                    strides=[shape.stride, shape.stride],
                    pads=pads,
                    group=shape.groups,
                )
            )
            nodes.extend(_activation(helper, shape.activation, conv_out, out))
        elif section.kind in ("maxpool", "max"):
            size, stride, padding = _maxpool_geometry(section)
            prev = layers[i - 1] if i else None
            height = prev.out_h if prev else net.integer("height", 0)
            width = prev.out_w if prev else net.integer("width", 0)
            pads, _, _ = maxpool_pads(size, stride, padding, height, width)
            nodes.append(
                helper.make_node(
                    "MaxPool", sources, [out], kernel_shape=[size, size], strides=[stride, stride], pads=pads
                )
            )
        elif section.kind == "route":
            if len(sources) == 1:
                nodes.append(helper.make_node("Identity", sources, [out]))
            else:
                nodes.append(helper.make_node("Concat", sources, [out], axis=1))
        elif section.kind == "upsample":
            stride = float(section.integer("stride", 2))
            scale = section.real("scale", 1.0)
            resized = out if scale == 1.0 else f"{out}_unscaled"
            scales = constant(f"l{i}_scales", np.array([1, 1, stride, stride], dtype=np.float32))
            nodes.append(
                helper.make_node(
                    "Resize",
                    [sources[0], "", scales],
                    [resized],
                    mode="nearest",
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            )
            if scale != 1.0:
                factor = constant(f"l{i}_scale", np.array(scale, dtype=np.float32))
                nodes.append(helper.make_node("Mul", [resized, factor], [out]))
        elif section.kind == "shortcut":
            alpha, beta = section.real("alpha", 1.0), section.real("beta", 1.0)
            terms = []
            for source, coefficient, tag in ((sources[0], alpha, "a"), (sources[1], beta, "b")):
                if coefficient == 1.0:
                    terms.append(source)
                else:
                    weighted = f"{out}_{tag}"
                    factor = constant(f"l{i}_{tag}", np.array(coefficient, dtype=np.float32))
                    nodes.append(helper.make_node("Mul", [source, factor], [weighted]))
                    terms.append(weighted)
            activation = section.text("activation", "linear") or "linear"
            summed = out if activation == "linear" else f"{out}_pre"
            nodes.append(helper.make_node("Add", terms, [summed]))
            nodes.extend(_activation(helper, activation, summed, out))
        elif section.kind == "yolo":
            nodes.append(helper.make_node("Identity", sources, [out]))
            prev = layers[i - 1]
            heads.append(
                YoloHead(
                    output=out,
                    layer=i,
                    classes=section.integer("classes", 20),
                    mask=_yolo_mask(section),
                    anchors=_yolo_anchors(section),
                    height=prev.out_h,
                    width=prev.out_w,
                )
            )
            outputs.append(
                helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, prev.out_c, prev.out_h, prev.out_w])
            )
        names.append(out)

    info = NetworkInfo(net.integer("width", 0), net.integer("height", 0), net.integer("channels", 0), heads)
    input_shape = [1, info.channels, info.height, info.width]
    input_info = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, input_shape)
    graph = helper.make_graph(
        nodes,
        cfg_path.stem,
        [input_info],
        outputs,
        initializer=initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="darknet-lambda"
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


def _activation(helper, activation: str, source: str, out: str) -> list:
    if activation == "linear":
        return []
    if activation == "leaky":
        return [helper.make_node("LeakyRelu", [source], [out], alpha=LEAKY_SLOPE)]
    if activation == "relu":
        return [helper.make_node("Relu", [source], [out])]
    return [helper.make_node("Sigmoid", [source], [out])]


def convert(cfg_path: Path, weights_path: Path, out_path: Path) -> str:
    """Write the ONNX file, checked by onnx's checker; returns a one-line summary."""
    import onnx

    model, info = build_model(cfg_path, weights_path)
    onnx.checker.check_model(model, full_check=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, out_path)
    convs = sum(1 for node in model.graph.node if node.op_type == "Conv")
    heads = ", ".join(f"{h.output} {h.width}x{h.height}" for h in info.yolo)
    return (
        f"{out_path}: {len(model.graph.node)} nodes ({convs} conv), input {info.channels}x{info.height}x"
        f"{info.width}, yolo outputs [{heads}], {out_path.stat().st_size} bytes"
    )


def write_random_weights(cfg_path: Path, out_path: Path, seed: int = 0) -> int:
    """Write a weights file of the right shape for cfg_path, filled with random values.

    For timing models whose real weights cannot be fetched: the network does the same arithmetic, but its
    detections are meaningless, so these files must never be used for detection. Returns the bytes written.
    The convolutions feeding [yolo] layers get zero objectness kernels and a -30 bias: random objectness
    would otherwise flood NMS with tens of thousands of boxes and time NMS instead of the network.
    """
    net, layers = build_layers(parse_cfg(Path(cfg_path).read_text()))
    rng = np.random.default_rng(seed)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as handle:
        handle.write(struct.pack("<iiiQ", 0, 2, 0, 0))
        for layer, shape in conv_shapes(net, layers):
            fan_in = shape.weight_count // shape.filters
            biases = rng.normal(0.0, 0.01, shape.filters)
            kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), (shape.filters, fan_in))
            feeds_yolo = layer.index + 1 < len(layers) and layers[layer.index + 1].section.kind == "yolo"
            if feeds_yolo:
                head = layers[layer.index + 1].section
                objectness = np.arange(4, shape.filters, head.integer("classes", 20) + 5)
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
    args = parser.parse_args(argv)
    try:
        print(convert(args.cfg, args.weights, args.out))
    except ConversionError as error:
        print(f"conversion failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
