"""`make tune`: the Lambda memory size that makes an image cheapest, chosen by measurement.

Lambda gives CPU in proportion to memory (1769 MB is one vCPU), so each memory size is emulated as
Lambda grants it: `docker run --cpus MB/1769 --memory MB`, with AWS_LAMBDA_FUNCTION_MEMORY_SIZE set so
the function sizes its threads as it would on Lambda. Each round visits every size with a fresh
container (its cold start and INIT duration recorded) that answers warm calls of dog.jpg through the
synchronous HTTP JSON path; rounds spread a busy machine's noise over all sizes alike. The emulator's
REPORT lines give each call's duration and billed duration as Lambda computes them.

Cost per million images = 1e6 x (median billed ms / 1000) x (MB / 1024) x price per GB-second, plus
the price of a million requests; x86_64 and arm64 prices side by side, both applied to the duration
measured here (x86), so the arm64 column is a price, not a Graviton measurement. The INIT phase is
billed too, once per cold start: its cost per million depends on how many calls a container serves,
so it is shown per cold start, not folded in. The original example (12.38 s per image at 1024 MB)
stays in the table for comparison.

Choices: the cheapest (lowest x86 cost), the fastest (lowest median), and the balanced one: the
fastest of the sizes that cost at most BALANCED_COST_MARGIN more than the cheapest.

Other models (`--model NAME`, `--all-models`, `make tune-models`): any model of container/models.json
runs in the same image; the image's own as it ships, any other with random weights of its real shape
at its cfg's size, converted on the host and mounted read-only as `make bench` times them (timing
only: its detections are meaningless). Heavy models get fewer warm calls per container
(warm_calls_for). The result is one markdown table, each model's cheapest and balanced size with its
latency and cost, which `--write PAGE` puts between the page's markers (docs/models-pricing.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    DEFAULT_ENGINE,
    MANIFEST,
    MB_PER_GB,
    ORIGINAL_MODEL,
    ORIGINAL_SECONDS,
    PRICE_PER_GB_SECOND,
    PRICE_PER_MILLION_REQUESTS,
    SAMPLE_IMAGE,
    EngineTiming,
    Limits,
    cfg_gflop,
    cost_per_million,
    file_from_image,
    image_env,
    input_size,
    load,
    machine,
    median,
    model_cfg_text,
    progress,
    time_engine,
    timing_model_dir,
    timing_mount,
)
from lambda_events import make_api_event
from local_lambda import DEFAULT_IMAGE

from darknet_detector.contract import DEFAULT_MODEL, LAMBDA_MB_PER_VCPU, MODEL_ENV

MEMORY_SIZES_MB = (1024, 1536, LAMBDA_MB_PER_VCPU, 2048, 3008, 2 * LAMBDA_MB_PER_VCPU)
# AWS Lambda list prices, us-east-1 (first pricing tier): per GB-second of billed duration by
# architecture, and per request.
ORIGINAL_MEMORY_MB = 1024
DEFAULT_ROUNDS = 5
BALANCED_COST_MARGIN = 0.10
# Billed duration over the engine's own predict time at the cheapest size, same run: the function's
# overhead beside the network, which is what this project controls (the prices follow the host).
GOAL_BILLED_OVER_PREDICT = 1.15


def percentile(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@dataclass(frozen=True)
class SizeResult:
    memory_mb: int
    cpus: float
    timing: EngineTiming

    @property
    def billed_ms(self) -> float | None:
        return median(self.timing.billed_ms)

    @property
    def predict_ms(self) -> float | None:
        """The engine's own time (predict_seconds, the network's run), median of the warm calls."""
        predict = median(self.timing.predict_seconds)
        return None if predict is None else predict * 1000

    @property
    def billed_over_predict(self) -> float | None:
        """What Lambda bills over what the network takes: the rest is the function's own overhead."""
        billed, predict = self.billed_ms, self.predict_ms
        return round(billed / predict, 2) if billed and predict else None

    def cost(self, architecture: str) -> float | None:
        billed = self.billed_ms
        return None if billed is None else cost_per_million(billed, self.memory_mb, architecture)

    def summary(self) -> dict:
        durations = self.timing.duration_ms
        init_ms = median(self.timing.init_ms)
        return {
            "memory_mb": self.memory_mb,
            "cpus": round(self.cpus, 3),
            "calls": len(durations),
            "duration_ms": {f"p{p}": round2(percentile(durations, p)) for p in (50, 90, 99)},
            "billed_ms_median": self.billed_ms,
            "predict_ms_median": round2(self.predict_ms),
            "billed_over_predict": self.billed_over_predict,
            "cost_per_million": {arch: round2(self.cost(arch)) for arch in PRICE_PER_GB_SECOND},
            "cold_start_ms": round2(1000 * median(self.timing.cold_seconds))
            if self.timing.cold_seconds
            else None,
            "init_ms": round2(init_ms),
            "init_cost_per_cold_start_x86_64": None
            if init_ms is None
            else math.ceil(init_ms) / 1000 * self.memory_mb / MB_PER_GB * PRICE_PER_GB_SECOND["x86_64"],
            **({"error": self.timing.error} if self.timing.error else {}),
        }


def round2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def choices(results: list[SizeResult]) -> dict[str, int]:
    """Memory sizes: the cheapest, the fastest, and the fastest within the cost margin of the cheapest."""
    measured = [r for r in results if r.billed_ms is not None and r.timing.error is None]
    if not measured:
        return {}
    cheapest = min(measured, key=lambda r: (r.cost("x86_64"), r.memory_mb))
    fastest = min(measured, key=lambda r: (median(r.timing.duration_ms), r.memory_mb))
    affordable = [
        r for r in measured if r.cost("x86_64") <= cheapest.cost("x86_64") * (1 + BALANCED_COST_MARGIN)
    ]
    balanced = min(affordable, key=lambda r: (median(r.timing.duration_ms), r.memory_mb))
    return {"cheapest": cheapest.memory_mb, "fastest": fastest.memory_mb, "balanced": balanced.memory_mb}


def fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def table(results: list[SizeResult], picked: dict[str, int]) -> list[str]:
    header = (
        f"{'memory':>8} {'vCPU':>6} {'p50':>9} {'p90':>9} {'p99':>9} {'billed':>8} {'predict':>9} "
        f"{'billed/pred':>11} {'x86 $/M':>9} {'arm64 $/M':>10} {'init':>9}  choice"
    )
    rows = [header]
    for result in results:
        summary = result.summary()
        durations = summary["duration_ms"]
        tags = ", ".join(name for name, mb in picked.items() if mb == result.memory_mb)
        rows.append(
            f"{result.memory_mb:>5} MB {result.cpus:>6.3f} "
            f"{fmt(durations['p50'], '{:.1f} ms'):>9} {fmt(durations['p90'], '{:.1f} ms'):>9} "
            f"{fmt(durations['p99'], '{:.1f} ms'):>9} {fmt(result.billed_ms, '{:.0f} ms'):>8} "
            f"{fmt(result.predict_ms, '{:.1f} ms'):>9} {fmt(result.billed_over_predict, '{:.2f}x'):>11} "
            f"{fmt(result.cost('x86_64'), '${:.2f}'):>9} {fmt(result.cost('arm64'), '${:.2f}'):>10} "
            f"{fmt(summary['init_ms'], '{:.0f} ms'):>9}  {tags}"
            + (f"  ERROR {result.timing.error}" if result.timing.error else "")
        )
    original_ms = ORIGINAL_SECONDS * 1000
    original_cost = f"${cost_per_million(original_ms, ORIGINAL_MEMORY_MB):.2f}"
    rows.append(
        f"{ORIGINAL_MEMORY_MB:>5} MB {'-':>6} {original_ms:>6.0f} ms {'-':>9} {'-':>9} "
        f"{original_ms:>5.0f} ms {'-':>9} {'-':>11} {original_cost:>9} {'-':>10} {'-':>9}"
        "  the original example (its own figure)"
    )
    return rows


def limits_for(memory_mb: int) -> Limits:
    """Lambda's grant for a memory size: that memory, and CPU in proportion (1769 MB per vCPU)."""
    cpus = memory_mb / LAMBDA_MB_PER_VCPU
    return Limits(f"mem{memory_mb}", f"{memory_mb} MB ({cpus:.3f} vCPU)", round(cpus, 3), memory_mb)


def pool(total: EngineTiming, timing: EngineTiming) -> None:
    """Adds one round's container to a size's figures; the first error of any round is kept."""
    total.cold_seconds += timing.cold_seconds
    total.init_ms += timing.init_ms
    total.duration_ms += timing.duration_ms
    total.billed_ms += timing.billed_ms
    total.predict_seconds += timing.predict_seconds
    total.error = total.error or timing.error


def billed_line(results: list[SizeResult], picked: dict[str, int]) -> str:
    """Goal 4: at the cheapest size, the billed duration over the engine's predict time in the same run."""
    cheapest = next((r for r in results if r.memory_mb == picked.get("cheapest")), None)
    if cheapest is None or cheapest.billed_over_predict is None:
        return "billed / predict at the cheapest size: not measured"
    verdict = "PASS" if cheapest.billed_over_predict <= GOAL_BILLED_OVER_PREDICT else "FAIL"
    return (
        f"billed / predict at the cheapest size ({cheapest.memory_mb} MB): {cheapest.billed_ms:.0f} ms / "
        f"{cheapest.predict_ms:.1f} ms = {cheapest.billed_over_predict:.2f}x "
        f"(goal at most {GOAL_BILLED_OVER_PREDICT:.2f}x): {verdict}"
    )


def measure_sizes(
    image: str,
    sizes: list[int],
    rounds: int,
    warm_calls: int,
    event: dict,
    extra_env: dict[str, str] | None = None,
    volumes: dict[str, str] | None = None,
) -> list[SizeResult]:
    """Rounds over the sizes, a fresh container each (cold start, warm calls); calls pooled by size."""
    pooled = {memory_mb: EngineTiming(DEFAULT_ENGINE, limits_for(memory_mb)) for memory_mb in sizes}
    for _ in range(rounds):
        for total in pooled.values():
            timing = time_engine(
                image,
                DEFAULT_ENGINE,
                total.limits,
                event,
                warm_calls,
                cold_starts=1,
                extra_env=extra_env,
                volumes=volumes,
            )
            pool(total, timing)
    return [SizeResult(memory_mb, memory_mb / LAMBDA_MB_PER_VCPU, pooled[memory_mb]) for memory_mb in sizes]


# --- any model of the manifest, and the table of every model's price (`make tune-models`) ---------------

# Heavy models get fewer warm calls per container: about WARM_SECONDS_PER_CONTAINER of network at one vCPU,
# which runs about GFLOP_PER_VCPU_SECOND (`make bench`: YOLOv2 608, 63 GFLOP, about 0.6 s per image).
GFLOP_PER_VCPU_SECOND = 100.0
WARM_SECONDS_PER_CONTAINER = 5.0
MIN_WARM_CALLS = 3
ALL_MODELS_ROUNDS = 3
PRICES_BEGIN = "<!-- tune.py --all-models --write: begin -->"
PRICES_END = "<!-- tune.py --all-models --write: end -->"
PRICES_COMMAND = "make tune-models"
TABLE_CHOICES = ("cheapest", "balanced")
PRICE_HEADER = (
    "| model | weights | input | GFLOP | choice | memory | p50 | billed (median) "
    "| x86 $ per million | arm64 $ per million | calls per size |"
)


def warm_calls_for(gflop: float, most: int) -> int:
    """Warm calls per container for a model of `gflop` per image: `most` if light, fewer if heavy.

    A heavy model's call lasts a second or more, so the rounding of billed time to the millisecond and the
    machine's jitter are small beside it, and the median of billed over rounds x MIN_WARM_CALLS calls per
    size is steady; many more would make the all-models run far longer for no change in the choice.
    """
    fitting = int(WARM_SECONDS_PER_CONTAINER * GFLOP_PER_VCPU_SECOND / gflop)
    return max(MIN_WARM_CALLS, min(most, fitting))


@dataclass(frozen=True)
class ModelPrices:
    """One model's sweep over the memory sizes, and what the table says of it."""

    model: str
    input_size: str
    gflop: float
    random_weights: bool
    rounds: int
    warm_calls: int
    results: list[SizeResult]


def tune_model(
    image: str, own_model: str, model: str, sizes: list[int], rounds: int, most_calls: int, event: dict
) -> ModelPrices:
    """The image's own model as it ships; any other with random weights of its shape, as bench mounts it."""
    cfg_text = model_cfg_text(model)
    gflop = cfg_gflop(cfg_text, MANIFEST[model]["flavour"])
    calls = warm_calls_for(gflop, most_calls)
    progress(f"{model}: {gflop:.1f} GFLOP per image, {rounds} rounds of {calls} warm calls per size")
    if model == own_model:
        results = measure_sizes(image, sizes, rounds, calls, event)
        return ModelPrices(model, input_size(cfg_text), gflop, False, rounds, calls, results)
    with tempfile.TemporaryDirectory(prefix="tune-model-") as folder:
        model_dir, size = timing_model_dir(image, model, Path(folder))
        extra_env, volumes = timing_mount(model, model_dir)
        results = measure_sizes(image, sizes, rounds, calls, event, extra_env, volumes)
    return ModelPrices(model, size, gflop, True, rounds, calls, results)


def ms_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:,.{0 if value >= 100 else 1}f} ms"


def price_rows(run: ModelPrices) -> list[str]:
    """A model's rows: the cheapest size and the balanced one (one row when they are the same size)."""
    weights = "random, timing only" if run.random_weights else "real"
    cells = [run.model, weights, run.input_size, f"{run.gflop:.1f}"]
    calls = f"{run.rounds} x {run.warm_calls}"
    picked = choices(run.results)
    if not picked:
        errors = "; ".join(dict.fromkeys(r.timing.error for r in run.results if r.timing.error))
        return [
            "| " + " | ".join([*cells, f"failed: {errors or 'no call measured'}", *["-"] * 5, calls]) + " |"
        ]
    by_size = {result.memory_mb: result for result in run.results}
    rows = []
    for memory_mb in dict.fromkeys(picked[name] for name in TABLE_CHOICES):
        result = by_size[memory_mb]
        row = [
            *cells,
            ", ".join(name for name in TABLE_CHOICES if picked[name] == memory_mb),
            f"{memory_mb} MB",
            ms_cell(median(result.timing.duration_ms)),
            ms_cell(result.billed_ms),
            *(fmt(result.cost(arch), "${:,.2f}") for arch in PRICE_PER_GB_SECOND),
            calls,
        ]
        rows.append("| " + " | ".join(row) + " |")
        cells = [""] * len(cells)  # the model's facts once, on its first row
    return rows


def prices_block(runs: list[ModelPrices], heading: str) -> list[str]:
    """The generated part of the page: when and where, then the table, the original example last."""
    original_ms = ORIGINAL_SECONDS * 1000
    gflop = {run.model: run.gflop for run in runs}
    original = [
        f"{ORIGINAL_MODEL}, the original example (Darknet on Lambda, its own figure)",
        "real",
        "608x608",
        fmt(gflop.get(ORIGINAL_MODEL), "{:.1f}"),
        "-",
        f"{ORIGINAL_MEMORY_MB} MB",
        ms_cell(original_ms),
        ms_cell(original_ms),
        f"${cost_per_million(original_ms, ORIGINAL_MEMORY_MB):,.2f}",
        "-",
        "-",
    ]
    return [
        heading,
        "",
        PRICE_HEADER,
        "|" + "---|" * PRICE_HEADER.count(" | ") + "---|",
        *(row for run in runs for row in price_rows(run)),
        "| " + " | ".join(original) + " |",
        *failure_notes(runs),
    ]


def failure_notes(runs: list[ModelPrices]) -> list[str]:
    """Under the table, each size that failed in some round: never chosen, and often a finding in itself
    (a model too large for the size's memory)."""
    failed = [
        f"- {run.model} at {result.memory_mb} MB: {result.timing.error} (that size is never chosen)"
        for run in runs
        for result in run.results
        if result.timing.error
    ]
    return ["", *failed] if failed else []


def run_heading(
    host: dict, started: datetime, loads: tuple[tuple[float, ...], tuple[float, ...]], minutes: float
) -> str:
    """When, on what, under what load (the machine may be shared), how long, and the command to redo it."""
    start, end = (", ".join(f"{load:.2f}" for load in one) for one in loads)
    return (
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {host['cpu']} "
        f"(family/model {host['cpu_family_model']}, {host['vector']}), {host['cores']} cores; "
        f"load average (1, 5, 15 min) {start} at the start and {end} at the end; "
        f"the run took {minutes:.0f} min. Regenerate with `{PRICES_COMMAND}`."
    )


def rewritten(page: str, block: list[str]) -> str:
    """The page with the text between the markers replaced by the block."""
    head, begin, rest = page.partition(PRICES_BEGIN)
    _, end, tail = rest.partition(PRICES_END)
    if not begin or not end:
        raise SystemExit(f"tune: the page has no {PRICES_BEGIN} ... {PRICES_END} markers to write between")
    return "\n".join([head + begin, *block, end + tail])


def tune_models(args: argparse.Namespace, host: dict, event: dict, sizes: list[int]) -> int:
    """--model / --all-models: each model swept over the sizes; the table printed, and written if asked."""
    started, loads_at_start, began = datetime.now(UTC), os.getloadavg(), time.perf_counter()
    own_model = image_env(args.image).get(MODEL_ENV, DEFAULT_MODEL)
    models = list(MANIFEST) if args.all_models else [args.model]
    rounds = args.rounds or ALL_MODELS_ROUNDS
    runs = []
    for model in models:
        run = tune_model(args.image, own_model, model, sizes, rounds, args.warm_calls, event)
        print("\n".join(["", f"{model}:", *table(run.results, choices(run.results))]), flush=True)
        runs.append(run)
    heading = run_heading(
        host, started, (loads_at_start, os.getloadavg()), (time.perf_counter() - began) / 60
    )
    block = prices_block(runs, heading)
    print("\n".join(["", *block]))
    if args.write:
        args.write.write_text(rewritten(args.write.read_text(), block))
    print(
        json.dumps(
            {
                "image": args.image,
                "models": {
                    run.model: {
                        "input": run.input_size,
                        "gflop": round(run.gflop, 2),
                        "weights": "random, timing only" if run.random_weights else "real",
                        "rounds": run.rounds,
                        "warm_calls": run.warm_calls,
                        "choices": choices(run.results),
                        "sizes": [r.summary() for r in run.results],
                    }
                    for run in runs
                },
            }
        )
    )
    return 0 if all(r.timing.error is None for run in runs for r in run.results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument(
        "--warm-calls", type=int, default=30, help="warm calls per container (fewer for heavy models)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="sweeps over the sizes, a fresh container each; calls pooled "
        f"(default {DEFAULT_ROUNDS}; {ALL_MODELS_ROUNDS} with --model or --all-models)",
    )
    parser.add_argument(
        "--memory", default=",".join(map(str, MEMORY_SIZES_MB)), help="comma-separated memory sizes (MB)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        choices=sorted(MANIFEST),
        help="a manifest model (not the image's: random weights, timing only)",
    )
    which.add_argument("--all-models", action="store_true", help="every model of container/models.json")
    parser.add_argument(
        "--write", type=Path, help="with --model/--all-models: rewrite the table between the page's markers"
    )
    args = parser.parse_args(argv)
    if args.write and not (args.model or args.all_models):
        parser.error("--write needs --model or --all-models")
    began = time.perf_counter()
    host = machine()
    event = make_api_event(file_from_image(args.image, SAMPLE_IMAGE))
    sizes = [int(size) for size in args.memory.split(",")]
    if args.model or args.all_models:
        return tune_models(args, host, event, sizes)
    rounds = args.rounds or DEFAULT_ROUNDS
    results = measure_sizes(args.image, sizes, rounds, args.warm_calls, event)
    picked = choices(results)
    lines = [
        "",
        f"machine: {host['cpu']} ({host['vector']}), {host['cores']} cores; image {args.image}; "
        f"load {load()} (1, 5, 15 min) at the end",
        f"dog.jpg through the HTTP JSON path: {rounds} rounds over the sizes, each a fresh container"
        f" (cold start) then {args.warm_calls} warm calls;",
        f"CPU share emulated as docker --cpus MB/{LAMBDA_MB_PER_VCPU}; "
        "durations from the emulator's REPORT lines.",
        "",
        *table(results, picked),
        "",
        f"$/M = 1e6 x billed ms / 1000 x MB / {MB_PER_GB} x $/GB-s"
        f" + ${PRICE_PER_MILLION_REQUESTS:.2f} requests; "
        + ", ".join(f"{arch} ${price}/GB-s" for arch, price in PRICE_PER_GB_SECOND.items())
        + ".",
        "arm64 $/M prices the x86 duration measured here at arm64 rates: not a Graviton measurement.",
        "init: the INIT phase of the cold start (billed once per cold start, not included in $/M).",
        "predict: predict_seconds, the network's run alone; billed/pred: what Lambda bills over it.",
        "Absolute ms and $ follow the host and its load: read the table as a method (the ratios and the",
        "order of the sizes hold across hosts better than the prices), and measure on the host you price.",
        billed_line(results, picked),
        f"balanced: the fastest size costing at most {BALANCED_COST_MARGIN:.0%} more than the cheapest.",
        f"tune took {time.perf_counter() - began:.0f} s",
    ]
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "image": args.image,
                "machine": host,
                "load": load(),
                "choices": picked,
                "sizes": [r.summary() for r in results],
            }
        )
    )
    return 0 if all(r.timing.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
