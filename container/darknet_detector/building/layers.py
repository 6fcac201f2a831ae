"""Darknet's layer kinds, one class each: the options it understands, its output shape and its ONNX nodes.

A cfg section becomes a layer through LAYER_KINDS. Every option of a section is either read by its class
(and then implemented faithfully or refused with an error), listed as training-only (ignored: it does not
change what the network computes at inference) or an error, so nothing a cfg asks for is silently dropped.
Semantics follow the *_layer.c and parser.c sources of the Darknet named by each network's flavour:
pjreddie's original Darknet (the CLI in the image) or the maintained fork (AlexeyAB's, now hank-ai's),
which added mish/swish, route groups, scale_x_y, new_coords and the NMS kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from darknet_detector.contract import FLAVOURS
from darknet_detector.model_format import RegionHead, YoloHead

# Darknet's normalize_cpu divides by (sqrt(variance) + .000001f), not sqrt(variance + eps).
BATCHNORM_EPS = np.float32(0.000001)
LEAKY_SLOPE = 0.1
ACTIVATIONS = ("linear", "leaky", "relu", "logistic", "mish", "swish")
# What pjreddie's Darknet does not have: it ignores these options ("Unused field") and runs relu for an
# activation it does not know, so a model using them was trained by the fork.
FORK_ONLY_OPTIONS = frozenset({"groups", "group_id", "scale_x_y", "new_coords", "nms_kind", "beta_nms"})
FORK_ONLY_ACTIVATIONS = frozenset({"mish", "swish"})
NMS_KINDS = ("default", "greedynms", "diounms")


class ConversionError(ValueError):
    """The cfg or weights cannot be converted faithfully; the message names the layer and the reason."""


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def c_atof(value: str) -> float:
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


@dataclass
class Section:
    """One [section] of a Darknet cfg, with the lines it and each option are on, for error messages."""

    kind: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def text(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def integer(self, key: str, default: int) -> int:
        value = self.options.get(key)
        return default if value is None else int(c_atof(value))

    def real(self, key: str, default: float) -> float:
        value = self.options.get(key)
        return default if value is None else c_atof(value)

    def integers(self, key: str) -> list[int]:
        value = self.options.get(key) or ""
        return [int(c_atof(item)) for item in value.split(",") if item]


class GraphBuilder:
    """Collects ONNX nodes and initializers; layers add theirs through it and get tensor names back."""

    def __init__(self, conv_weights):
        from onnx import helper, numpy_helper

        self.helper, self._numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self._conv_weights = conv_weights

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attributes))
        return output

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self._numpy_helper.from_array(np.asarray(array), name))
        return name

    def next_conv_weights(self) -> ConvWeights:
        return next(self._conv_weights)

    def activation(self, activation: str, source: str, out: str) -> str:
        """activate_array at inference; mish and swish as the fork computes them."""
        if activation == "linear":
            return self.node("Identity", [source], out)
        if activation == "leaky":
            return self.node("LeakyRelu", [source], out, alpha=LEAKY_SLOPE)
        if activation == "relu":
            return self.node("Relu", [source], out)
        if activation == "logistic":
            return self.node("Sigmoid", [source], out)
        if activation == "mish":
            softplus = self.node("Softplus", [source], f"{out}_softplus")
            return self.node("Mul", [source, self.node("Tanh", [softplus], f"{out}_tanh")], out)
        if activation == "swish":
            return self.node("Mul", [source, self.node("Sigmoid", [source], f"{out}_sigmoid")], out)
        raise AssertionError(f"unchecked activation {activation}")


@dataclass(frozen=True)
class ConvShape:
    filters: int
    channels: int
    size: int
    stride: int
    padding: int
    groups: int
    batch_normalize: bool

    @property
    def weight_count(self) -> int:
        return self.filters * (self.channels // self.groups) * self.size * self.size

    @property
    def float_count(self) -> int:
        """Floats this layer reads from the weights file, in load_convolutional_weights' order."""
        return self.filters * (4 if self.batch_normalize else 1) + self.weight_count


@dataclass(frozen=True)
class ConvWeights:
    biases: np.ndarray
    scales: np.ndarray | None
    rolling_mean: np.ndarray | None
    rolling_variance: np.ndarray | None
    weights: np.ndarray  # (filters, channels/groups, size, size)

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """Kernel and bias with inference batch norm folded in, computed in float64 then rounded once."""
        if self.scales is None or self.rolling_mean is None or self.rolling_variance is None:
            return self.weights, self.biases  # no batch norm: Darknet reads all three or none
        factor = self.scales.astype(np.float64) / (
            np.sqrt(self.rolling_variance.astype(np.float64)) + float(BATCHNORM_EPS)
        )
        kernel = self.weights.astype(np.float64) * factor[:, None, None, None]
        bias = self.biases.astype(np.float64) - self.rolling_mean.astype(np.float64) * factor
        return kernel.astype(np.float32), bias.astype(np.float32)


@dataclass(frozen=True)
class Shape:
    c: int
    h: int
    w: int


class Layer:
    """A cfg section turned into a layer: options checked, output shape computed, ready to emit its nodes."""

    shape: Shape  # the output's, set by configure

    kinds: ClassVar[tuple[str, ...]]
    options: ClassVar[frozenset[str]] = frozenset()
    # Inference options Darknet knows that this converter does not implement, with the value that is harmless.
    refused: ClassVar[dict[str, str]] = {}
    training_options: ClassVar[frozenset[str]] = frozenset()
    # Fork options that only steer training, accepted on every layer.
    common_training_options: ClassVar[frozenset[str]] = frozenset(
        {"stopbackward", "dont_update", "burnin_update", "train_only_bn"}
    )

    def __init__(self, index: int, section: Section, previous: list[Layer], net: NetOptions):
        self.index, self.section, self.net = index, section, net
        self.inputs: list[int] = [index - 1] if index else []
        self.output = f"l{index}_{section.kind}"
        self._check_options()
        input_shape = previous[-1].shape if previous else Shape(net.channels, net.height, net.width)
        self.shape = self.configure(input_shape, previous)

    def describe(self) -> str:
        return f"layer {self.index} [{self.section.kind}] (cfg line {self.section.line})"

    def error(self, message: str, option: str | None = None) -> ConversionError:
        where = self.describe()
        if option is not None:
            value = self.section.options.get(option)
            where += (
                f", option {option}={value} on cfg line {self.section.lines.get(option, self.section.line)}"
            )
        return ConversionError(f"{where}: {message}")

    def _check_options(self) -> None:
        for key, value in self.section.options.items():
            if self.net.flavour == "pjreddie" and (
                (key in FORK_ONLY_OPTIONS and not isinstance(self, Convolutional))
                or (key == "activation" and value in FORK_ONLY_ACTIVATIONS)
            ):
                raise self.error(
                    "only the maintained fork has this: convert the model with flavour fork", key
                )
            if key in self.options or key in self.training_options or key in self.common_training_options:
                continue
            if key in self.refused:
                if value != self.refused[key]:
                    raise self.error("changes inference and is not supported by the converter", key)
                continue
            raise self.error(f"unknown option for [{self.section.kind}], refused rather than ignored", key)

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        """Read the options and return the output shape, as the make_*_layer function would."""
        raise NotImplementedError

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        """Add this layer's nodes; sources are the tensors of self.inputs (the image for layer 0)."""
        raise NotImplementedError

    def refs(self, key: str, previous: list[Layer]) -> list[int]:
        """Layer references like parse_route's: negative ones count back from this layer."""
        if not self.section.text(key):
            raise self.error(f"needs {key}=")
        refs = []
        for ref in self.section.integers(key):
            absolute = self.index + ref if ref < 0 else ref
            if not 0 <= absolute < self.index:
                raise self.error(f"refers to layer {absolute}, not an earlier one", key)
            refs.append(absolute)
        return refs

    def checked_activation(self, default: str) -> str:
        activation = self.section.text("activation", default) or default
        if activation not in ACTIVATIONS:
            raise self.error(
                f"activation {activation!r} is not supported ({', '.join(ACTIVATIONS)})", "activation"
            )
        return activation


@dataclass(frozen=True)
class NetOptions:
    """The [net] section's inference settings, with the flavour deciding what Darknet does by default."""

    width: int
    height: int
    channels: int
    letterbox: bool
    flavour: str


NET_OPTIONS = frozenset({"width", "height", "channels", "letter_box"})
NET_TRAINING_OPTIONS = words(
    """batch subdivisions momentum decay angle saturation exposure hue learning_rate burn_in max_batches
    policy steps scales mosaic mosaic_bound cutmix mixup blur gaussian_noise flip power max_chart_loss
    loss_scale dynamic_minibatch optimized_memory workspace_size_limit_MB adam B1 B2 eps track
    augment_speed sequential_subdivisions try_fix_nan label_smooth_eps resize_step contrastive
    unsupervised min_crop max_crop aspect jitter_bound seed gamma step letter_box_test
    adversarial_lr attention"""
)


def net_options(section: Section, flavour: str) -> NetOptions:
    """[net] as parse_net_options reads it; pjreddie's test_detector letterboxes, the fork if letter_box."""
    if flavour not in FLAVOURS:
        raise ConversionError(f"unknown Darknet flavour {flavour!r} (one of {', '.join(FLAVOURS)})")
    for key in section.options:
        if key not in NET_OPTIONS and key not in NET_TRAINING_OPTIONS:
            raise ConversionError(
                f"[net] (cfg line {section.line}), option {key}={section.options[key]} on cfg line "
                f"{section.lines.get(key, section.line)}: unknown option, refused rather than ignored"
            )
    options = NetOptions(
        width=section.integer("width", 0),
        height=section.integer("height", 0),
        channels=section.integer("channels", 0),
        letterbox=True if flavour == "pjreddie" else bool(section.integer("letter_box", 0)),
        flavour=flavour,
    )
    if not (options.width and options.height and options.channels):
        raise ConversionError("[net] must give width, height and channels")
    if options.channels != 3:
        raise ConversionError(
            f"[net] (cfg line {section.line}), option channels={options.channels}: detector test feeds "
            "3-channel colour images, so only channels=3 is supported"
        )
    return options


class Convolutional(Layer):
    kinds = ("convolutional", "conv")
    options = frozenset(
        {"filters", "size", "stride", "pad", "padding", "groups", "batch_normalize", "activation"}
    )
    refused: ClassVar[dict[str, str]] = {
        "binary": "0",
        "xnor": "0",
        "dilation": "1",
        "antialiasing": "0",
        "flipped": "0",
        "dot": "0",
        "coordconv": "0",
        "deform": "0",
        "bin_output": "0",
        "sway": "0",
        "rotate": "0",
        "stretch": "0",
        "stretch_sway": "0",
        "assisted_excitation": "0",
    }

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        section = self.section
        size = section.integer("size", 1)
        stride = section.integer("stride", 1)
        for key in ("stride_x", "stride_y", "share_index"):
            if key in section.options:
                raise self.error("changes inference and is not supported by the converter", key)
        self.conv = ConvShape(
            filters=section.integer("filters", 1),
            channels=shape.c,
            size=size,
            stride=stride,
            padding=size // 2 if section.integer("pad", 0) else section.integer("padding", 0),
            groups=section.integer("groups", 1),
            batch_normalize=bool(section.integer("batch_normalize", 0)),
        )
        self.activation = self.checked_activation("logistic")
        if shape.c % self.conv.groups or self.conv.filters % self.conv.groups:
            raise self.error(f"groups={self.conv.groups} does not divide {shape.c} input channels", "groups")

        def out(n: int) -> int:
            return (n + 2 * self.conv.padding - size) // stride + 1

        return Shape(self.conv.filters, out(shape.h), out(shape.w))

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        kernel, bias = graph.next_conv_weights().folded()
        i, conv = self.index, self.conv
        linear = self.activation == "linear"
        conv_out = graph.node(
            "Conv",
            [sources[0], graph.constant(f"l{i}_w", kernel), graph.constant(f"l{i}_b", bias)],
            self.output if linear else f"{self.output}_pre",
            kernel_shape=[conv.size, conv.size],
            strides=[conv.stride, conv.stride],
            pads=[conv.padding] * 4,
            group=conv.groups,
        )
        return conv_out if linear else graph.activation(self.activation, conv_out, self.output)


def maxpool_pads(size: int, stride: int, padding: int, height: int, width: int) -> tuple[list[int], int, int]:
    """ONNX MaxPool pads reproducing forward_maxpool_layer, and Darknet's output height and width.

    Darknet offsets windows by -padding/2 (so size=2 stride=1 pads only right and bottom, and SPP's
    sizes 5, 9, 13 at stride 1 pad evenly) and sizes the output as (w + padding - size)/stride + 1;
    cells outside the input count as -FLT_MAX, like ONNX pads.
    """
    begin = padding // 2
    out_h = (height + padding - size) // stride + 1
    out_w = (width + padding - size) // stride + 1
    end_h = max(0, (out_h - 1) * stride + size - height - begin)
    end_w = max(0, (out_w - 1) * stride + size - width - begin)
    return [begin, begin, end_h, end_w], out_h, out_w


class Maxpool(Layer):
    kinds = ("maxpool", "max")
    options = frozenset({"size", "stride", "padding"})
    refused: ClassVar[dict[str, str]] = {"maxpool_depth": "0", "antialiasing": "0", "out_channels": "1"}

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        for key in ("stride_x", "stride_y"):
            if key in self.section.options:
                raise self.error("changes inference and is not supported by the converter", key)
        self.stride = self.section.integer("stride", 1)
        self.size = self.section.integer("size", self.stride)
        padding = self.section.integer("padding", self.size - 1)
        self.pads, out_h, out_w = maxpool_pads(self.size, self.stride, padding, shape.h, shape.w)
        return Shape(shape.c, out_h, out_w)

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        return graph.node(
            "MaxPool",
            sources,
            self.output,
            kernel_shape=[self.size, self.size],
            strides=[self.stride, self.stride],
            pads=self.pads,
        )


class Route(Layer):
    """forward_route_layer: each input gives its channel slice group_id of groups (the fork), concatenated."""

    kinds = ("route",)
    options = frozenset({"layers", "groups", "group_id"})

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        self.inputs = self.refs("layers", previous)
        self.groups = self.section.integer("groups", 1)
        self.group_id = self.section.integer("group_id", 0)
        if self.groups < 1 or not 0 <= self.group_id < self.groups:
            raise self.error(f"group_id must be in 0..groups-1 (groups={self.groups})", "group_id")
        sources = [previous[i].shape for i in self.inputs]
        if any((s.h, s.w) != (sources[0].h, sources[0].w) for s in sources):
            raise self.error("routed layers differ in height or width", "layers")
        if any(s.c % self.groups for s in sources):
            raise self.error(f"groups={self.groups} does not divide the routed channels", "groups")
        self.source_channels = [s.c for s in sources]
        return Shape(sum(s.c // self.groups for s in sources), sources[0].h, sources[0].w)

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        parts = []
        for number, (source, channels) in enumerate(zip(sources, self.source_channels, strict=True)):
            if self.groups == 1:
                parts.append(source)
                continue
            width = channels // self.groups
            start = width * self.group_id
            parts.append(
                graph.node(
                    "Slice",
                    [
                        source,
                        graph.constant(f"l{self.index}_{number}_start", np.array([start], np.int64)),
                        graph.constant(f"l{self.index}_{number}_end", np.array([start + width], np.int64)),
                        graph.constant(f"l{self.index}_{number}_axis", np.array([1], np.int64)),
                    ],
                    f"{self.output}_part{number}",
                )
            )
        if len(parts) == 1:
            return graph.node("Identity", parts, self.output)
        return graph.node("Concat", parts, self.output, axis=1)


class Shortcut(Layer):
    kinds = ("shortcut",)
    options = frozenset({"from", "activation", "alpha", "beta"})
    refused: ClassVar[dict[str, str]] = {"weights_type": "none", "weights_normalization": "none"}

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        (source,) = self.refs("from", previous)
        if previous[source].shape != shape:
            raise self.error("shortcut between layers of different shapes is not supported", "from")
        self.activation = self.checked_activation("linear")
        self.inputs = [self.index - 1, source]
        self.alpha, self.beta = self.section.real("alpha", 1.0), self.section.real("beta", 1.0)
        return shape

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        terms = []
        for source, coefficient, tag in ((sources[0], self.alpha, "a"), (sources[1], self.beta, "b")):
            if coefficient == 1.0:
                terms.append(source)
            else:
                factor = graph.constant(f"l{self.index}_{tag}", np.array(coefficient, dtype=np.float32))
                terms.append(graph.node("Mul", [source, factor], f"{self.output}_{tag}"))
        linear = self.activation == "linear"
        summed = graph.node("Add", terms, self.output if linear else f"{self.output}_pre")
        return summed if linear else graph.activation(self.activation, summed, self.output)


class Upsample(Layer):
    kinds = ("upsample",)
    options = frozenset({"stride", "scale"})

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        self.stride = self.section.integer("stride", 2)
        if self.stride < 1:
            raise self.error("only positive upsample strides are supported", "stride")
        self.scale = self.section.real("scale", 1.0)
        return Shape(shape.c, shape.h * self.stride, shape.w * self.stride)

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        scales = graph.constant(
            f"l{self.index}_scales", np.array([1, 1, self.stride, self.stride], dtype=np.float32)
        )
        unscaled = self.scale == 1.0
        resized = graph.node(
            "Resize",
            [sources[0], "", scales],
            self.output if unscaled else f"{self.output}_unscaled",
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )
        if unscaled:
            return resized
        factor = graph.constant(f"l{self.index}_scale", np.array(self.scale, dtype=np.float32))
        return graph.node("Mul", [resized, factor], self.output)


class Reorg(Layer):
    """reorg_cpu(..., forward=0) as each flavour calls it.

    pjreddie passes the input's w, h, c: the input read as (c/s², h·s, w·s) is scattered into (c, h, w)
    order, the quirk YOLOv2's weights were trained with. The fork passes the output's sizes, which makes it
    a plain space-to-depth with channel blocks (dy·s + dx)·c + channel.
    """

    kinds = ("reorg",)
    options = frozenset({"stride"})
    refused: ClassVar[dict[str, str]] = {"reverse": "0", "flatten": "0", "extra": "0"}

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        self.stride = s = self.section.integer("stride", 1)
        if s < 1 or shape.h % s or shape.w % s or (self.net.flavour == "pjreddie" and shape.c % (s * s)):
            raise self.error(f"stride {s} does not divide the input {shape.c}x{shape.h}x{shape.w}", "stride")
        self.input_shape = shape
        return Shape(shape.c * s * s, shape.h // s, shape.w // s)

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        s, shape = self.stride, self.input_shape
        # Both read the input as X[c2][j*s + dy][i*s + dx] and write out[(dy*s + dx)*C + c2][j][i]; pjreddie's
        # X is (c/s², h*s, w*s) and its out (c, h, w), the fork's X is (c, h, w) and its out (c*s², h/s, w/s).
        if self.net.flavour == "pjreddie":
            split = [1, shape.c // (s * s), shape.h, s, shape.w, s]
        else:
            split = [1, shape.c, shape.h // s, s, shape.w // s, s]
        order = [0, 3, 5, 1, 2, 4]
        i = self.index
        reshaped = graph.node(
            "Reshape",
            [sources[0], graph.constant(f"l{i}_split", np.array(split, np.int64))],
            f"{self.output}_split",
        )
        moved = graph.node("Transpose", [reshaped], f"{self.output}_moved", perm=order)
        out_shape = np.array([1, self.shape.c, self.shape.h, self.shape.w], np.int64)
        return graph.node("Reshape", [moved, graph.constant(f"l{i}_shape", out_shape)], self.output)


class Dropout(Layer):
    """forward_dropout_layer does nothing outside training."""

    kinds = ("dropout",)
    training_options = frozenset({"probability"})
    refused: ClassVar[dict[str, str]] = {"dropblock": "0"}

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        return shape

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        return graph.node("Identity", sources, self.output)


def anchor_values(section: Section, total: int) -> list[float]:
    """Anchors as float32 values, as parse_yolo/parse_region's atof fills l.biases (unset ones stay .5)."""
    anchors = [0.5] * (2 * total)
    for i, value in enumerate((section.text("anchors") or "").split(",")):
        if value and i < len(anchors):
            anchors[i] = c_atof(value)
    return [float(np.float32(a)) for a in anchors]


class Yolo(Layer):
    """A detection head: the graph passes the raw map through; darknet_detector.engines.heads decodes it like
    yolo_layer.c."""

    kinds = ("yolo",)
    options = frozenset(
        {"mask", "anchors", "classes", "num", "scale_x_y", "new_coords", "nms_kind", "beta_nms"}
    )
    training_options = words(
        """jitter ignore_thresh truth_thresh random resize iou_loss iou_normalizer iou_thresh cls_normalizer
        obj_normalizer max_delta objectness_smooth label_smooth_eps focal_loss counters_per_class
        max iou_thresh_kind track_history_size sim_thresh dets_for_show dets_for_track
        track_ciou_norm"""
    )
    refused: ClassVar[dict[str, str]] = {"map": "", "embedding_layer": "0"}

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        self.classes = self.section.integer("classes", 20)
        total = self.section.integer("num", 1)
        self.mask = self.section.integers("mask") or list(range(total))
        if any(not 0 <= m < total for m in self.mask):
            raise self.error(f"mask entries must be below num={total}", "mask")
        if shape.c != len(self.mask) * (self.classes + 5):
            raise self.error(
                f"input has {shape.c} channels, expected {len(self.mask)} anchors x "
                f"({self.classes} classes + 5)"
            )
        self.anchors = anchor_values(self.section, total)
        self.scale_x_y = float(np.float32(self.section.real("scale_x_y", 1.0)))
        self.new_coords = bool(self.section.integer("new_coords", 0))
        self.nms_kind = self.section.text("nms_kind", "default") or "default"
        if self.nms_kind not in NMS_KINDS:
            raise self.error(f"nms_kind must be one of {', '.join(NMS_KINDS)}", "nms_kind")
        self.beta_nms = float(np.float32(self.section.real("beta_nms", 0.6)))
        return shape

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        return graph.node("Identity", sources, self.output)

    def head(self) -> YoloHead:
        return YoloHead(
            output=self.output,
            layer=self.index,
            classes=self.classes,
            mask=self.mask,
            anchors=self.anchors,
            height=self.shape.h,
            width=self.shape.w,
            scale_x_y=self.scale_x_y,
            new_coords=self.new_coords,
        )


class Region(Layer):
    """YOLOv2's head: raw map through the graph; darknet_detector.engines.heads decodes it like
    region_layer.c."""

    kinds = ("region",)
    options = frozenset({"anchors", "classes", "num", "coords", "softmax"})
    training_options = words(
        """jitter rescore thresh absolute random bias_match coord_scale object_scale noobject_scale
        class_scale mask_scale max log sqrt classfix focal_loss resize"""
    )
    refused: ClassVar[dict[str, str]] = {"background": "0", "tree": "", "map": ""}

    def configure(self, shape: Shape, previous: list[Layer]) -> Shape:
        self.classes = self.section.integer("classes", 20)
        self.num = self.section.integer("num", 1)
        if self.section.integer("coords", 4) != 4:
            raise self.error("only coords=4 is supported", "coords")
        if shape.c != self.num * (self.classes + 5):
            raise self.error(
                f"input has {shape.c} channels, expected num={self.num} x ({self.classes} classes + 5)"
            )
        self.anchors = anchor_values(self.section, self.num)
        self.softmax = bool(self.section.integer("softmax", 0))
        self.nms_kind, self.beta_nms = "default", 0.6
        return shape

    def emit(self, graph: GraphBuilder, sources: list[str]) -> str:
        return graph.node("Identity", sources, self.output)

    def head(self) -> RegionHead:
        return RegionHead(
            output=self.output,
            layer=self.index,
            classes=self.classes,
            num=self.num,
            anchors=self.anchors,
            height=self.shape.h,
            width=self.shape.w,
            softmax=self.softmax,
        )


LAYER_KINDS: dict[str, type[Layer]] = {
    kind: cls
    for cls in (Convolutional, Maxpool, Route, Shortcut, Upsample, Reorg, Dropout, Yolo, Region)
    for kind in cls.kinds
}
HEAD_KINDS = (Yolo, Region)
