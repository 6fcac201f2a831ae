"""Graphs optimised at image build time, one per CPU layout, so that a cold start skips the optimisation.

ONNX Runtime's full optimisation (ORT_ENABLE_ALL) is the largest part of creating a session. Its result can be
saved, but it holds convolutions in MLAS's NCHWc layout, whose block width depends on the CPU
(darknet_detector.engines.cpu_features): 8 floats on an AVX2 CPU, which is all Lambda's x86 functions are
promised, 16 with AVX-512. The build therefore writes one graph per layout it can produce, each with a JSON
file of the facts it depends on and its own size:

    /opt/model/<model>.<machine>-nchwc<block>.onnx   and   .json

A saved graph's weights are the plain graph's, reordered into blocks (MLAS's ReorderFilterOIHWBiBo and
ReorderFilterOIHWBo) or zero-padded to a whole block. Shipping them again would add 35 MB of
incompressible floats per layout, so the saved graph keeps only its nodes, and its JSON file says, for
each weight, where in the plain graph's file its source lies and which reorder makes it. At start-up
the engine reads the plain graph's weights in place, reorders them with numpy (about as long as ONNX
Runtime takes to read them from a file) and hands them to ONNX Runtime with the graph, optimisation off,
as shared initializers, which it uses where they lie.
The build keeps a recipe only if it reproduces ONNX Runtime's own weights byte for byte, and the graph
only if, loaded that way, it gives bit-identical outputs to the plain graph optimised in full.

At run time the graph whose facts match this process (CPU layout, machine, ONNX Runtime version, plain
graph it came from) is used. Anything else (no file for this layout, facts that differ, a file ONNX
Runtime refuses) falls back to optimising the plain graph in full, which is always correct, and says so
in the log.

The build writes them with darknet_detector.building.preoptimise.
"""

from __future__ import annotations

import json
import math
import os
import platform
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from darknet_detector.engines.cpu_features import read_nchwc_block_size
from darknet_detector.model_format import ModelFiles

if TYPE_CHECKING:
    import onnxruntime as ort

# Set to 1 to ignore the pre-optimised graphs (a benchmark's baseline, or to rule them out).
PLAIN_GRAPH_ENV = "DETECTOR_PLAIN_GRAPH"
# The engine logs this once per cold start; `make bench` reads the time from it.
SESSION_READY_LOG = "ONNX Runtime session ready in %.1f ms (%s graph, %d threads)"


def _round_up(count: int, block: int) -> int:
    return -(-count // block) * block


# Where each derived weight's data starts: a cache line, as ONNX Runtime's own arena places the weights it
# reads from a file (numpy's allocations are only 16-byte aligned, and MLAS's kernels ran 1.5 to 4%
# slower on such weights).
WEIGHT_ALIGNMENT = 64


def _aligned_copy(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """values' elements in C order, in a new array of `shape` starting on a WEIGHT_ALIGNMENT boundary."""
    size = values.size * values.itemsize
    raw = np.empty(size + WEIGHT_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % WEIGHT_ALIGNMENT
    aligned = raw[start : start + size].view(values.dtype).reshape(shape)
    aligned.reshape(values.shape)[...] = values
    return aligned


def _zero_padded(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if array.shape == shape:
        return array
    padded = np.zeros(shape, dtype=array.dtype)
    padded[tuple(slice(0, size) for size in array.shape)] = array
    return padded


def same(array: np.ndarray, block: int) -> np.ndarray:
    """The weight as it is (copied out of the file, aligned, for ONNX Runtime to use in place)."""
    return _aligned_copy(array, array.shape)


def padded(array: np.ndarray, block: int) -> np.ndarray:
    """A bias zero-padded to whole blocks of output channels."""
    (channels,) = array.shape
    shape = (_round_up(channels, block),)
    return _aligned_copy(_zero_padded(array, shape), shape)


def oihw_bibo(array: np.ndarray, block: int) -> np.ndarray:
    """MLAS's ReorderFilterOIHWBiBo: [O/B][I/B][H][W][Bi][Bo], channels zero-padded to whole blocks."""
    outputs, inputs, height, width = array.shape
    o_padded, i_padded = _round_up(outputs, block), _round_up(inputs, block)
    blocks = _zero_padded(array, (o_padded, i_padded, height, width)).reshape(
        o_padded // block, block, i_padded // block, block, height, width
    )
    return _aligned_copy(blocks.transpose(0, 2, 4, 5, 3, 1), (o_padded, i_padded, height, width))


def oihw_bo(array: np.ndarray, block: int) -> np.ndarray:
    """MLAS's ReorderFilterOIHWBo (a convolution reading plain NCHW): [O/B][I][H][W][Bo]."""
    outputs, inputs, height, width = array.shape
    o_padded = _round_up(outputs, block)
    blocks = _zero_padded(array, (o_padded, inputs, height, width)).reshape(
        o_padded // block, block, inputs, height, width
    )
    return _aligned_copy(blocks.transpose(0, 2, 3, 4, 1), (o_padded, inputs, height, width))


# How a saved graph's weight is made from one of the plain graph's, by name (the JSON file's "transform");
# each raises ValueError for a weight of another rank.
TRANSFORMS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "same": same,
    "padded": padded,
    "OIHWBiBo": oihw_bibo,
    "OIHWBo": oihw_bo,
}


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
class DerivedWeight:
    """One weight of a saved graph: float32 `shape` at byte `offset` of the plain graph, then `transform`."""

    offset: int
    shape: tuple[int, ...]
    transform: str

    @classmethod
    def from_json(cls, fields: dict) -> DerivedWeight:
        weight = cls(int(fields["offset"]), tuple(int(size) for size in fields["shape"]), fields["transform"])
        if weight.transform not in TRANSFORMS or weight.offset < 0:
            raise ValueError(f"no such weight: {fields}")
        return weight


@dataclass(frozen=True)
class Choice:
    """The graph to load and whether it still needs optimising; reason says why the plain one was chosen.

    A pre-optimised graph comes with the weights to derive for it (by initializer name) and its block.
    """

    path: Path
    preoptimised: bool
    reason: str = ""
    weights: dict[str, DerivedWeight] | None = None
    block: int = 0


def current_facts(files: ModelFiles, onnxruntime_version: str) -> GraphFacts | None:
    """The facts a pre-optimised graph must have to be valid in this process; None if unknowable."""
    block = read_nchwc_block_size()
    if block is None:
        return None
    return GraphFacts(platform.machine(), block, onnxruntime_version, files.onnx.stat().st_size)


def choose_graph(
    files: ModelFiles, onnxruntime_version: str, environ: Mapping[str, str] | None = None
) -> Choice:
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
        weights = {
            name: DerivedWeight.from_json(fields) for name, fields in recorded_fields.pop("weights").items()
        }
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
    return Choice(graph, True, weights=weights, block=facts.nchwc_block_size)


def derive_weights(
    plain_graph: Path, weights: dict[str, DerivedWeight], block: int, workers: int = 1
) -> dict[str, np.ndarray]:
    """The saved graph's weights, made from the plain graph's file read in place; ValueError if too short.

    `workers` threads share the reordering: numpy copies without holding the interpreter, and most of
    the time goes to first touches of the file's pages and of the new arrays'.
    """
    source = np.memmap(plain_graph, dtype=np.uint8, mode="r")
    for name, weight in weights.items():
        if weight.offset + 4 * math.prod(weight.shape) > source.size:
            raise ValueError(f"{name} lies beyond the end of {plain_graph.name}")
    derived: dict[str, np.ndarray] = {}
    failures: list[ValueError] = []

    def derive(share: list[tuple[str, DerivedWeight]]) -> None:
        try:
            for name, weight in share:
                array = np.frombuffer(source, np.float32, math.prod(weight.shape), weight.offset)
                derived[name] = TRANSFORMS[weight.transform](array.reshape(weight.shape), block)
        except ValueError as error:
            failures.append(error)

    largest_first = sorted(weights.items(), key=lambda item: -math.prod(item[1].shape))
    shares = [largest_first[worker::workers] for worker in range(max(1, workers))]
    helpers = [threading.Thread(target=derive, args=(share,)) for share in shares[1:]]
    for helper in helpers:
        helper.start()
    derive(shares[0])
    for helper in helpers:
        helper.join()
    if failures:
        raise failures[0]
    return {name: derived[name] for name in weights}


class GraphSession(NamedTuple):
    """A session, whether it runs a pre-optimised graph, and the derived weights it reads in place.

    ONNX Runtime keeps only a pointer to each weight (SessionOptions.add_initializer), so they must live
    as long as the session: keep this, not just the session."""

    session: ort.InferenceSession
    preoptimised: bool
    weights: dict[str, ort.OrtValue]


def load_preoptimised(
    choice: Choice, files: ModelFiles, options: ort.SessionOptions, threads: int = 1
) -> GraphSession:
    """The session on a saved graph, with its weights derived on `threads` threads.

    `options` must turn optimisation off: the graph is already optimised.
    """
    import onnxruntime as ort

    derived = derive_weights(files.onnx, choice.weights or {}, choice.block, threads)
    # Shared initializers are used where they lie. add_external_initializers, by contrast, copies each
    # weight into the graph and then again into the session's arena: 35 MB twice for yolov3-tiny, about
    # 70 ms of a 70 to 95 ms session creation at 2 CPUs (3 to 5 ms now).
    weights = {name: ort.OrtValue.ortvalue_from_numpy(array) for name, array in derived.items()}
    for name, value in weights.items():
        options.add_initializer(name, value)
    session = ort.InferenceSession(str(choice.path), options, providers=["CPUExecutionProvider"])
    return GraphSession(session, True, weights)
