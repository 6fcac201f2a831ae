"""Sliced inference's arithmetic: where the tiles go, how their boxes reach the photo, how they merge.

A photo shrunk whole to the network's input loses objects a few dozen photo pixels wide. Cut into
overlapping tiles near the network's size, each tile is detected at close to its own resolution; the
engine adds the whole photo shrunk as usual, so objects larger than a tile stay found. Boxes are kept
as Darknet keeps them (centre x, y, width, height relative to the image they were found in), mapped
from a tile to the photo, and merged greedily per class: the best box absorbs every box of its class
that lies mostly inside it or around it (intersection over the smaller box), as SAHI's GREEDYNMM does,
so an object cut by a tile edge and seen whole elsewhere is reported once, with the union of the boxes.
Pure numpy: no engine, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darknet_detector.contract import AUTO_TILE_SCALE, TILE_MERGE_IOS, TileSpec, too_many_tiles

AUTO_GROWTH = 1.25  # how much `auto` enlarges its tiles at a time while they are more than the bound


class TooManyTiles(ValueError):
    """An explicit tiling cuts the photo into more tiles than the stack allows."""


@dataclass(frozen=True)
class Tile:
    """A region of the upright photo, in its pixels."""

    left: int
    top: int
    width: int
    height: int

    def crop(self, pixels: np.ndarray) -> np.ndarray:
        """The tile's view of (h, w, 3) upright pixels (no copy)."""
        return pixels[self.top : self.top + self.height, self.left : self.left + self.width]


def spans(length: int, tile: int, overlap: float) -> list[tuple[int, int]]:
    """(start, length) of tiles `tile` long covering 0..length, neighbours sharing at least overlap of a
    tile, spread evenly from edge to edge; one span of the whole length when a tile covers it."""
    tile = max(1, min(tile, length))
    if tile == length:
        return [(0, length)]
    stride = max(tile * (1 - overlap), 1)
    count = math.ceil((length - tile) / stride) + 1
    return [(round(i * (length - tile) / (count - 1)), tile) for i in range(count)]


def grid_spans(length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    """(start, length) of `count` equal tiles covering 0..length, neighbours sharing overlap of a tile."""
    if count == 1:
        return [(0, length)]
    tile = max(1, min(length, math.ceil(length / (count - (count - 1) * overlap))))
    return [(round(i * (length - tile) / (count - 1)), tile) for i in range(count)]


def plan_tiles(spec: TileSpec, width: int, height: int, net_w: int, net_h: int, max_tiles: int) -> list[Tile]:
    """The tiles of a width x height photo, row by row; none when one tile would be the whole photo.

    `auto` starts from AUTO_TILE_SCALE times the network's input and grows the tiles until there are at
    most max_tiles; a grid or a tile size over the bound raises TooManyTiles."""
    if spec.columns:
        xs = grid_spans(width, spec.columns, spec.overlap)
        ys = grid_spans(height, spec.rows, spec.overlap)
    elif spec.size:
        xs, ys = spans(width, spec.size, spec.overlap), spans(height, spec.size, spec.overlap)
    else:
        scale = AUTO_TILE_SCALE
        while True:
            xs = spans(width, round(net_w * scale), spec.overlap)
            ys = spans(height, round(net_h * scale), spec.overlap)
            if len(xs) * len(ys) <= max_tiles:
                break
            scale *= AUTO_GROWTH
    problem = too_many_tiles(len(xs) * len(ys), max_tiles)
    if problem:
        raise TooManyTiles(problem)
    if len(xs) * len(ys) == 1:
        return []
    return [Tile(x, y, w, h) for y, h in ys for x, w in xs]


def to_photo(boxes: np.ndarray, tile: Tile, width: int, height: int) -> np.ndarray:
    """(n, 4) boxes (x, y, w, h) relative to a tile, as relative to the width x height photo (float64)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [
            (tile.left + boxes[:, 0] * tile.width) / width,
            (tile.top + boxes[:, 1] * tile.height) / height,
            boxes[:, 2] * tile.width / width,
            boxes[:, 3] * tile.height / height,
        ],
        axis=1,
    )


@dataclass
class Found:
    """Boxes of one class each (x, y, w, h relative to the photo) with their probability, in the order
    they were reported."""

    boxes: np.ndarray  # (n, 4) float64
    class_ids: np.ndarray  # (n,) int
    probs: np.ndarray  # (n,) float32

    @classmethod
    def empty(cls) -> Found:
        return cls(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    @classmethod
    def above(cls, boxes: np.ndarray, probs: np.ndarray, threshold: float) -> Found:
        """One entry per box and class whose probability exceeds threshold (what Darknet prints)."""
        rows, class_ids = np.nonzero(np.asarray(probs) > np.float32(threshold))
        return cls(
            np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[rows],
            class_ids.astype(np.int64),
            np.asarray(probs, dtype=np.float32)[rows, class_ids],
        )

    def __len__(self) -> int:
        return len(self.probs)

    def __add__(self, other: Found) -> Found:
        return Found(
            np.concatenate([self.boxes, other.boxes]),
            np.concatenate([self.class_ids, other.class_ids]),
            np.concatenate([self.probs, other.probs]),
        )


def corners(boxes: np.ndarray) -> np.ndarray:
    """(x, y, w, h) centre boxes as (left, top, right, bottom)."""
    half = boxes[:, 2:] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def centres(box_corners: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [(box_corners[:, :2] + box_corners[:, 2:]) / 2, box_corners[:, 2:] - box_corners[:, :2]], axis=1
    )


def overlap(box: np.ndarray, others: np.ndarray, metric: str) -> np.ndarray:
    """Intersection of one corner box with each of others, over the smaller area (ios) or the union (iou)."""
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    base = np.minimum(area, areas) if metric == "ios" else area + areas - inter
    return np.divide(inter, base, out=np.zeros_like(inter), where=base > 0)


def merge(found: Found, threshold: float = TILE_MERGE_IOS, metric: str = "ios", union: bool = True) -> Found:
    """Greedy merging per class, most probable first: each kept box takes in the boxes of its class that
    overlap it by more than threshold (metric ios or iou); union grows it to cover them (GREEDYNMM) and
    looks again with the grown box, otherwise they are only dropped (NMS). The result is ordered by
    probability, ties as reported."""
    box_corners = corners(found.boxes)
    order = np.argsort(-found.probs, kind="stable")
    taken = np.zeros(len(found), dtype=bool)
    kept: list[int] = []
    merged: list[np.ndarray] = []
    for i in order:
        if taken[i]:
            continue
        taken[i] = True
        box = box_corners[i]
        while True:  # a grown box may take in boxes the first did not (the other half of a cut object)
            candidates = np.flatnonzero(~taken & (found.class_ids == found.class_ids[i]))
            matched = candidates[overlap(box, box_corners[candidates], metric) > threshold]
            taken[matched] = True
            if not (union and len(matched)):
                break
            group = np.concatenate([box[None], box_corners[matched]])
            box = np.concatenate([group[:, :2].min(axis=0), group[:, 2:].max(axis=0)])
        kept.append(i)
        merged.append(box)
    index = np.asarray(kept, dtype=np.int64)
    boxes = centres(np.asarray(merged).reshape(-1, 4))
    return Found(boxes, found.class_ids[index], found.probs[index])
