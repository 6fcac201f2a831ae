"""`make bench`'s warm-path ratios and goals, on figures given here (the measuring needs Docker)."""

from __future__ import annotations

import bench
from bench import EngineTiming, Limits

SHARE = Limits("cpus0.6_mem1024m", "0.6 CPU, 1024 MB", 0.6, 1024)
FULL = Limits("unrestricted", "2 CPUs")


def timed(limits: Limits, warm_ms: list[float], predict_ms: float, duration_ms: float) -> EngineTiming:
    timing = EngineTiming("onnx", limits)
    timing.warm_seconds = [value / 1000 for value in warm_ms]
    timing.predict_seconds = [predict_ms / 1000] * len(warm_ms)
    timing.duration_ms = [duration_ms] * len(warm_ms)
    timing.billed_ms = [float(int(duration_ms) + 1)] * len(warm_ms)
    return timing


def test_ratios_divide_by_the_engines_predict_time_and_the_median():
    part = bench.warm_ratios(timed(SHARE, [110.0] * 9 + [150.0], 100.0, 105.5))
    assert part["warm_ms"] == 110.0
    assert part["warm_over_predict"] == 1.1
    assert part["billed_over_predict"] == 1.06  # 106 ms billed
    assert part["outside_function_ms"] == 4.5
    assert part["p90_over_median"] == 1.04  # p90 114 ms (inclusive, between 110 and 150)


def test_goals_hold_each_setting_to_its_own_limit():
    ratios = {
        "unrestricted": bench.warm_ratios(timed(FULL, [40.0] * 10, 33.0, 39.0)),  # 1.21x
        "cpus0.6_mem1024m": bench.warm_ratios(timed(SHARE, [115.0] * 10, 100.0, 112.0)),  # 1.15x
    }
    assert bench.warm_goals(ratios) == {
        "warm_median_over_predict": {"unrestricted": True, "cpus0.6_mem1024m": False},
        "warm_p90_over_median": {"cpus0.6_mem1024m": True},
    }


def test_a_setting_without_measurements_fails_rather_than_passes():
    ratios = {"cpus0.6_mem1024m": bench.warm_ratios(EngineTiming("onnx", SHARE))}
    assert bench.warm_goals(ratios)["warm_median_over_predict"] == {"cpus0.6_mem1024m": False}
