"""An engine that reports fixed boxes: enough to test the plumbing around a real engine."""

from __future__ import annotations

from pathlib import Path

from darknet_detector.contract import DEFAULT_MODEL, RESULT_IMAGE
from darknet_detector.core.detection import Detection, DetectionRun, Tiling, make_workdir
from darknet_detector.core.source import SourceImage

# What the stand-in "finds" in every image: a dog above the default threshold, a person below it.
FOUND = (Detection("dog", 0.57, 1, 2, 3, 4), Detection("person", 0.3, 5, 6, 7, 8))


class StandInEngine:
    """Copies the input to image-result.png and reports FOUND above the threshold, filtered by class as
    the real engines do: enough to test the plumbing."""

    name = "stand-in"
    model = DEFAULT_MODEL
    threshold = 0.5
    names = ("person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "dog")

    def __init__(self) -> None:
        self.calls: list[SourceImage] = []
        self.annotated: list[bool] = []
        self.tilings: list[Tiling | None] = []

    def detect(
        self,
        source: SourceImage,
        workdir: Path,
        *,
        annotate: bool = True,
        threshold: float | None = None,
        classes: frozenset[str] = frozenset(),
        tiling: Tiling | None = None,
    ) -> DetectionRun:
        self.calls.append(source)
        self.tilings.append(tiling)
        self.annotated.append(annotate)
        annotated = None
        if annotate:
            annotated = make_workdir(workdir) / RESULT_IMAGE
            annotated.write_bytes(source.data)
        threshold = self.threshold if threshold is None else threshold
        found = [d for d in FOUND if d.confidence > threshold and (not classes or d.label in classes)]
        lines = "".join(f"{d.label}: {round(d.confidence * 100)}%\n" for d in found)
        return DetectionRun(
            detections=found,
            predict_seconds=0.01,
            result_text=f"{source.name}: Predicted in 0.010000 seconds.\n{lines}",
            annotated_png=annotated,
            image_width=64,
            image_height=48,
        )
