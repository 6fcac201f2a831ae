"""Write the graph optimised for this CPU's layout at image build time, less the weights it can derive.

`python3 -m darknet_detector.building.preoptimise --model-dir DIR --model NAME [--expect-block 8]` writes
the graph for the CPU it runs on (under `qemu-x86_64 -cpu Haswell` for the AVX2 layout) and its facts;
darknet_detector.engines.optimised_graph says what they are and loads them at start-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from darknet_detector.engines.optimised_graph import (
    TRANSFORMS,
    Choice,
    DerivedWeight,
    GraphFacts,
    current_facts,
    load_preoptimised,
)
from darknet_detector.model_format import INPUT_NAME, ModelFiles


def _weight_sources(plain_graph: Path, block: int) -> list[tuple[dict, np.ndarray]]:
    """Every way the build knows to make a weight from one of the plain graph's: (recipe, result)."""
    import onnx
    from onnx import numpy_helper

    data = plain_graph.read_bytes()
    sources = []
    for tensor in onnx.load_from_string(data).graph.initializer:
        array = numpy_helper.to_array(tensor)
        if array.dtype != np.float32 or not array.size:
            continue
        offset = data.find(array.tobytes())  # any place with these bytes holds these values
        if offset < 0:
            continue
        for transform, make in TRANSFORMS.items():
            try:
                made = make(array, block)
            except ValueError:  # a transform for weights of another rank
                continue
            sources.append(({"offset": offset, "shape": list(array.shape), "transform": transform}, made))
    return sources


def strip_weights(graph_path: Path, plain_graph: Path, block: int, facts_name: str) -> dict[str, dict]:
    """Take out of the saved graph each weight a recipe reproduces byte for byte; the recipes by name.

    Each weight taken out is left as external data in the facts file beside the graph (facts_name): a
    file that exists, as ONNX Runtime requires of external data, and holds the recipes, not the bytes,
    so a weight the engine does not supply fails the load loudly instead of being read from elsewhere.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(graph_path))
    sources = _weight_sources(plain_graph, block)
    recipes = {}
    for tensor in graph.graph.initializer:
        wanted = numpy_helper.to_array(tensor)
        for recipe, made in sources:
            if made.shape == wanted.shape and made.dtype == wanted.dtype and np.array_equal(made, wanted):
                recipes[tensor.name] = recipe
                tensor.ClearField("raw_data")
                tensor.ClearField("float_data")
                tensor.data_location = onnx.TensorProto.EXTERNAL
                del tensor.external_data[:]
                location = tensor.external_data.add()
                location.key, location.value = "location", facts_name
                break
    onnx.save(graph, str(graph_path))
    return recipes


def build(files: ModelFiles, expect_block: int | None) -> GraphFacts:
    """Write the graph optimised for this CPU, less the weights it can derive, and its facts, once checked."""
    import onnxruntime as ort

    facts = current_facts(files, ort.__version__)
    if facts is None:
        raise SystemExit(f"no NCHWc layout is known on {platform.machine()}: nothing to pre-optimise")
    if expect_block is not None and facts.nchwc_block_size != expect_block:
        raise SystemExit(
            f"this CPU has NCHWc block {facts.nchwc_block_size}, expected {expect_block}: "
            "is the emulator's CPU model right?"
        )
    graph, facts_file = files.optimised_graph(facts.cpu_key), files.optimised_graph_facts(facts.cpu_key)
    with tempfile.TemporaryDirectory(dir=files.directory) as scratch:
        partial, partial_facts = Path(scratch) / graph.name, Path(scratch) / facts_file.name
        full = ort.SessionOptions()
        full.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        full.optimized_model_filepath = str(partial)
        plain_session = ort.InferenceSession(str(files.onnx), full, providers=["CPUExecutionProvider"])
        recipes = strip_weights(partial, files.onnx, facts.nchwc_block_size, facts_file.name)
        recorded = {**asdict(facts), "graph_bytes": partial.stat().st_size, "weights": recipes}
        partial_facts.write_text(json.dumps(recorded, indent=1) + "\n")
        as_saved = ort.SessionOptions()
        as_saved.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        weights = {name: DerivedWeight.from_json(recipe) for name, recipe in recipes.items()}
        choice = Choice(partial, True, weights=weights, block=facts.nchwc_block_size)
        saved = load_preoptimised(choice, files, as_saved)
        shape = [dim if isinstance(dim, int) else 1 for dim in plain_session.get_inputs()[0].shape]
        tensor = np.random.default_rng(0).random(shape, dtype=np.float32)
        expected = plain_session.run(None, {INPUT_NAME: tensor})
        actual = saved.session.run(None, {INPUT_NAME: tensor})
        for want, got in zip(expected, actual, strict=True):
            if want.shape != got.shape or not np.array_equal(want, got):
                raise SystemExit(f"{graph.name}: the saved graph's outputs differ from the plain graph's")
        partial.replace(graph)
        partial_facts.replace(facts_file)
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
    graph = ModelFiles(args.model_dir, args.model).optimised_graph(facts.cpu_key)
    print(
        f"pre-optimised {args.model} for {facts.cpu_key} (onnxruntime {facts.onnxruntime}): "
        f"{graph.stat().st_size} bytes, its weights derived from the plain graph at start-up"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
