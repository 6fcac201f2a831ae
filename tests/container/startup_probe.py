"""Run inside the image: the start-up path and one detection, with and without the pre-optimised graph.

`python3 startup_probe.py IMAGE` prints one JSON document: the CPU's NCHWc block as ONNX Runtime will see
it, and for each way of creating the session whether the pre-optimised graph was used, the detections and
result.out's class lines. tests/container/test_optimised_graph.py runs it under an emulated CPU.
"""

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from darknet_detector.core.source import SourceImage
from darknet_detector.engines.cpu_features import read_nchwc_block_size
from darknet_detector.engines.onnx_runtime import OnnxEngine
from darknet_detector.engines.optimised_graph import PLAIN_GRAPH_ENV


def main(image: str) -> None:
    source = SourceImage.from_file(Path(image))
    report = {"nchwc_block_size": read_nchwc_block_size(), "runs": {}}
    for graph, plain in (("pre-optimised", "0"), ("plain", "1")):
        os.environ[PLAIN_GRAPH_ENV] = plain
        engine = OnnxEngine(Path(os.environ["DETECTOR_MODEL_DIR"]), os.environ["DETECTOR_MODEL"])
        with tempfile.TemporaryDirectory() as workdir:
            run = engine.detect(source, Path(workdir), annotate=False)
        report["runs"][graph] = {
            "preoptimised": engine.preoptimised,
            "detections": [dataclasses.asdict(detection) for detection in run.detections],
            "result_lines": run.result_text.splitlines()[1:],
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
