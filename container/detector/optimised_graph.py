"""Graphs optimised at image build time, one per CPU layout, so that a cold start skips the optimisation.

ONNX Runtime's full optimisation (ORT_ENABLE_ALL) is the largest part of creating a session. Its result
can be saved, but it holds convolutions in MLAS's NCHWc layout, whose block width depends on the CPU
(detector.cpu_features): 8 floats on an AVX2 CPU, which is all Lambda's x86 functions are promised, 16
with AVX-512. The build therefore writes one graph per layout it can produce, each with a JSON file of
the facts it depends on and its own size:

    /opt/model/<model>.<machine>-nchwc<block>.onnx   and   .json

and at run time the engine loads the one whose facts match this process (CPU layout, machine, ONNX
Runtime version, plain graph it came from) without optimising it again. Anything else (no file for this
layout, facts that differ, a file ONNX Runtime refuses) falls back to optimising the plain graph in full,
which is always correct, and says so in the log.

`python3 -m detector.optimised_graph --model-dir DIR --model NAME [--expect-block 8]` writes the graph
for the CPU it runs on (under `qemu-x86_64 -cpu Haswell` for the AVX2 layout) and fails unless the saved
graph gives bit-identical outputs to the plain graph optimised in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from detector.cpu_features import read_nchwc_block_size
from detector.model_files import ModelFiles

# Set to 1 to ignore the pre-optimised graphs (a benchmark's baseline, or to rule them out).
PLAIN_GRAPH_ENV = "DETECTOR_PLAIN_GRAPH"
# The engine logs this once per cold start; `make bench` reads the time from it.
SESSION_READY_LOG = "ONNX Runtime session ready in %.1f ms (%s graph, %d threads)"


@dataclass(frozen=True)
class GraphFacts:
    """What a graph optimised at ORT_ENABLE_ALL is valid for."""

    machine: str
    nchwc_block_size: int
    onnxruntime: str
    source_bytes: int  # size of the plain graph it was optimised from

    @property
    def cpu_key(self) -> str:
        return f"{self.machine}-nchwc{self.nchwc_block_size}"


@dataclass(frozen=True)
class Choice:
    """The graph to load and whether it still needs optimising; reason says why the plain one was chosen."""

    path: Path
    preoptimised: bool
    reason: str = ""


def current_facts(files: ModelFiles, onnxruntime_version: str) -> GraphFacts | None:
    """The facts a pre-optimised graph must have to be valid in this process; None if unknowable."""
    block = read_nchwc_block_size()
    if block is None:
        return None
    return GraphFacts(platform.machine(), block, onnxruntime_version, files.onnx.stat().st_size)


def choose_graph(files: ModelFiles, onnxruntime_version: str, environ: dict | None = None) -> Choice:
    """The pre-optimised graph for this CPU if its facts match, else the plain graph with the reason."""
    environ = os.environ if environ is None else environ
    plain = files.onnx
    if environ.get(PLAIN_GRAPH_ENV, "").strip() == "1":
        return Choice(plain, False, f"{PLAIN_GRAPH_ENV}=1")
    facts = current_facts(files, onnxruntime_version)
    if facts is None:
        return Choice(plain, False, f"no known NCHWc layout on {platform.machine()}")
    graph, facts_file = files.optimised_graph(facts.cpu_key), files.optimised_graph_facts(facts.cpu_key)
    if not graph.is_file() or not facts_file.is_file():
        return Choice(plain, False, f"no pre-optimised graph for this CPU ({facts.cpu_key})")
    try:
        recorded_fields = json.loads(facts_file.read_text())
        graph_bytes = recorded_fields.pop("graph_bytes")
        recorded = GraphFacts(**recorded_fields)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        return Choice(plain, False, f"{facts_file.name} is unreadable ({type(error).__name__})")
    size = graph.stat().st_size
    if size != graph_bytes:
        return Choice(plain, False, f"{graph.name} is {size} bytes, {graph_bytes} were written")
    if recorded != facts:
        differing = [
            f"{name} {value!r} != {getattr(facts, name)!r}"
            for name, value in asdict(recorded).items()
            if value != getattr(facts, name)
        ]
        return Choice(plain, False, f"{graph.name} was made for another set-up: {', '.join(differing)}")
    return Choice(graph, True)


def build(files: ModelFiles, expect_block: int | None) -> GraphFacts:
    """Write the graph optimised for this CPU and its facts; check it against the plain graph first."""
    import numpy as np
    import onnxruntime as ort

    from detector.darknet_onnx import INPUT_NAME

    facts = current_facts(files, ort.__version__)
    if facts is None:
        raise SystemExit(f"no NCHWc layout is known on {platform.machine()}: nothing to pre-optimise")
    if expect_block is not None and facts.nchwc_block_size != expect_block:
        raise SystemExit(
            f"this CPU has NCHWc block {facts.nchwc_block_size}, expected {expect_block}: "
            "is the emulator's CPU model right?"
        )
    graph = files.optimised_graph(facts.cpu_key)
    partial = graph.with_suffix(".partial")
    full = ort.SessionOptions()
    full.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    full.optimized_model_filepath = str(partial)
    plain_session = ort.InferenceSession(str(files.onnx), full, providers=["CPUExecutionProvider"])
    as_saved = ort.SessionOptions()
    as_saved.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    saved_session = ort.InferenceSession(str(partial), as_saved, providers=["CPUExecutionProvider"])
    shape = [dim if isinstance(dim, int) else 1 for dim in plain_session.get_inputs()[0].shape]
    tensor = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = plain_session.run(None, {INPUT_NAME: tensor})
    actual = saved_session.run(None, {INPUT_NAME: tensor})
    for want, got in zip(expected, actual, strict=True):
        if want.shape != got.shape or not np.array_equal(want, got):
            partial.unlink()
            raise SystemExit(f"{graph.name}: the saved graph's outputs differ from the plain graph's")
    partial.rename(graph)
    recorded = {**asdict(facts), "graph_bytes": graph.stat().st_size}
    files.optimised_graph_facts(facts.cpu_key).write_text(json.dumps(recorded, indent=1) + "\n")
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Save the model's graph optimised for this CPU.")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument(
        "--expect-block", type=int, help="fail unless this CPU's NCHWc block is this (checks an emulator)"
    )
    args = parser.parse_args(argv)
    facts = build(ModelFiles(args.model_dir, args.model), args.expect_block)
    print(f"pre-optimised {args.model} for {facts.cpu_key} (onnxruntime {facts.onnxruntime})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
