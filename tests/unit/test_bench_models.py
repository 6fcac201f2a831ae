"""Which models `make bench` times with random weights: the original's YOLOv2 always, then BENCH_MODELS."""

from __future__ import annotations

import bench
import pytest
from support.models import OWN_CFG


def test_the_originals_model_is_always_timed_first():
    assert bench.timing_models("") == ["yolov2"]
    assert bench.timing_models(" yolov4-tiny, yolov2 ,yolov7-tiny,") == [
        "yolov2",
        "yolov4-tiny",
        "yolov7-tiny",
    ]


def test_an_unknown_model_stops_the_bench_naming_it():
    with pytest.raises(SystemExit, match=r"BENCH_MODELS names unknown models \['yolov9'\]"):
        bench.timing_models("yolov4,yolov9")


def test_timing_cfg_runs_one_image_at_a_time():
    cfg = "[net]\n# Testing\n#batch=1\n# Training\nbatch=64\nsubdivisions=16\nwidth=608\n"
    assert (
        bench.timing_cfg(cfg)
        == "[net]\n# Testing\n#batch=1\n# Training\nbatch=1\nsubdivisions=1\nwidth=608\n"
    )


def test_gflop_is_darknets_count_over_the_convolutions():
    # The tests' own model: 2 x (8 filters x 3 channels x 3x3) x 32x32 (stride 2 on 64x64), then
    # 2 x (24 x 8 x 1x1) x 32x32.
    assert bench.cfg_gflop(OWN_CFG, "pjreddie") == pytest.approx(
        (2 * 8 * 3 * 9 * 1024 + 2 * 24 * 8 * 1024) / 1e9
    )
    assert bench.input_size(OWN_CFG) == "64x64"


def test_gflop_of_a_shipped_cfg_is_what_darknet_prints_for_it():
    # The maintained fork prints "Total BFLOPS 6.910" for yolov4-tiny; its maxpools add the last 0.002.
    cfg = bench.model_cfg_text("yolov4-tiny")
    assert bench.cfg_gflop(cfg, "fork") == pytest.approx(6.91, abs=0.005)
    assert bench.input_size(cfg) == "416x416"


def test_a_timing_model_is_mounted_read_only_where_its_model_setting_points(tmp_path):
    env, volumes = bench.timing_mount("yolov4", tmp_path)
    assert env == {"DETECTOR_MODEL": "yolov4", "DETECTOR_MODEL_DIR": bench.TIMING_MOUNT}
    assert volumes == {str(tmp_path): bench.TIMING_MOUNT}
