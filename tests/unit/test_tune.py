"""`make tune`'s arithmetic and choices, on figures given here (the measuring needs Docker)."""

from __future__ import annotations

import pytest
import tune
from bench import EngineTiming, Limits


def measured(memory_mb: int, duration_ms: float) -> tune.SizeResult:
    timing = EngineTiming("onnx", tune.limits_for(memory_mb))
    timing.duration_ms = [duration_ms] * 3
    timing.billed_ms = [float(int(duration_ms) + 1)] * 3
    return tune.SizeResult(memory_mb, memory_mb / 1769, timing)


def test_the_originals_cost_per_million_is_about_207_dollars():
    assert tune.cost_per_million(12_380, 1024) == pytest.approx(206.53, abs=0.01)


def test_cost_counts_gigabyte_seconds_by_architecture_plus_requests():
    # 100 ms at 2048 MB is 0.2 GB-s per call.
    assert tune.cost_per_million(100, 2048) == pytest.approx(0.2 * 16.6667 + 0.20)
    assert tune.cost_per_million(100, 2048, "arm64") == pytest.approx(0.2 * 13.3334 + 0.20)


def test_memory_sizes_get_lambdas_cpu_share():
    assert tune.limits_for(1769).cpus == 1.0
    assert tune.limits_for(1024).cpus == 0.579
    assert tune.limits_for(3538).memory_mb == 3538


def test_choices_cheapest_fastest_and_the_fastest_near_the_cheapest():
    results = [measured(1024, 100.0), measured(1769, 56.0), measured(3008, 40.0)]
    # $/M: 1024 MB 101 ms $1.88; 1769 MB 57 ms $1.84; 3008 MB 41 ms $2.21.
    assert tune.choices(results) == {"cheapest": 1769, "fastest": 3008, "balanced": 1769}
    results.append(measured(2048, 50.0))  # 51 ms $1.90: within 10% of the cheapest and faster
    assert tune.choices(results)["balanced"] == 2048


def test_a_size_that_failed_is_never_chosen():
    broken = measured(3008, 10.0)
    broken.timing.error = "the function failed"
    assert tune.choices([measured(1024, 100.0), broken]) == {
        "cheapest": 1024,
        "fastest": 1024,
        "balanced": 1024,
    }


def test_pooling_rounds_keeps_every_call_and_the_first_error():
    total = EngineTiming("onnx", Limits("mem1024", "1024 MB"))
    first, second = measured(1024, 90.0).timing, measured(1024, 110.0).timing
    second.error = "timed out"
    tune.pool(total, first)
    tune.pool(total, second)
    assert total.duration_ms == [90.0] * 3 + [110.0] * 3
    assert total.error == "timed out"


def test_billed_over_predict_at_the_cheapest_size_is_judged_against_the_goal():
    cheap, dear = measured(1024, 100.0), measured(1769, 56.0)
    cheap.timing.predict_seconds = [0.090] * 3  # billed 101 ms over 90 ms: 1.12x
    dear.timing.predict_seconds = [0.040] * 3
    assert cheap.billed_over_predict == 1.12
    assert cheap.summary()["predict_ms_median"] == 90.0
    # 1769 MB is the cheapest here ($1.84 against $1.88): its 57 / 40 = 1.43x fails.
    assert tune.billed_line([cheap, dear], tune.choices([cheap, dear])).endswith(
        "1.43x (goal at most 1.15x): FAIL"
    )
    assert tune.billed_line([cheap], tune.choices([cheap])).endswith("1.12x (goal at most 1.15x): PASS")
