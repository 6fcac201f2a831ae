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


def test_the_startup_cost_is_each_rounds_first_answer_less_the_trivial_handlers_and_the_warm_answer():
    timing = bench.StartupTiming("image", first_answer=[300, 320, 310], trivial_first_answer=[40, 45, 50])
    timing.warm = [50, 60, 40]
    assert timing.costs() == [210, 215, 220]
    assert timing.summary()["startup_cost_ms"] == 215


def test_the_first_invocations_own_work_leaves_out_init_and_the_warm_duration():
    timing = bench.StartupTiming("image", first_invocation=[250.0], warm_invocation=[40.0])
    timing.init = [100.0]
    assert timing.summary()["first_invocation_work_ms"] == 110.0


def test_the_trivial_handler_is_the_standard_librarys_so_it_imports_nothing_of_the_function():
    module, _, function = bench.TRIVIAL_HANDLER.rpartition(".")
    assert module == "operator"
    assert callable(getattr(__import__(module), function))
