"""Pre-optimised graphs: the CPU layout test, the choice between them and the plain graph, the fallbacks.

The AVX2 graph under an emulated Haswell CPU and the fallback in the built image run in
tests/container/test_optimised_graph.py.
"""

from __future__ import annotations

import json
import logging
import math
import platform
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from darknet_detector.building.convert import convert, write_random_weights
from darknet_detector.building.preoptimise import build
from darknet_detector.contract import SERVICE_NAME
from darknet_detector.engines.cpu_features import (
    AVX2,
    AVX512F,
    FMA,
    OSXSAVE_AND_AVX,
    XCR0_AVX512_STATE,
    XCR0_AVX_STATE,
    nchwc_block_size,
    read_nchwc_block_size,
)
from darknet_detector.engines.onnx_runtime import create_session
from darknet_detector.engines.optimised_graph import (
    PLAIN_GRAPH_ENV,
    WEIGHT_ALIGNMENT,
    DerivedWeight,
    choose_graph,
    derive_weights,
    oihw_bibo,
    oihw_bo,
    padded,
)
from darknet_detector.model_format import INPUT_NAME, ModelFiles

AVX2_CPU = (OSXSAVE_AND_AVX | FMA, AVX2, XCR0_AVX_STATE)
AVX512_CPU = (OSXSAVE_AND_AVX | FMA, AVX2 | AVX512F, XCR0_AVX_STATE | XCR0_AVX512_STATE)

# Channel counts that NCHWc blocks of 8 and 16 both divide, so the full optimisation rewrites the convs.
MODEL_CFG = """
[net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=64
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14,23,27,37,58
classes=2
num=3
"""


def test_avx512_with_its_registers_saved_gives_blocks_of_16():
    assert nchwc_block_size(*AVX512_CPU) == 16


@pytest.mark.parametrize(
    ("leaf1_ecx", "leaf7_ebx", "xcr0"),
    [
        AVX2_CPU,
        (OSXSAVE_AND_AVX | FMA, AVX2 | AVX512F, XCR0_AVX_STATE),  # the OS does not save AVX-512 state
        (OSXSAVE_AND_AVX, AVX2 | AVX512F, XCR0_AVX_STATE | XCR0_AVX512_STATE),  # no FMA: MLAS's AVX path
        (FMA, AVX2 | AVX512F, 0),  # no usable AVX at all
    ],
)
def test_every_other_x86_cpu_gives_blocks_of_8(leaf1_ecx, leaf7_ebx, xcr0):
    assert nchwc_block_size(leaf1_ecx, leaf7_ebx, xcr0) == 8


def test_cpuid_on_this_machine_agrees_with_the_kernels_cpu_flags():
    if platform.machine() != "x86_64":
        assert read_nchwc_block_size() is None
        return
    flags = set(Path("/proc/cpuinfo").read_text().split("\nflags", 1)[1].split("\n", 1)[0].split())
    expected = 16 if {"avx2", "fma", "avx512f"} <= flags else 8
    assert read_nchwc_block_size() == expected


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> ModelFiles:
    directory = tmp_path_factory.mktemp("model")
    files = ModelFiles(directory, "small")
    files.cfg.write_text(MODEL_CFG)
    write_random_weights(files.cfg, files.weights, seed=3)
    convert(files.cfg, files.weights, files.onnx)
    return files


@pytest.fixture
def model(model_files, tmp_path) -> ModelFiles:
    """A fresh copy of the model directory with this CPU's pre-optimised graph, for a test to damage."""
    files = ModelFiles(tmp_path, model_files.model)
    files.onnx.write_bytes(model_files.onnx.read_bytes())
    build(files, expect_block=None)
    return files


class Collected(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings():
    """The engine's warnings, read on its own logger (Powertools may have stopped it propagating)."""
    engine_logger, collected = logging.getLogger(SERVICE_NAME), Collected()
    engine_logger.addHandler(collected)
    yield collected.messages
    engine_logger.removeHandler(collected)


def cpu_key() -> str:
    return f"{platform.machine()}-nchwc{read_nchwc_block_size()}"


def outputs(session: ort.InferenceSession) -> list[np.ndarray]:
    tensor = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
    return session.run(None, {INPUT_NAME: tensor})


def test_build_writes_the_graph_and_its_facts(model):
    facts = json.loads(model.optimised_graph_facts(cpu_key()).read_text())
    weights = facts.pop("weights")
    assert facts == {
        "machine": platform.machine(),
        "nchwc_block_size": read_nchwc_block_size(),
        "onnxruntime": ort.__version__,
        "source_bytes": model.onnx.stat().st_size,
        "graph_bytes": model.optimised_graph(cpu_key()).stat().st_size,
    }
    # Both convolutions read blocks (the first one plain NCHW), the head's 21 channels are padded.
    assert sorted(weight["transform"] for weight in weights.values()) == sorted(
        ["OIHWBo", "same", "OIHWBiBo", "same", "OIHWBiBo", "padded"]
    )


def test_the_saved_graph_holds_no_weight_it_can_derive(model):
    saved = model.optimised_graph(cpu_key()).stat().st_size
    assert saved < model.onnx.stat().st_size / 10, saved


BLOCKS = (8, 16)


@pytest.mark.parametrize("block", BLOCKS)
def test_a_filter_reordered_for_blocks_puts_each_weight_where_mlas_reads_it(block):
    outputs_, inputs, height, width = 21, 24, 3, 3
    filters = (
        np.arange(outputs_ * inputs * height * width, dtype=np.float32).reshape(outputs_, inputs, 3, 3) + 1
    )
    reordered = oihw_bibo(filters, block)
    padded_o, padded_i = -(-outputs_ // block) * block, -(-inputs // block) * block
    assert reordered.shape == (padded_o, padded_i, height, width)
    flat = reordered.reshape(-1)
    for o, i, y, x in [(0, 0, 0, 0), (20, 23, 2, 2), (9, 17, 1, 2), (block - 1, block, 0, 1)]:
        # MLAS's [O/B][I/B][H][W][Bi][Bo]
        index = (
            ((((o // block) * (padded_i // block) + i // block) * height + y) * width + x) * block + i % block
        ) * block + o % block
        assert flat[index] == filters[o, i, y, x]
    assert np.count_nonzero(flat == 0) == padded_o * padded_i * height * width - filters.size


@pytest.mark.parametrize("block", BLOCKS)
def test_a_filter_reading_plain_nchw_is_blocked_by_output_only(block):
    filters = np.arange(16 * 3 * 3 * 3, dtype=np.float32).reshape(16, 3, 3, 3) + 1
    flat = oihw_bo(filters, block).reshape(-1)
    for o, i, y, x in [(0, 0, 0, 0), (15, 2, 2, 2), (9, 1, 0, 2)]:
        index = ((((o // block) * 3 + i) * 3 + y) * 3 + x) * block + o % block  # [O/B][I][H][W][Bo]
        assert flat[index] == filters[o, i, y, x]


@pytest.mark.parametrize("workers", [2, 3])
def test_threads_sharing_the_reordering_derive_the_same_weights(model, workers):
    choice = choose_graph(model, ort.__version__)
    alone = derive_weights(model.onnx, choice.weights, choice.block)
    shared = derive_weights(model.onnx, choice.weights, choice.block, workers)
    assert list(shared) == list(alone)
    for name, array in alone.items():
        np.testing.assert_array_equal(shared[name], array)


def test_a_weight_a_helper_thread_cannot_derive_fails_the_whole_derivation(model):
    choice = choose_graph(model, ort.__version__)
    smallest = min(choice.weights, key=lambda name: math.prod(choice.weights[name].shape))
    weights = {**choice.weights, smallest: DerivedWeight(choice.weights[smallest].offset, (4,), "OIHWBiBo")}
    with pytest.raises(ValueError):
        derive_weights(model.onnx, weights, choice.block, workers=2)


def test_a_bias_is_padded_to_whole_blocks():
    np.testing.assert_array_equal(padded(np.ones(21, np.float32), 16), [1] * 21 + [0] * 11)
    with pytest.raises(ValueError):
        padded(np.ones((2, 2), np.float32), 8)


def test_build_refuses_a_cpu_other_than_the_one_expected(model_files, tmp_path):
    files = ModelFiles(tmp_path, model_files.model)
    files.onnx.write_bytes(model_files.onnx.read_bytes())
    other = 8 if read_nchwc_block_size() == 16 else 16
    with pytest.raises(SystemExit, match=f"expected {other}"):
        build(files, expect_block=other)
    assert not files.optimised_graph(cpu_key()).exists()


def test_the_matching_graph_is_loaded_and_computes_what_the_plain_graph_does(model, warnings):
    loaded = create_session(model, threads=1)
    assert loaded.preoptimised and loaded.weights
    assert not warnings
    assert all(value.data_ptr() % WEIGHT_ALIGNMENT == 0 for value in loaded.weights.values())
    plain = ort.InferenceSession(str(model.onnx), providers=["CPUExecutionProvider"])
    for got, want in zip(outputs(loaded.session), outputs(plain), strict=True):
        np.testing.assert_array_equal(got, want)


def damage_facts(files: ModelFiles, **changes) -> None:
    path = files.optimised_graph_facts(cpu_key())
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda files: files.optimised_graph(cpu_key()).unlink(), "no pre-optimised graph for this CPU"),
        (
            lambda files: files.optimised_graph_facts(cpu_key()).unlink(),
            "no pre-optimised graph for this CPU",
        ),
        (lambda files: damage_facts(files, nchwc_block_size=4), "nchwc_block_size 4 !="),
        (lambda files: damage_facts(files, onnxruntime="0.0.1"), "onnxruntime '0.0.1' !="),
        (lambda files: damage_facts(files, source_bytes=1), "source_bytes 1 !="),
        (lambda files: files.optimised_graph_facts(cpu_key()).write_text("{not json"), "is unreadable"),
        (lambda files: files.optimised_graph_facts(cpu_key()).write_text("{}"), "is unreadable"),
        (lambda files: files.optimised_graph(cpu_key()).write_bytes(b"\0" * 100), "bytes, "),
    ],
    ids=[
        "graph-missing",
        "facts-missing",
        "other-layout",
        "other-runtime",
        "other-source",
        "bad-json",
        "facts-incomplete",
        "truncated",
    ],
)
def test_anything_amiss_falls_back_to_the_plain_graph_and_says_why(model, warnings, damage, reason):
    damage(model)
    choice = choose_graph(model, ort.__version__)
    assert (choice.path, choice.preoptimised) == (model.onnx, False)
    assert reason in choice.reason
    loaded = create_session(model, threads=1)
    assert not loaded.preoptimised
    assert warnings == [f"pre-optimised graph not used, optimising the plain graph: {choice.reason}"]
    outputs(loaded.session)


def test_a_graph_onnx_runtime_refuses_falls_back(model, warnings):
    graph = model.optimised_graph(cpu_key())
    graph.write_bytes(b"\xff" * graph.stat().st_size)  # the size the facts record, not a graph
    assert choose_graph(model, ort.__version__).preoptimised
    loaded = create_session(model, threads=1)
    assert not loaded.preoptimised
    (message,) = warnings
    assert f"{graph.name} could not be loaded" in message
    outputs(loaded.session)


@pytest.mark.parametrize(
    "damage",
    [
        lambda weights: {name: {**w, "offset": 10**9} for name, w in weights.items()},
        lambda weights: {name: {**w, "transform": "unknown"} for name, w in weights.items()},
        lambda weights: dict(list(weights.items())[1:]),
    ],
    ids=["beyond-the-plain-graph", "unknown-transform", "one-weight-missing"],
)
def test_weights_that_cannot_be_derived_fall_back_to_the_plain_graph(model, warnings, damage):
    damage_facts(
        model, weights=damage(json.loads(model.optimised_graph_facts(cpu_key()).read_text())["weights"])
    )
    loaded = create_session(model, threads=1)
    assert not loaded.preoptimised
    (message,) = warnings
    assert "could not be loaded" in message or "is unreadable" in message
    outputs(loaded.session)


def test_a_recipe_the_graph_does_not_use_changes_nothing(model, warnings):
    """ONNX Runtime ignores a shared initializer no node reads; every weight the graph does read is
    supplied (one that is not fails the load, above), so the answers are the plain graph's."""
    weights = json.loads(model.optimised_graph_facts(cpu_key()).read_text())["weights"]
    damage_facts(model, weights={**weights, "not-in-the-graph": next(iter(weights.values()))})
    loaded = create_session(model, threads=1)
    assert loaded.preoptimised
    assert not warnings
    plain = ort.InferenceSession(str(model.onnx), providers=["CPUExecutionProvider"])
    for got, want in zip(outputs(loaded.session), outputs(plain), strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_plain_graph_can_be_forced(model, monkeypatch):
    monkeypatch.setenv(PLAIN_GRAPH_ENV, "1")
    assert not create_session(model, threads=1).preoptimised
    assert choose_graph(model, ort.__version__).reason == f"{PLAIN_GRAPH_ENV}=1"
