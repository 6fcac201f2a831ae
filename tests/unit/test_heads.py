"""Head decoding and the fork's NMS against loop-for-loop transcriptions of the heads' C and box.c."""

from __future__ import annotations

import math

import numpy as np
import pytest

from darknet_detector.engines.heads import diou_nms_sort, region_candidates, yolo_candidates
from darknet_detector.model_format import RegionHead, YoloHead


def logistic(x):
    return 1.0 / (1.0 + math.exp(-x))


def correct(box, image_w, image_h, net_w, net_h, letterbox):
    x, y, w, h = box
    if not letterbox:
        new_w, new_h = net_w, net_h
    elif net_w / image_w < net_h / image_h:
        new_w, new_h = net_w, (image_h * net_w) // image_w
    else:
        new_w, new_h = (image_w * net_h) // image_h, net_h
    x = (x - (net_w - new_w) / 2.0 / net_w) / (new_w / net_w)
    y = (y - (net_h - new_h) / 2.0 / net_h) / (new_h / net_h)
    return x, y, w * net_w / new_w, h * net_h / new_h


def reference_region(head, raw, image_w, image_h, net_w, net_h, thresh, letterbox=True):
    """forward_region_layer (logistic x, y, objectness; softmax over classes) then get_region_detections."""
    out = raw.reshape(-1).astype(np.float64)
    cells = head.width * head.height

    def entry(n, loc, field):
        return n * cells * (head.classes + 5) + field * cells + loc

    dets = [None] * (cells * head.num)
    for i in range(cells):
        row, col = i // head.width, i % head.width
        for n in range(head.num):
            scores = [out[entry(n, i, 5 + j)] for j in range(head.classes)]
            if head.softmax:
                largest = max(scores)
                exps = [math.exp(s - largest) for s in scores]
                classes = [e / sum(exps) for e in exps]
            else:
                classes = [logistic(s) for s in scores]
            scale = logistic(out[entry(n, i, 4)])
            box = (
                (col + logistic(out[entry(n, i, 0)])) / head.width,
                (row + logistic(out[entry(n, i, 1)])) / head.height,
                math.exp(out[entry(n, i, 2)]) * head.anchors[2 * n] / head.width,
                math.exp(out[entry(n, i, 3)]) * head.anchors[2 * n + 1] / head.height,
            )
            objectness = scale if scale > thresh else 0
            probs = [0.0] * head.classes
            if objectness:
                probs = [scale * c if scale * c > thresh else 0 for c in classes]
            dets[n * cells + i] = (correct(box, image_w, image_h, net_w, net_h, letterbox), objectness, probs)
    return dets


def reference_yolo(head, raw, image_w, image_h, net_w, net_h, thresh, letterbox=True):
    """The fork's forward_yolo_layer (scale_x_y, new_coords) then get_yolo_detections."""
    out = raw.reshape(-1).astype(np.float64).copy()
    cells = head.width * head.height

    def entry(n, loc, field):
        return n * cells * (head.classes + 5) + field * cells + loc

    for n in range(len(head.mask)):
        for loc in range(cells):
            if not head.new_coords:
                for field in [0, 1, *range(4, head.classes + 5)]:
                    out[entry(n, loc, field)] = logistic(out[entry(n, loc, field)])
            for field in (0, 1):
                value = out[entry(n, loc, field)]
                out[entry(n, loc, field)] = value * head.scale_x_y - 0.5 * (head.scale_x_y - 1)
    found = []
    for i in range(cells):
        row, col = i // head.width, i % head.width
        for n in range(len(head.mask)):
            objectness = out[entry(n, i, 4)]
            if objectness <= thresh:
                continue
            anchor_w, anchor_h = head.anchors[2 * head.mask[n]], head.anchors[2 * head.mask[n] + 1]
            tw, th = out[entry(n, i, 2)], out[entry(n, i, 3)]
            if head.new_coords:
                w, h = tw * tw * 4 * anchor_w / net_w, th * th * 4 * anchor_h / net_h
            else:
                w, h = math.exp(tw) * anchor_w / net_w, math.exp(th) * anchor_h / net_h
            box = ((col + out[entry(n, i, 0)]) / head.width, (row + out[entry(n, i, 1)]) / head.height, w, h)
            probs = [objectness * out[entry(n, i, 5 + j)] for j in range(head.classes)]
            found.append(
                (
                    correct(box, image_w, image_h, net_w, net_h, letterbox),
                    objectness,
                    [p if p > thresh else 0 for p in probs],
                )
            )
    return found


def assert_same(got, expected):
    boxes, objectness, probs = got
    assert len(boxes) == len(expected)
    for i, (box, obj, prob) in enumerate(expected):
        np.testing.assert_allclose(boxes[i], box, rtol=1e-5, atol=1e-6)
        assert objectness[i] == pytest.approx(obj, rel=1e-6)
        np.testing.assert_allclose(probs[i], prob, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("softmax", [True, False])
@pytest.mark.parametrize(
    ("image_w", "image_h", "letterbox"), [(768, 576, True), (300, 500, True), (640, 360, False)]
)
def test_region_decoding_matches_region_layer_c(softmax, image_w, image_h, letterbox):
    anchors = [0.6, 0.7, 1.9, 2.1, 3.3, 5.5]
    head = RegionHead("l9_region", 9, classes=4, num=3, anchors=anchors, height=5, width=4, softmax=softmax)
    raw = np.random.default_rng(8).normal(0, 2, (1, 3 * 9, 5, 4)).astype(np.float32)
    got = region_candidates(head, raw, image_w, image_h, 128, 160, 0.3, letterbox)
    expected = reference_region(head, raw, image_w, image_h, 128, 160, 0.3, letterbox)
    assert len(expected) == 3 * 5 * 4  # every (anchor, cell), anchor-major, as Darknet hands them to NMS
    assert 0 < sum(1 for _, obj, _ in expected if obj) < len(expected)
    assert_same(got, expected)


@pytest.mark.parametrize(
    ("scale_x_y", "new_coords", "letterbox"), [(1.0, False, True), (1.05, False, False), (2.0, True, False)]
)
def test_yolo_decoding_with_scale_x_y_and_new_coords(scale_x_y, new_coords, letterbox):
    head = YoloHead(
        "l5_yolo", 5, 3, [1, 2], [10, 14, 23, 27, 37, 58], 4, 6, scale_x_y=scale_x_y, new_coords=new_coords
    )
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 2, (1, 2 * 8, 4, 6)).astype(np.float32)
    if new_coords:  # the convolution before such a head ends in a logistic
        raw = (1 / (1 + np.exp(-raw))).astype(np.float32)
    got = yolo_candidates(head, raw, 500, 375, 192, 128, 0.5, letterbox)
    expected = reference_yolo(head, raw, 500, 375, 192, 128, 0.5, letterbox)
    assert 0 < len(expected) < 48
    assert_same(got, expected)


def box_iou(a, b):
    def overlap(x1, w1, x2, w2):
        return min(x1 + w1 / 2, x2 + w2 / 2) - max(x1 - w1 / 2, x2 - w2 / 2)

    w, h = overlap(a[0], a[2], b[0], b[2]), overlap(a[1], a[3], b[1], b[3])
    inter = 0 if w < 0 or h < 0 else w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return 0 if inter == 0 or union == 0 else inter / union


def box_diounms(a, b, beta):
    top, bottom = min(a[1] - a[3] / 2, b[1] - b[3] / 2), max(a[1] + a[3] / 2, b[1] + b[3] / 2)
    left, right = min(a[0] - a[2] / 2, b[0] - b[2] / 2), max(a[0] + a[2] / 2, b[0] + b[2] / 2)
    c = (right - left) ** 2 + (bottom - top) ** 2
    if c == 0:
        return box_iou(a, b)
    d = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    return box_iou(a, b) - (d / c) ** beta


def reference_diounms_sort(dets, classes, thresh, kind, beta):
    """box.c diounms_sort: zero-objectness entries swapped to the end, then per class sort and suppress."""
    dets = [(list(box), obj, list(probs), index) for index, (box, obj, probs) in enumerate(dets)]
    k = len(dets) - 1
    i = 0
    while i <= k:
        if dets[i][1] == 0:
            dets[i], dets[k] = dets[k], dets[i]
            k -= 1
            i -= 1
        i += 1
    total = k + 1
    for cls in range(classes):
        dets[:total] = sorted(dets[:total], key=lambda d, cls=cls: -d[2][cls])
        for i in range(total):
            if dets[i][2][cls] == 0:
                continue
            for j in range(i + 1, total):
                exponent = 0.6 if kind == "greedynms" else beta
                if box_diounms(dets[i][0], dets[j][0], exponent) > thresh:
                    dets[j][2][cls] = 0
    return dets[:total]


@pytest.mark.parametrize(("kind", "beta"), [("greedynms", 0.6), ("diounms", 0.6), ("diounms", 1.2)])
def test_diou_nms_matches_the_forks_diounms_sort(kind, beta):
    rng = np.random.default_rng(21)
    count, classes = 40, 3
    centres = rng.uniform(0.2, 0.8, (count, 2))
    sizes = rng.uniform(0.1, 0.4, (count, 2))
    boxes = np.concatenate([centres, sizes], axis=1).astype(np.float32)
    objectness = np.where(rng.random(count) < 0.2, 0, rng.uniform(0.5, 1, count)).astype(np.float32)
    probs = (rng.uniform(0, 1, (count, classes)) * (objectness[:, None] > 0)).astype(np.float32)
    probs[probs < 0.5] = 0
    expected = reference_diounms_sort(
        list(zip(boxes, objectness, probs, strict=True)), classes, 0.45, kind, beta
    )

    before = np.count_nonzero(probs)
    order = diou_nms_sort(boxes, objectness, probs, 0.45, kind, beta)

    live = order[: len(expected)]
    assert sorted(live) == sorted(d[3] for d in expected)
    survivors = {d[3]: d[2] for d in expected}
    for row in live:
        np.testing.assert_allclose(probs[row], survivors[row], rtol=1e-6)
    assert np.count_nonzero(probs) < before  # something overlapped enough to be suppressed
