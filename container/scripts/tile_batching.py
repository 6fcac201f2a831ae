"""Are tiles faster through ONNX Runtime as one batch than one by one? Measured before the build changes.

The converted graph has a fixed batch of 1 (its input is 1x3xHxW). This script makes a copy whose batch
dimension is symbolic, checks that a batch gives the same outputs as the tiles one by one, and times,
alternating in one run (so a busy machine disturbs both alike): N tiles one by one on the shipped
graph, and the same N as one batch on the copy; each the median of several rounds, with the session
built as the function builds it (session_options, the CPUs at hand).

    .venv/bin/python container/scripts/tile_batching.py [--image TAG] [--batch 4 16] [--threads 1]

Prints one line per batch size and a JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from local_lambda import DEFAULT_IMAGE, files_from_image

from darknet_detector.contract import DEFAULT_MODEL
from darknet_detector.core import cpu
from darknet_detector.engines.onnx_runtime import PROVIDERS, session_options
from darknet_detector.model_format import INPUT_NAME

MODEL_FOLDER = "/opt/model"
ROUNDS = 7
BATCH_DIMENSION = "tiles"


def dynamic_batch(graph: Path, destination: Path) -> Path:
    """A copy of the graph whose inputs' and outputs' first dimension is symbolic."""
    model = onnx.load(str(graph))
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIMENSION
    onnx.checker.check_model(model)
    onnx.save(model, str(destination))
    return destination


def median_seconds(run, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="the built image whose graph is measured")
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8, 16], help="tiles per batch")
    parser.add_argument(
        "--threads",
        type=int,
        default=cpu.thread_count(),
        help="intra-op threads (1: a 1769 MB Lambda's one vCPU)",
    )
    args = parser.parse_args(argv)
    threads = args.threads
    with tempfile.TemporaryDirectory() as folder:
        model_dir = files_from_image(args.image, MODEL_FOLDER, "*", Path(folder))
        shipped = model_dir / f"{DEFAULT_MODEL}.onnx"
        batched = dynamic_batch(shipped, Path(folder) / "batched.onnx")
        one = ort.InferenceSession(str(shipped), session_options(threads), providers=PROVIDERS)
        many = ort.InferenceSession(str(batched), session_options(threads), providers=PROVIDERS)
        shape = one.get_inputs()[0].shape
        outputs = [output.name for output in one.get_outputs()]
        rows = []
        for size in args.batch:
            tiles = np.random.default_rng(size).random((size, *shape[1:]), dtype=np.float32)
            singles = [one.run(outputs, {INPUT_NAME: tiles[i : i + 1]}) for i in range(size)]
            together = many.run(outputs, {INPUT_NAME: tiles})
            for index, output in enumerate(together):
                expected = np.concatenate([single[index] for single in singles])
                np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
            sequential, batch = [], []

            def one_by_one(tiles=tiles, size=size):
                return [one.run(outputs, {INPUT_NAME: tiles[i : i + 1]}) for i in range(size)]

            def as_batch(tiles=tiles):
                return many.run(outputs, {INPUT_NAME: tiles})

            for _ in range(3):  # alternate, so that load on the machine falls on both
                sequential.append(median_seconds(one_by_one))
                batch.append(median_seconds(as_batch))
            row = {
                "tiles": size,
                "one_by_one_ms_per_tile": round(statistics.median(sequential) * 1000 / size, 2),
                "batch_ms_per_tile": round(statistics.median(batch) * 1000 / size, 2),
            }
            row["batch_over_one_by_one"] = round(row["batch_ms_per_tile"] / row["one_by_one_ms_per_tile"], 3)
            rows.append(row)
            print(
                f"{size:3} tiles: one by one {row['one_by_one_ms_per_tile']} ms/tile, as a batch "
                f"{row['batch_ms_per_tile']} ms/tile ({row['batch_over_one_by_one']}x)",
                flush=True,
            )
    print(json.dumps({"threads": threads, "onnxruntime": ort.__version__, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
