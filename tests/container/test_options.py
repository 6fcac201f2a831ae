"""Inside the built image: a threshold given per call is Darknet's -thresh for that call, and a class
filter keeps exactly the asked classes of what Darknet prints.

The reference is the Darknet CLI run at each threshold (its own -thresh) in the reference variant, compared by
darknet_detector.building.parity's criteria; nothing here compares against stored numbers. Needs Docker and
the built images, and fails (never skips) when either is missing.
"""

from __future__ import annotations

import json

import pytest
from test_parity import REFERENCE_IMAGE, SAMPLES, run_in_image

pytestmark = pytest.mark.docker

THRESHOLDS = (0.1, 0.25, 0.7)

PER_CALL_THRESHOLDS = """
import json, pathlib, sys, tempfile
from darknet_detector.engines.darknet_cli import DarknetCliEngine
from darknet_detector.core.source import SourceImage
from darknet_detector.engines.onnx_runtime import OnnxEngine
from darknet_detector.building.parity import compare

thresholds = json.loads(sys.argv[1])
onnx = OnnxEngine(pathlib.Path("/opt/model"), "yolov3-tiny", 0.5)
report = []
for name in sys.argv[2:]:
    source = SourceImage.from_file(pathlib.Path(f"/opt/darknet/data/{name}.jpg"))
    for threshold in thresholds:
        # A CLI engine built with this threshold: exactly `darknet detector test ... -thresh T`.
        darknet = DarknetCliEngine(
            pathlib.Path("/opt/model"), "yolov3-tiny", threshold, pathlib.Path("/opt/darknet/bin/darknet")
        )
        reference = darknet.detect(source, pathlib.Path(tempfile.mkdtemp()))
        fast = onnx.detect(source, pathlib.Path(tempfile.mkdtemp()), threshold=threshold)
        comparison = compare(name, reference.detections, fast.detections)
        report.append({
            "image": name,
            "threshold": threshold,
            "count": len(reference.detections),
            "problems": comparison.problems,
            "same_text": reference.result_text.splitlines()[1:] == fast.result_text.splitlines()[1:],
        })
    default = onnx.detect(source, pathlib.Path(tempfile.mkdtemp()), annotate=False)
    report.append({"image": name, "default_threshold": onnx.threshold, "count": len(default.detections)})
print(json.dumps(report))
"""


def test_a_threshold_per_call_detects_what_darknet_does_at_that_threshold():
    completed = run_in_image(
        "-c", PER_CALL_THRESHOLDS, json.dumps(THRESHOLDS), *SAMPLES, timeout=900, image=REFERENCE_IMAGE
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    for entry in (e for e in report if "threshold" in e):
        assert not entry["problems"] and entry["same_text"], entry
    counts = {(e["image"], e["threshold"]): e["count"] for e in report if "threshold" in e}
    for image in SAMPLES:
        assert counts[image, 0.1] >= counts[image, 0.25] >= counts[image, 0.7], counts
    assert counts["dog", 0.1] > counts["dog", 0.7], "the thresholds tried must change what is found"
    # A call without a threshold keeps the engine's own (the parity check at build time relies on it).
    defaults = {e["image"]: e["count"] for e in report if "default_threshold" in e}
    assert defaults["dog"] == 5


CLASS_FILTER = """
import hashlib, json, pathlib, tempfile
from darknet_detector.core.source import SourceImage
from darknet_detector.engines.onnx_runtime import OnnxEngine

onnx = OnnxEngine(pathlib.Path("/opt/model"), "yolov3-tiny", 0.5)
dog = SourceImage.from_file(pathlib.Path("/opt/darknet/data/dog.jpg"))
runs = {}
for label, classes in (("all", frozenset()), ("some", frozenset({"dog", "bicycle"}))):
    run = onnx.detect(dog, pathlib.Path(tempfile.mkdtemp()), threshold=0.25, classes=classes)
    runs[label] = {
        "detections": [d.as_dict() for d in run.detections],
        "lines": run.result_text.splitlines()[1:],
        "png": hashlib.sha256(run.annotated_png.read_bytes()).hexdigest(),
    }
print(json.dumps(runs))
"""


def test_a_class_filter_keeps_the_asked_classes_of_what_darknet_prints_in_text_detections_and_drawing():
    completed = run_in_image("-c", CLASS_FILTER, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    runs = json.loads(completed.stdout)
    everything, some = runs["all"], runs["some"]
    kept = [d for d in everything["detections"] if d["class"] in ("dog", "bicycle")]
    assert some["detections"] == kept and kept, some
    assert len(everything["detections"]) > len(kept), "the filter must leave something out"
    assert some["lines"] == [line for line in everything["lines"] if line.split(":")[0] in ("dog", "bicycle")]
    assert some["png"] != everything["png"], "the other classes' boxes must not be drawn"
