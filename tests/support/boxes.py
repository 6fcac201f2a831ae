"""Comparing boxes of result.json detections, shared by the container tests and the tiling scripts."""

from __future__ import annotations

Corners = tuple[float, ...]  # left, top, right, bottom in pixels


def corners(detection: dict) -> Corners:
    """A result.json detection's box as (left, top, right, bottom)."""
    box = detection["box"]
    return tuple(box[side] for side in ("left", "top", "right", "bottom"))


def iou(a: Corners, b: Corners) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes; 0 when they do not meet."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
