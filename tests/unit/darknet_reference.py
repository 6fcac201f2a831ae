"""Darknet's forward pass in plain numpy (float64), transcribed from the *_layer.c and activations.c loops.

Written from Darknet's C, not from the converter: the unit tests compare the converted ONNX graphs against
it. Reads the cfg with its own minimal parser and the weights file float by float.
"""

from __future__ import annotations

import numpy as np


def read_sections(cfg_text: str) -> list[tuple[str, dict[str, str]]]:
    sections = []
    for raw in cfg_text.splitlines():
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            sections.append((line.strip("[]"), {}))
        else:
            key, _, value = line.partition("=")
            sections[-1][1][key] = value
    return sections


def float_reader(path, header_size=20):
    values = np.fromfile(path, dtype="<f4", offset=header_size).astype(np.float64)
    position = 0

    def take(count):
        nonlocal position
        chunk = values[position : position + count]
        position += count
        return chunk

    return take


def activate(x, activation):
    """activations.c, element by element."""
    if activation == "leaky":
        return np.where(x > 0, x, 0.1 * x)
    if activation == "relu":
        return x * (x > 0)
    if activation == "logistic":
        return 1.0 / (1.0 + np.exp(-x))
    if activation == "mish":
        softplus = np.where(x > 20, x, np.where(x < -20, np.exp(x), np.log(np.exp(x) + 1)))
        return x * (2 / (1 + np.exp(-2 * softplus)) - 1)
    if activation == "swish":
        return x * (1.0 / (1.0 + np.exp(-x)))
    assert activation == "linear", activation
    return x


def conv(x, kernel, stride, pad, groups):
    channels, height, width = x.shape
    filters, _, size, _ = kernel.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = (height + 2 * pad - size) // stride + 1, (width + 2 * pad - size) // stride + 1
    out = np.zeros((filters, out_h, out_w))
    per_group_in, per_group_out = channels // groups, filters // groups
    for f in range(filters):
        group = f // per_group_out
        source = padded[group * per_group_in : (group + 1) * per_group_in]
        for i in range(out_h):
            for j in range(out_w):
                window = source[:, i * stride : i * stride + size, j * stride : j * stride + size]
                out[f, i, j] = np.sum(window * kernel[f])
    return out


def maxpool(x, size, stride, padding):
    """forward_maxpool_layer, loop for loop."""
    channels, height, width = x.shape
    offset = -(padding // 2)
    out_h, out_w = (height + padding - size) // stride + 1, (width + padding - size) // stride + 1
    out = np.full((channels, out_h, out_w), -np.inf)
    for i in range(out_h):
        for j in range(out_w):
            for n in range(size):
                for m in range(size):
                    row, col = offset + i * stride + n, offset + j * stride + m
                    if 0 <= row < height and 0 <= col < width:
                        out[:, i, j] = np.maximum(out[:, i, j], x[:, row, col])
    return out


def reorg_cpu(x, w, h, c, stride, forward):
    """blas.c reorg_cpu for batch 1, on flat buffers."""
    flat = x.reshape(-1)
    out = np.zeros_like(flat)
    out_c = c // (stride * stride)
    for k in range(c):
        for j in range(h):
            for i in range(w):
                in_index = i + w * (j + h * k)
                c2 = k % out_c
                offset = k // out_c
                w2 = i * stride + offset % stride
                h2 = j * stride + offset // stride
                out_index = w2 + w * stride * (h2 + h * stride * c2)
                if forward:
                    out[out_index] = flat[in_index]
                else:
                    out[in_index] = flat[out_index]
    return out


def reorg(x, stride, flavour):
    """forward_reorg_layer: pjreddie passes the input's w, h, c; the fork passes the output's."""
    c, h, w = x.shape
    out_shape = (c * stride * stride, h // stride, w // stride)
    if flavour == "pjreddie":
        return reorg_cpu(x, w, h, c, stride, 0).reshape(out_shape)
    return reorg_cpu(x, w // stride, h // stride, c * stride * stride, stride, 0).reshape(out_shape)


def route(inputs, groups, group_id):
    """forward_route_layer: from each input's flat buffer, part group_id of groups, one after the other."""
    parts = []
    for x in inputs:
        flat = x.reshape(-1)
        part = flat.size // groups
        parts.append(
            flat[part * group_id : part * (group_id + 1)].reshape(x.shape[0] // groups, *x.shape[1:])
        )
    return np.concatenate(parts)


def forward(cfg_text, weights_path, image, flavour="pjreddie"):
    """The raw maps feeding every [yolo] and [region] layer, in layer order."""
    sections = read_sections(cfg_text)[1:]
    take = float_reader(weights_path)
    outputs, heads = [], []
    x = image.astype(np.float64)
    for index, (kind, o) in enumerate(sections):

        def ref(value, index=index):
            value = int(value)
            return index + value if value < 0 else value

        if kind == "convolutional":
            filters, size, groups = int(o["filters"]), int(o["size"]), int(o.get("groups", 1))
            biases = take(filters)
            bn = o.get("batch_normalize") == "1"
            if bn:
                scales, mean, variance = take(filters), take(filters), take(filters)
            kernel = take(filters * x.shape[0] // groups * size * size).reshape(filters, -1, size, size)
            x = conv(x, kernel, int(o.get("stride", 1)), size // 2 if o.get("pad") == "1" else 0, groups)
            if bn:
                x = (x - mean[:, None, None]) / (np.sqrt(variance[:, None, None]) + 0.000001)
                x = x * scales[:, None, None]
            x = activate(x + biases[:, None, None], o.get("activation", "logistic"))
        elif kind == "maxpool":
            stride = int(o.get("stride", 1))
            size = int(o.get("size", stride))
            x = maxpool(x, size, stride, int(o.get("padding", size - 1)))
        elif kind == "route":
            x = route(
                [outputs[ref(v)] for v in o["layers"].split(",")],
                int(o.get("groups", 1)),
                int(o.get("group_id", 0)),
            )
        elif kind == "upsample":
            stride = int(o["stride"])
            x = x.repeat(stride, axis=1).repeat(stride, axis=2)
        elif kind == "shortcut":
            x = activate(x + outputs[ref(o["from"])], o.get("activation", "linear"))
        elif kind == "reorg":
            x = reorg(x, int(o["stride"]), flavour)
        elif kind in ("yolo", "region"):
            heads.append(x)
        else:
            assert kind == "dropout", kind
        outputs.append(x)
    return heads
