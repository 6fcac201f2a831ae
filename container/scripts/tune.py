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
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass

from bench import (
    DEFAULT_ENGINE,
    MB_PER_GB,
    ORIGINAL_SECONDS,
    PRICE_PER_GB_SECOND,
    PRICE_PER_MILLION_REQUESTS,
    SAMPLE_IMAGE,
    EngineTiming,
    Limits,
    cost_per_million,
    file_from_image,
    load,
    machine,
    median,
    time_engine,
)
from lambda_events import make_api_event
from local_lambda import DEFAULT_IMAGE

from darknet_detector.contract import LAMBDA_MB_PER_VCPU

MEMORY_SIZES_MB = (1024, 1536, LAMBDA_MB_PER_VCPU, 2048, 3008, 2 * LAMBDA_MB_PER_VCPU)
# AWS Lambda list prices, us-east-1 (first pricing tier): per GB-second of billed duration by
# architecture, and per request.
ORIGINAL_MEMORY_MB = 1024
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--warm-calls", type=int, default=30, help="warm calls per container")
    parser.add_argument(
        "--rounds", type=int, default=5, help="sweeps over the sizes, a fresh container each; calls pooled"
    )
    parser.add_argument(
        "--memory", default=",".join(map(str, MEMORY_SIZES_MB)), help="comma-separated memory sizes (MB)"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    host = machine()
    event = make_api_event(file_from_image(args.image, SAMPLE_IMAGE))
    sizes = [int(size) for size in args.memory.split(",")]
    pooled = {memory_mb: EngineTiming(DEFAULT_ENGINE, limits_for(memory_mb)) for memory_mb in sizes}
    for _ in range(args.rounds):
        for total in pooled.values():
            timing = time_engine(
                args.image, DEFAULT_ENGINE, total.limits, event, args.warm_calls, cold_starts=1
            )
            pool(total, timing)
    results = [
        SizeResult(memory_mb, memory_mb / LAMBDA_MB_PER_VCPU, pooled[memory_mb]) for memory_mb in sizes
    ]
    picked = choices(results)
    lines = [
        "",
        f"machine: {host['cpu']} ({host['vector']}), {host['cores']} cores; image {args.image}; "
        f"load {load()} (1, 5, 15 min) at the end",
        f"dog.jpg through the HTTP JSON path: {args.rounds} rounds over the sizes, each a fresh container"
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
