"""`make tune`'s arithmetic and choices, on figures given here (the measuring needs Docker)."""

from __future__ import annotations

from datetime import datetime

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


# --- every model's price ----------------------------------------------------------------------------------


def test_light_models_get_every_warm_call_and_heavy_ones_fewer_but_never_under_the_minimum():
    assert tune.warm_calls_for(5.6, 30) == 30  # yolov3-tiny: about 0.06 s a call
    assert tune.warm_calls_for(62.9, 30) == 7  # yolov2 608: 5 s of network at one vCPU
    assert tune.warm_calls_for(140.7, 30) == tune.MIN_WARM_CALLS  # yolov3 608
    assert tune.warm_calls_for(5.6, 4) == 4  # never more than asked for


def prices(model: str, random_weights: bool, *sizes: tuple[int, float]) -> tune.ModelPrices:
    results = [measured(memory_mb, duration_ms) for memory_mb, duration_ms in sizes]
    return tune.ModelPrices(model, "608x608", 62.94, random_weights, 3, 7, results)


def test_a_model_gets_a_row_for_the_cheapest_and_one_for_the_balanced_size():
    run = prices("yolov2", True, (1024, 100.0), (1769, 56.0), (2048, 50.0), (3008, 40.0))
    assert tune.price_rows(run) == [
        "| yolov2 | random, timing only | 608x608 | 62.9 | cheapest | 1769 MB | 56.0 ms | 57.0 ms"
        " | $1.84 | $1.51 | 3 x 7 |",
        "|  |  |  |  | balanced | 2048 MB | 50.0 ms | 51.0 ms | $1.90 | $1.56 | 3 x 7 |",
    ]


def test_one_row_when_the_cheapest_is_also_the_balanced_size():
    run = prices("yolov3-tiny", False, (1024, 1500.0), (3008, 1200.0))
    assert tune.price_rows(run) == [
        "| yolov3-tiny | real | 608x608 | 62.9 | cheapest, balanced | 1024 MB | 1,500 ms | 1,501 ms"
        " | $25.22 | $20.21 | 3 x 7 |"
    ]


def test_a_model_that_failed_everywhere_says_why_in_its_row():
    run = prices("yolov4", True, (1024, 100.0))
    run.results[0].timing.error = "the function ran out of memory"
    (row,) = tune.price_rows(run)
    assert "failed: the function ran out of memory" in row
    assert row.count("|") == tune.PRICE_HEADER.count("|")


def test_the_block_is_heading_table_and_the_original_example_last():
    block = tune.prices_block([prices("yolov2", True, (1024, 100.0))], "Measured now.")
    assert block[0] == "Measured now."
    assert block[2] == tune.PRICE_HEADER
    assert block[3].count("|") == tune.PRICE_HEADER.count("|")
    assert block[-1].startswith("| yolov2, the original example")
    assert "| 62.9 |" in block[-1] and "| 12,380 ms | 12,380 ms | $206.53 |" in block[-1]


def test_the_heading_names_the_machine_the_load_at_both_ends_and_the_command():
    host = {"cpu": "AMD EPYC", "cpu_family_model": "25/1", "vector": "avx2", "cores": 2}
    heading = tune.run_heading(host, datetime(2026, 12, 6, 8, 0), ((3.0, 2.5, 2.0), (4.25, 3.0, 2.5)), 17.4)
    assert heading == (
        "Measured 2026-12-06 08:00 UTC on AMD EPYC (family/model 25/1, avx2), 2 cores; load average "
        "(1, 5, 15 min) 3.00, 2.50, 2.00 at the start and 4.25, 3.00, 2.50 at the end; the run took 17 min. "
        "Regenerate with `make tune-models`."
    )


def test_writing_replaces_only_what_lies_between_the_markers():
    page = f"# Prices\n\nprose\n\n{tune.PRICES_BEGIN}\nold table\n{tune.PRICES_END}\n\nmore prose\n"
    assert tune.rewritten(page, ["new", "table"]) == (
        f"# Prices\n\nprose\n\n{tune.PRICES_BEGIN}\nnew\ntable\n{tune.PRICES_END}\n\nmore prose\n"
    )
    with pytest.raises(SystemExit, match="markers"):
        tune.rewritten("# Prices without markers\n", ["new"])


def test_a_size_that_failed_is_named_under_the_table():
    run = prices("yolov4", True, (1024, 100.0), (1536, 70.0))
    run.results[0].timing.error = "the emulator answered HTTP 502: signal: killed"
    block = tune.prices_block([run], "Measured now.")
    assert block[-2:] == [
        "",
        "- yolov4 at 1024 MB: the emulator answered HTTP 502: signal: killed (that size is never chosen)",
    ]
    assert tune.prices_block([prices("yolov2", True, (1024, 100.0))], "Measured now.")[-1].startswith(
        "| yolov2"
    )
