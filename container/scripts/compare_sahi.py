"""Our sliced inference beside the SAHI library's, with the same detector on every slice.

SAHI (https://github.com/obss/sahi) slices a photo, detects on each slice with a model it wraps, and
merges the boxes. Here its model is this project's ONNX engine (a sahi DetectionModel whose inference is
OnnxEngine.detect_pixels: Darknet's resize, the network, heads and NMS on the slice's pixels), so only
the slicing and merging differ. Both run on the tests' generated scenes (tests/support/corpus.py: the
12000x1500 panorama of six dogs, the 48 MP photo with sample objects pasted in), SAHI with the tile
size and overlap `tiles=auto` uses for that photo and its standard whole-image pass on. SAHI's time
excludes decoding the JPEG (it is handed the pixels); ours includes it. Reported per scene and method:
placed objects found (a detection of the right class with IoU >= 0.5 on the placed box), detections,
and seconds (median of a few runs, the methods alternating).

The engine runs on this machine's Python with the image's libdarknet and model folder copied out.
SAHI is a development tool only, installed without its dependencies (its opencv-python would replace the
headless OpenCV 4 the tests use; SAHI runs on that one):

    .venv/bin/pip install --no-deps sahi shapely fire termcolor
    .venv/bin/python container/scripts/compare_sahi.py [--image darknet-lambda:yolov3-tiny]

Prints a table and a JSON object last.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from local_lambda import DEFAULT_IMAGE, files_from_image
from PIL import Image
from sahi.models.base import DetectionModel
from sahi.predict import get_sliced_prediction
from sahi.prediction import ObjectPrediction
from sahi.utils.compatibility import fix_full_shape_list, fix_shift_amount_list

from darknet_detector.contract import (
    DEFAULT_MAX_TILES,
    DEFAULT_MODEL,
    TILE_MERGE_IOS,
    TileSpec,
)
from darknet_detector.core.detection import Tiling
from darknet_detector.core.source import SourceImage, inspect_image
from darknet_detector.core.tiles import plan_tiles
from darknet_detector.engines.onnx_runtime import OnnxEngine

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from support import corpus  # noqa: E402  (tests/support: the scenes the container tests use)
from support.boxes import iou  # noqa: E402

ROUNDS = 3
MATCH_IOU = 0.5
THRESHOLD = 0.5


class DarknetSlices(DetectionModel):
    """SAHI's model interface over the engine: one slice's pixels in, ObjectPredictions out."""

    def load_model(self) -> None:
        raise ValueError("pass the engine as model=")

    def set_model(self, model, **kwargs) -> None:
        self.model = model
        self.category_mapping = {str(i): name for i, name in enumerate(model.names[: model.classes])}

    def perform_inference(self, image: np.ndarray) -> None:
        boxes, probs, _ = self.model.detect_pixels(
            np.ascontiguousarray(image[..., :3]), self.confidence_threshold
        )
        self._original_predictions = (boxes, probs, image.shape[1], image.shape[0])

    def _create_object_prediction_list_from_original_predictions(
        self, shift_amount_list=None, full_shape_list=None
    ) -> None:
        boxes, probs, width, height = self._original_predictions
        shift = fix_shift_amount_list(shift_amount_list or [[0, 0]])[0]
        shapes = fix_full_shape_list(full_shape_list)
        full = shapes[0] if shapes else None
        predictions = []
        for (x, y, w, h), row in zip(boxes, probs, strict=True):
            for class_id in np.flatnonzero(row > np.float32(self.confidence_threshold)):
                box = [
                    max(0.0, (x - w / 2) * width),
                    max(0.0, (y - h / 2) * height),
                    min(float(width), (x + w / 2) * width),
                    min(float(height), (y + h / 2) * height),
                ]
                if box[2] <= box[0] or box[3] <= box[1]:
                    continue
                predictions.append(
                    ObjectPrediction(
                        bbox=box,
                        category_id=int(class_id),
                        category_name=self.category_mapping[str(class_id)],
                        score=float(row[class_id]),
                        shift_amount=list(shift),
                        full_shape=list(full) if full else None,
                    )
                )
        self._object_prediction_list_per_image = [predictions]


def found(scene: corpus.Scene, detections: list[tuple[str, tuple]]) -> int:
    return sum(
        any(label == want and iou(box, placed) >= MATCH_IOU for label, box in detections)
        for want, placed in scene.objects
    )


def ours(engine: OnnxEngine, scene: corpus.Scene, name: str) -> list[tuple[str, tuple]]:
    source = SourceImage(scene.data, inspect_image(scene.data, len(scene.data)), f"{name}.jpg")
    with tempfile.TemporaryDirectory() as folder:
        run = engine.detect(
            source,
            Path(folder),
            annotate=False,
            threshold=THRESHOLD,
            tiling=Tiling(TileSpec(), DEFAULT_MAX_TILES),
        )
    return [(d.label, (d.left, d.top, d.right, d.bottom)) for d in run.detections]


def sahi(model: DarknetSlices, pixels: np.ndarray, side: int, overlap: float, kind: str, metric: str):
    result = get_sliced_prediction(
        pixels,
        model,
        slice_height=side,
        slice_width=side,
        overlap_height_ratio=overlap,
        overlap_width_ratio=overlap,
        perform_standard_pred=True,
        postprocess_type=kind,
        postprocess_match_metric=metric,
        postprocess_match_threshold=TILE_MERGE_IOS,
        verbose=0,
    )
    return [(p.category.name, tuple(p.bbox.to_xyxy())) for p in result.object_prediction_list]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="the built image whose engine files are used")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        model_dir = files_from_image(args.image, "/opt/model", "*", root / "model")
        library = files_from_image(args.image, "/opt/darknet/lib", "*.so", root / "lib") / "libdarknet.so"
        data = files_from_image(args.image, "/opt/darknet/data", "*.jpg", root / "data")
        samples = {path.name: path.read_bytes() for path in data.glob("*.jpg")}
        engine = OnnxEngine(model_dir, DEFAULT_MODEL, THRESHOLD, darknet_lib=library)
        model = DarknetSlices(model=engine, confidence_threshold=THRESHOLD)
        scenes = {
            "panorama": corpus.panorama(samples["dog.jpg"]),
            "pasted-48mp": corpus.pasted_objects(samples),
        }
        spec = TileSpec()
        rows = []
        for name, scene in scenes.items():
            with Image.open(io.BytesIO(scene.data)) as image:
                pixels = np.asarray(image.convert("RGB"))
            # SAHI slices as `auto` does for this photo (auto grows its tiles to stay within the bound).
            tiles = plan_tiles(
                spec, *scene.size, engine.network.width, engine.network.height, DEFAULT_MAX_TILES
            )
            side = tiles[0].width
            methods = {
                f"ours auto ({len(tiles)} tiles)": lambda scene=scene, name=name: ours(engine, scene, name),
                "sahi GREEDYNMM/IOS": lambda pixels=pixels, side=side: sahi(
                    model, pixels, side, spec.overlap, "GREEDYNMM", "IOS"
                ),
                "sahi NMS/IOU": lambda pixels=pixels, side=side: sahi(
                    model, pixels, side, spec.overlap, "NMS", "IOU"
                ),
            }
            seconds: dict[str, list[float]] = {method: [] for method in methods}
            answers: dict[str, list] = {}
            for _ in range(ROUNDS):
                for method, run in methods.items():
                    started = time.perf_counter()
                    answers[method] = run()
                    seconds[method].append(time.perf_counter() - started)
            for method, detections in answers.items():
                row = {
                    "scene": name,
                    "method": method,
                    "tile_side": side,
                    "objects": len(scene.objects),
                    "found": found(scene, detections),
                    "detections": len(detections),
                    "seconds": round(statistics.median(seconds[method]), 2),
                    "classes": sorted(label for label, _ in detections),
                }
                rows.append(row)
                print(
                    f"{name:12} {method:28} found {row['found']}/{row['objects']}  detections "
                    f"{row['detections']:3}  {row['seconds']:6.2f} s  {row['classes']}",
                    flush=True,
                )
    print(json.dumps({"overlap": spec.overlap, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
