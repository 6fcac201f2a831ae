"""How `make bench` reads a cold start's parts from the function's log."""

from __future__ import annotations

import json

import bench

from darknet_detector.engines.optimised_graph import SESSION_READY_LOG

RIE_INIT_LINE = "INIT REPORT(durationMs: 231.57)"


def test_the_session_time_is_read_from_the_engines_log_line_inside_a_json_log_record():
    record = json.dumps({"level": "INFO", "message": SESSION_READY_LOG % (47.25, "pre-optimised", 2)})
    logs = f"START\n{RIE_INIT_LINE}\n{record}\nEND\n"
    assert bench.SESSION_READY.search(logs).group(1) == "47.2"
    assert bench.RUNTIME_INIT.search(logs).group(1) == "231.57"


def test_the_baseline_optimises_the_plain_graph_and_the_default_does_not():
    default, baseline = bench.GRAPH_VARIANTS.values()
    assert default == {}
    assert baseline == {"DETECTOR_PLAIN_GRAPH": "1"}
