"""Sliced inference's arithmetic: the tiles option, tile planning, mapping boxes to the photo, merging."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from darknet_detector.contract import (
    AUTO_TILE_SCALE,
    MIN_TILE_SIZE,
    ContractError,
    DetectorConfig,
    TileSpec,
    parse_tiles,
)
from darknet_detector.core.tiles import (
    Found,
    Tile,
    TooManyTiles,
    grid_spans,
    merge,
    plan_tiles,
    spans,
    to_photo,
)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("auto", TileSpec()),
        (" AUTO ", TileSpec()),
        ("auto:0.3", TileSpec(overlap=0.3)),
        ("3x2", TileSpec(columns=3, rows=2)),
        ("3x2:0", TileSpec(columns=3, rows=2, overlap=0.0)),
        ("640", TileSpec(size=640)),
        ("640:0.25", TileSpec(size=640, overlap=0.25)),
        (640, TileSpec(size=640)),
        ("off", None),
    ],
)
def test_tiles_syntax(text, spec):
    assert parse_tiles(text) == spec
    if spec is not None:
        assert parse_tiles(str(spec)) == spec  # the canonical text reads back the same


@pytest.mark.parametrize(
    "text",
    ["", "tiles", "0x2", "3x0", "3x", "x2", "640:0.6", "640:-0.1", f"{MIN_TILE_SIZE - 1}", "3.5", True, None],
)
def test_bad_tiles_are_refused_with_the_syntax(text):
    with pytest.raises(ValueError, match="COLUMNSxROWS"):
        parse_tiles(text)


def test_the_stack_setting_follows_the_same_rules():
    assert DetectorConfig(tiles="auto", max_tiles=8).environment()["DETECTOR_TILES"] == "auto"
    with pytest.raises(ContractError, match="tiles"):
        DetectorConfig(tiles="sometimes")
    with pytest.raises(ContractError, match="at most 8"):
        DetectorConfig(tiles="3x3", max_tiles=8)
    with pytest.raises(ContractError, match="whole images only"):
        DetectorConfig(tiles="auto", engine="darknet")
    with pytest.raises(ContractError, match="max_tiles"):
        DetectorConfig(max_tiles=0)
    assert (
        DetectorConfig.from_environment({"DETECTOR_TILES": "2x2", "DETECTOR_MAX_TILES": "4"}).tiles == "2x2"
    )


@pytest.mark.parametrize(
    ("length", "tile", "overlap"), [(1000, 300, 0.2), (1001, 416, 0.0), (7, 3, 0.5), (832, 832, 0.2)]
)
def test_spans_cover_the_length_with_at_least_the_overlap(length, tile, overlap):
    covered = np.zeros(length, dtype=bool)
    result = spans(length, tile, overlap)
    for start, size in result:
        assert size == min(tile, length) and start >= 0 and start + size <= length
        covered[start : start + size] = True
    assert covered.all()
    assert result[0][0] == 0 and result[-1][0] + result[-1][1] == length
    for (a, size), (b, _) in itertools.pairwise(result):
        assert a + size - b >= overlap * size - 1  # rounding the starts may lose a pixel


def test_a_grid_has_its_columns_and_rows_and_covers_odd_sizes():
    tiles = plan_tiles(TileSpec(columns=3, rows=2), 1001, 777, 416, 416, 64)
    assert len(tiles) == 6
    assert {(t.left + t.width) for t in tiles} >= {1001} and {(t.top + t.height) for t in tiles} >= {777}
    assert all(
        t.left >= 0 and t.top >= 0 and t.left + t.width <= 1001 and t.top + t.height <= 777 for t in tiles
    )
    assert grid_spans(10, 1, 0.2) == [(0, 10)]


def test_auto_tiles_are_the_network_size_times_the_scale():
    tiles = plan_tiles(TileSpec(), 12000, 1500, 416, 416, 64)
    side = round(416 * AUTO_TILE_SCALE)
    assert {(t.width, t.height) for t in tiles} == {(side, side)}
    assert len({t.top for t in tiles}) == len(spans(1500, side, 0.2)) > 1
    assert len(tiles) == len(spans(12000, side, 0.2)) * len(spans(1500, side, 0.2))


def test_auto_grows_its_tiles_to_stay_within_the_bound():
    tiles = plan_tiles(TileSpec(), 8000, 6000, 416, 416, 12)
    assert 1 < len(tiles) <= 12
    assert tiles[0].width > round(416 * AUTO_TILE_SCALE)


def test_a_photo_one_tile_covers_has_no_tiles():
    """The whole-photo pass alone: a small photo's answer is today's."""
    assert plan_tiles(TileSpec(), 768, 576, 416, 416, 64) == []
    assert plan_tiles(TileSpec(size=1000), 768, 576, 416, 416, 64) == []
    assert plan_tiles(TileSpec(columns=1, rows=1), 4000, 3000, 416, 416, 64) == []


def test_explicit_tilings_over_the_bound_are_refused():
    with pytest.raises(TooManyTiles, match="100 tiles"):
        plan_tiles(TileSpec(columns=10, rows=10), 4000, 3000, 416, 416, 64)
    with pytest.raises(TooManyTiles, match="at most 4"):
        plan_tiles(TileSpec(size=200), 4000, 3000, 416, 416, 4)


def test_boxes_map_from_a_tile_to_the_photo():
    tile = Tile(left=600, top=300, width=400, height=200)
    # The tile's centre, a quarter of the tile wide and half of it high.
    mapped = to_photo(np.array([[0.5, 0.5, 0.25, 0.5]]), tile, 2000, 1000)
    np.testing.assert_allclose(mapped, [[800 / 2000, 400 / 1000, 100 / 2000, 100 / 1000]])
    assert to_photo(np.zeros((0, 4)), tile, 2000, 1000).shape == (0, 4)


def box(left, top, right, bottom, width=1000, height=1000):
    """A relative centre box from photo pixels."""
    return [
        (left + right) / 2 / width,
        (top + bottom) / 2 / height,
        (right - left) / width,
        (bottom - top) / height,
    ]


def found(*entries) -> Found:
    return Found(
        np.array([box(*e[:4]) for e in entries], dtype=np.float64).reshape(-1, 4),
        np.array([e[4] for e in entries], dtype=np.int64),
        np.array([e[5] for e in entries], dtype=np.float32),
    )


def test_a_box_straddling_a_tile_edge_is_reported_once():
    """The two halves two tiles see and the whole box the whole-photo pass sees are one object."""
    seen = found(
        (100, 100, 300, 400, 16, 0.7),  # the whole photo: the whole dog
        (100, 100, 210, 400, 16, 0.8),  # the left tile: up to its right edge at 210
        (190, 100, 300, 400, 16, 0.6),  # the right tile: from its left edge at 190
    )
    merged = merge(seen)
    assert len(merged) == 1
    assert merged.probs[0] == np.float32(0.8)
    np.testing.assert_allclose(merged.boxes[0], box(100, 100, 300, 400))  # the union of the boxes


def test_halves_seen_by_tiles_alone_merge_into_the_whole():
    merged = merge(found((100, 100, 210, 400, 16, 0.8), (150, 100, 300, 400, 16, 0.6)))
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], box(100, 100, 300, 400))


def test_other_classes_and_separate_objects_stay_apart():
    merged = merge(
        found(
            (100, 100, 300, 400, 16, 0.7),
            (100, 100, 300, 400, 1, 0.6),  # same place, another class
            (320, 100, 520, 400, 16, 0.9),  # the next dog, side by side
            (280, 100, 340, 400, 16, 0.55),  # a sliver between them: half in each, 1/3 of the smaller
        )
    )
    assert sorted(merged.class_ids.tolist()) == [1, 16, 16, 16]
    assert merged.probs.tolist() == sorted(merged.probs.tolist(), reverse=True)


def test_nms_by_iou_keeps_a_half_box_that_greedy_merging_takes_in():
    """Why the merge is GREEDYNMM by intersection over the smaller box: IoU sees a half box as another."""
    seen = found((100, 100, 300, 400, 16, 0.8), (210, 100, 300, 400, 16, 0.6))
    assert len(merge(seen, metric="iou", union=False)) == 2
    assert len(merge(seen)) == 1


def test_nothing_found_merges_to_nothing():
    assert len(merge(Found.empty())) == 0
    boxes = np.array([[0.5, 0.5, 0.1, 0.1]])
    above = Found.above(boxes, np.array([[0.2, 0.6, 0.7]], dtype=np.float32), 0.5)
    assert above.class_ids.tolist() == [1, 2] and len(above.boxes) == 2
