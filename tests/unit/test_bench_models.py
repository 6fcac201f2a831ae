"""Which models `make bench` times with random weights: the original's YOLOv2 always, then BENCH_MODELS."""

from __future__ import annotations

import bench
import pytest


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
