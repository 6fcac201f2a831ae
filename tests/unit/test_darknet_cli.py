"""Darknet's CLI output: success judged from the text, boxes from the patched stderr lines."""

import stat

import pytest

from darknet_detector.contract import DEFAULT_MODEL, RESULT_IMAGE
from darknet_detector.core.detection import UnsupportedOption
from darknet_detector.core.images import ImageDecodeError
from darknet_detector.core.source import SourceImage
from darknet_detector.engines.darknet_cli import (
    DarknetCliEngine,
    DarknetError,
    EngineUnavailable,
    UnsupportedModelError,
    parse_output,
)

STDOUT = """/tmp/detect-x/dog.jpg: Predicted in 0.225046 seconds.
dog: 57%
car: 52%
truck: 56%
bicycle: 59%
"""
STDERR = """layer     filters    size              input                output
    0 conv     16  3 x 3 / 1   416 x 416 x   3   ->   416 x 416 x  16  0.150 BFLOPs
Loading weights from yolov3-tiny.weights...Done!
box: 0.570733 129 186 369 517 dog
box: 0.517268 533 94 621 157 car
box: 0.557826 533 94 621 157 truck
box: 0.585022 206 150 575 450 bicycle
"""


def test_parses_prediction_time_text_and_boxes():
    output = parse_output(STDOUT, STDERR)
    assert output.predict_seconds == pytest.approx(0.225046)
    assert output.result_text == STDOUT
    assert [(d.label, round(d.confidence, 2)) for d in output.detections] == [
        ("dog", 0.57),
        ("car", 0.52),
        ("truck", 0.56),
        ("bicycle", 0.59),
    ]
    assert (output.detections[0].left, output.detections[0].bottom) == (129, 517)


def test_class_names_with_spaces():
    output = parse_output(
        "x.jpg: Predicted in 0.1 seconds.\ntraffic light: 70%\n", "box: 0.700000 1 2 3 4 traffic light\n"
    )
    assert output.detections[0].label == "traffic light"


def test_no_detections_is_a_success():
    output = parse_output("x.jpg: Predicted in 0.2 seconds.\n", "Loading weights...Done!\n")
    assert output.detections == []


def test_unreadable_image_raises_decode_error_even_though_darknet_exits_zero():
    stderr = 'Loading weights from w...Done!\nCannot load image "bad.jpg"\nSTB Reason: no SOF\n'
    with pytest.raises(ImageDecodeError, match="no SOF"):
        parse_output("", stderr)


def test_missing_prediction_line_is_an_error():
    with pytest.raises(DarknetError, match="Predicted in"):
        parse_output("", "Segmentation fault\n")


def test_stdout_and_boxes_must_agree():
    with pytest.raises(DarknetError, match="do not match"):
        parse_output(STDOUT, "box: 0.570733 129 186 369 517 dog\n")


# Stands in for the darknet binary: prints the "Predicted in" line for the image it is given (the
# sixth argument), writes the -out PNG, and reports the OpenMP thread count it was started with.
FAKE_DARKNET = """#!/bin/sh
echo "$6: Predicted in 0.100000 seconds."
echo "$OMP_NUM_THREADS" > omp-threads
echo "$8" > thresh
cp "$6" "${10}.png"
"""


def test_darknet_runs_with_as_many_openmp_threads_as_granted(tmp_path, small_png):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("yolov3-tiny.data", "yolov3-tiny.cfg", "yolov3-tiny.weights", "yolov3-tiny.names"):
        (model_dir / name).write_text("")
    darknet = tmp_path / "darknet"
    darknet.write_text(FAKE_DARKNET)
    darknet.chmod(darknet.stat().st_mode | stat.S_IXUSR)
    image = tmp_path / "image.png"
    image.write_bytes(small_png)
    workdir = tmp_path / "work"
    workdir.mkdir()

    engine = DarknetCliEngine(model_dir, DEFAULT_MODEL, 0.5, darknet, threads=3)
    run = engine.detect(SourceImage.from_file(image), workdir)

    assert run.detections == [] and run.annotated_png == workdir / RESULT_IMAGE
    assert (workdir / "omp-threads").read_text() == "3\n"
    assert (workdir / "thresh").read_text() == "0.5\n"


@pytest.fixture
def fake_engine(tmp_path) -> DarknetCliEngine:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("yolov3-tiny.data", "yolov3-tiny.cfg", "yolov3-tiny.weights"):
        (model_dir / name).write_text("")
    (model_dir / "yolov3-tiny.names").write_text("person\nbicycle\ncar\n")
    darknet = tmp_path / "darknet"
    darknet.write_text(FAKE_DARKNET)
    darknet.chmod(darknet.stat().st_mode | stat.S_IXUSR)
    return DarknetCliEngine(model_dir, DEFAULT_MODEL, 0.5, darknet, threads=1)


def test_a_threshold_per_call_is_darknet_s_thresh_for_that_call_only(fake_engine, tmp_path, small_png):
    image = tmp_path / "image.png"
    image.write_bytes(small_png)
    for threshold, expected in ((0.25, "0.25"), (None, "0.5")):
        workdir = tmp_path / f"work-{expected}"
        workdir.mkdir()
        fake_engine.detect(SourceImage.from_file(image), workdir, threshold=threshold)
        assert (workdir / "thresh").read_text() == f"{expected}\n"
    assert fake_engine.names == ["person", "bicycle", "car"]


def test_a_class_filter_is_refused_since_the_cli_draws_every_class(fake_engine, tmp_path, small_png):
    image = tmp_path / "image.png"
    image.write_bytes(small_png)
    with pytest.raises(UnsupportedOption, match="draws every class"):
        fake_engine.detect(SourceImage.from_file(image), tmp_path, classes=frozenset({"car"}))


def test_a_model_only_the_fork_runs_is_refused_by_name(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("parts.data", "parts.cfg", "parts.weights"):
        (model_dir / name).write_text("")
    (model_dir / "model.json").write_text('{"model": "parts", "flavour": "fork", "darknet_cli": false}')
    with pytest.raises(
        UnsupportedModelError, match="model parts uses layers only the maintained Darknet fork"
    ):
        DarknetCliEngine(model_dir, "parts", 0.5, tmp_path / "darknet")


@pytest.mark.parametrize("missing", ["darknet", "yolov3.weights"])
def test_an_image_without_the_cli_or_the_weights_names_the_reference_variant(tmp_path, missing):
    """The default image carries neither: the error says which variant runs this engine, and no path."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("yolov3.data", "yolov3.cfg", "yolov3.weights"):
        (model_dir / name).write_text("")
    darknet = tmp_path / "darknet"
    darknet.write_text("")
    (darknet if missing == "darknet" else model_dir / missing).unlink()
    with pytest.raises(EngineUnavailable) as error:
        DarknetCliEngine(model_dir, "yolov3", 0.5, darknet)
    assert str(error.value) == (
        "DETECTOR_ENGINE=darknet needs Darknet's own CLI and the yolov3 weights, which only the image's "
        "reference variant carries (build target 'reference', tag IMAGE:TAG-reference); this image runs "
        "the onnx engine"
    )


def test_darknet_killed_for_memory_says_so(tmp_path, small_png):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("yolov3.data", "yolov3.cfg", "yolov3.weights", "yolov3.names"):
        (model_dir / name).write_text("")
    darknet = tmp_path / "darknet"
    darknet.write_text("#!/bin/sh\nkill -9 $$\n")
    darknet.chmod(darknet.stat().st_mode | stat.S_IXUSR)
    image = tmp_path / "image.png"
    image.write_bytes(small_png)
    engine = DarknetCliEngine(model_dir, "yolov3", 0.5, darknet)
    with pytest.raises(DarknetError, match=r"killed by signal 9 \(out of memory"):
        engine.detect(SourceImage.from_file(image), tmp_path)
