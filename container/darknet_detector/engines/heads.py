"""Detection-head decoding and the fork's NMS kinds, in numpy, repeating Darknet's arithmetic.

[yolo] follows yolo_layer.c (with the fork's scale_x_y and new_coords), [region] follows region_layer.c
(YOLOv2: logistic x, y and objectness, softmax classes, exp-anchor sizes, every cell a candidate), both
with correct_*_boxes for letterboxed or plainly resized input. float vs double is kept where Darknet mixes
them, so candidates match `darknet detector test` bit for bit. Candidates come in Darknet's order, which
matters because NMS sorts with qsort and the report prints in the sorted order.
"""

from __future__ import annotations

import numpy as np

from darknet_detector.model_format import RegionHead, YoloHead

Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (n, 4: x, y, w, h relative), objectness, probs


def logistic(values: np.ndarray) -> np.ndarray:
    """activations.h logistic_activate: computed in double, stored as float."""
    return (1.0 / (1.0 + np.exp(-values.astype(np.float64)))).astype(np.float32)


def letterbox_size(image_w: int, image_h: int, net_w: int, net_h: int) -> tuple[int, int]:
    """The scaled image size inside the letterbox, as correct_yolo_boxes computes it."""
    if np.float32(net_w) / np.float32(image_w) < np.float32(net_h) / np.float32(image_h):
        return net_w, (image_h * net_w) // image_w
    return (image_w * net_h) // image_h, net_h


def correct_boxes(
    boxes: tuple[np.ndarray, ...], image_w: int, image_h: int, net_w: int, net_h: int, letterbox: bool
) -> np.ndarray:
    """correct_yolo_boxes / correct_region_boxes (relative): undo the letterbox; a resize keeps boxes."""
    x, y, w, h = boxes
    new_w, new_h = letterbox_size(image_w, image_h, net_w, net_h) if letterbox else (net_w, net_h)
    x_scale = np.float64(np.float32(new_w) / np.float32(net_w))
    y_scale = np.float64(np.float32(new_h) / np.float32(net_h))
    x = ((x - (net_w - new_w) / 2.0 / net_w) / x_scale).astype(np.float32)
    y = ((y - (net_h - new_h) / 2.0 / net_h) / y_scale).astype(np.float32)
    w = w * (np.float32(net_w) / np.float32(new_w))
    h = h * (np.float32(net_h) / np.float32(new_h))
    return np.stack([x, y, w, h], axis=1)


def yolo_candidates(
    head: YoloHead,
    raw: np.ndarray,
    image_w: int,
    image_h: int,
    net_w: int,
    net_h: int,
    threshold: float,
    letterbox: bool = True,
) -> Decoded:
    """forward_yolo_layer's activations then get_yolo_detections: the cells whose objectness beats threshold.

    Without new_coords, x, y, objectness and classes go through the logistic and sizes are exp(t)·anchor;
    with new_coords the convolution's own logistic already ran and sizes are (2t)²·anchor. scale_x_y
    stretches x and y about the cell centre (scal_add_cpu, in float). Candidates come cell by cell, anchors
    within a cell.
    """
    thresh = np.float32(threshold)
    anchors = len(head.mask)
    cells = head.height * head.width
    maps = raw.reshape(anchors, head.classes + 5, cells)
    activate = (lambda v: v.astype(np.float32)) if head.new_coords else logistic
    objectness = activate(maps[:, 4, :])
    anchor_ids, cell_ids = np.nonzero((objectness > thresh).T)[::-1]
    rows, cols = np.divmod(cell_ids, head.width)
    picked = maps[anchor_ids, :, cell_ids]  # (n, classes + 5)
    obj = objectness[anchor_ids, cell_ids]

    scale = np.float32(head.scale_x_y)
    shift = np.float32(-0.5 * (float(scale) - 1))
    tx = activate(picked[:, 0]) * scale + shift
    ty = activate(picked[:, 1]) * scale + shift
    x = (cols.astype(np.float32) + tx) / np.float32(head.width)
    y = (rows.astype(np.float32) + ty) / np.float32(head.height)
    biases = np.asarray(head.anchors, dtype=np.float32).reshape(-1, 2)[np.asarray(head.mask)[anchor_ids]]
    if head.new_coords:
        tw, th = picked[:, 2].astype(np.float32), picked[:, 3].astype(np.float32)
        w = tw * tw * np.float32(4) * biases[:, 0] / np.float32(net_w)
        h = th * th * np.float32(4) * biases[:, 1] / np.float32(net_h)
    else:
        w = (np.exp(picked[:, 2].astype(np.float64)) * biases[:, 0].astype(np.float64) / net_w).astype(
            np.float32
        )
        h = (np.exp(picked[:, 3].astype(np.float64)) * biases[:, 1].astype(np.float64) / net_h).astype(
            np.float32
        )

    probs = obj[:, None] * activate(picked[:, 5:])
    probs[~(probs > thresh)] = 0
    return correct_boxes((x, y, w, h), image_w, image_h, net_w, net_h, letterbox), obj, probs


def darknet_softmax(values: np.ndarray) -> np.ndarray:
    """blas.c softmax over axis 0: exp of (x - max) in double stored as float, summed in float, in order."""
    largest = values.max(axis=0)
    exps = np.exp((values - largest).astype(np.float64)).astype(np.float32)
    total = np.zeros(values.shape[1:], dtype=np.float32)
    for row in exps:
        total += row
    return exps / total


def region_candidates(
    head: RegionHead,
    raw: np.ndarray,
    image_w: int,
    image_h: int,
    net_w: int,
    net_h: int,
    threshold: float,
    letterbox: bool = True,
) -> Decoded:
    """forward_region_layer's activations then get_region_detections: every (anchor, cell), anchor-major.

    Darknet hands all l.w·l.h·l.n entries to NMS (objectness below threshold set to 0, which do_nms_sort
    moves to the end), so they are all returned, in Darknet's index order n·cells + cell.
    """
    thresh = np.float32(threshold)
    cells = head.height * head.width
    maps = raw.reshape(head.num, head.classes + 5, cells)
    scale = logistic(maps[:, 4, :]).reshape(-1)
    classes = maps[:, 5:, :]
    if head.softmax:
        class_probs = darknet_softmax(classes.transpose(1, 0, 2).reshape(head.classes, -1)).T
    else:
        class_probs = logistic(classes).transpose(0, 2, 1).reshape(-1, head.classes)
    cols = np.tile(np.arange(cells) % head.width, head.num).astype(np.float32)
    rows = np.tile(np.arange(cells) // head.width, head.num).astype(np.float32)
    x = (cols + logistic(maps[:, 0, :]).reshape(-1)) / np.float32(head.width)
    y = (rows + logistic(maps[:, 1, :]).reshape(-1)) / np.float32(head.height)
    biases = np.repeat(np.asarray(head.anchors, dtype=np.float64).reshape(-1, 2), cells, axis=0)
    w = (np.exp(maps[:, 2, :].reshape(-1).astype(np.float64)) * biases[:, 0] / head.width).astype(np.float32)
    h = (np.exp(maps[:, 3, :].reshape(-1).astype(np.float64)) * biases[:, 1] / head.height).astype(np.float32)

    objectness = np.where(scale > thresh, scale, np.float32(0))
    probs = scale[:, None] * class_probs
    probs[~(probs > thresh) | (objectness == 0)[:, None]] = 0
    return correct_boxes((x, y, w, h), image_w, image_h, net_w, net_h, letterbox), objectness, probs


def decode(info, raw_maps: list[np.ndarray], image_w: int, image_h: int, threshold: float) -> Decoded:
    """All heads' candidates, concatenated in layer order as get_network_boxes fills them."""
    parts = []
    for head, raw in zip(info.heads, raw_maps, strict=True):
        decoder = region_candidates if head.kind == "region" else yolo_candidates
        parts.append(decoder(head, raw, image_w, image_h, info.width, info.height, threshold, info.letterbox))
    boxes, objectness, probs = (np.concatenate(column) for column in zip(*parts, strict=True))
    return boxes, objectness, probs


def box_iou(a: np.ndarray, others: np.ndarray) -> np.ndarray:
    """box.c box_iou of box a (x, y, w, h) against each row of others, in float like the C."""
    half = np.float32(2)
    widths = np.minimum(a[0] + a[2] / half, others[:, 0] + others[:, 2] / half) - np.maximum(
        a[0] - a[2] / half, others[:, 0] - others[:, 2] / half
    )
    heights = np.minimum(a[1] + a[3] / half, others[:, 1] + others[:, 3] / half) - np.maximum(
        a[1] - a[3] / half, others[:, 1] - others[:, 3] / half
    )
    intersection = np.where((widths < 0) | (heights < 0), np.float32(0), widths * heights)
    union = a[2] * a[3] + others[:, 2] * others[:, 3] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((intersection == 0) | (union == 0), np.float32(0), intersection / union)


def box_diou(a: np.ndarray, others: np.ndarray, beta: float) -> np.ndarray:
    """The fork's box_diounms (box_diou: beta 0.6): IoU - (centre distance² / enclosing diagonal²)^beta.

    d / c is a float division whose result pow() takes as a double; the power is stored as a float.
    """
    half = np.float32(2)
    top = np.minimum(a[1] - a[3] / half, others[:, 1] - others[:, 3] / half)
    bottom = np.maximum(a[1] + a[3] / half, others[:, 1] + others[:, 3] / half)
    left = np.minimum(a[0] - a[2] / half, others[:, 0] - others[:, 2] / half)
    right = np.maximum(a[0] + a[2] / half, others[:, 0] + others[:, 2] / half)
    w, h = right - left, bottom - top
    c = w * w + h * h
    iou = box_iou(a, others)
    d = (a[0] - others[:, 0]) * (a[0] - others[:, 0]) + (a[1] - others[:, 1]) * (a[1] - others[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.power((d / c).astype(np.float64), beta).astype(np.float32)
    return np.where(c == 0, iou, iou - term)


def diou_nms_sort(
    boxes: np.ndarray, objectness: np.ndarray, probs: np.ndarray, threshold: float, kind: str, beta: float
) -> np.ndarray:
    """The fork's diounms_sort: per class, sort by probability, zero the ones a better box covers.

    `greedynms` compares with box_diou (exponent 0.6), `diounms` with box_diounms (exponent beta_nms),
    exactly as the fork's branches do. Edits probs in place and returns the final order of the rows
    (entries with zero objectness last, as the fork swaps them to the end). Sorting is stable, where the
    fork's qsort leaves equal probabilities in an unspecified order.
    """
    exponent = 0.6 if kind == "greedynms" else beta
    thresh = np.float32(threshold)
    boxes = np.asarray(boxes, dtype=np.float32)
    order = list(np.flatnonzero(objectness != 0)) + list(np.flatnonzero(objectness == 0))
    total = int(np.count_nonzero(objectness))
    rows = np.asarray(order, dtype=np.int64)
    for k in range(probs.shape[1]):
        live = rows[:total]
        live = live[np.argsort(-probs[live, k], kind="stable")]
        rows[:total] = live
        for i, row in enumerate(live):
            if probs[row, k] == 0:
                continue
            others = live[i + 1 :]
            probs[others[box_diou(boxes[row], boxes[others], exponent) > thresh], k] = 0
    return rows
