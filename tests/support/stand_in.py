"""An engine that reports one fixed box: enough to test the plumbing around a real engine."""

from __future__ import annotations

from pathlib import Path

from detector.detection import Detection, DetectionRun, SourceImage


class StandInEngine:
    """Copies the input to image-result.png and reports one fixed box: enough to test the plumbing."""

    name = "stand-in"
    model = "yolov3-tiny"
    threshold = 0.5

    def __init__(self) -> None:
        self.calls: list[SourceImage] = []
        self.annotated: list[bool] = []

    def detect(self, source: SourceImage, workdir: Path, *, annotate: bool = True) -> DetectionRun:
        self.calls.append(source)
        self.annotated.append(annotate)
        annotated = None
        if annotate:
            annotated = workdir / "image-result.png"
            annotated.write_bytes(source.data)
        return DetectionRun(
            detections=[Detection("dog", 0.57, 1, 2, 3, 4)],
            predict_seconds=0.01,
            result_text=f"{source.name}: Predicted in 0.010000 seconds.\ndog: 57%\n",
            annotated_png=annotated,
            image_width=64,
            image_height=48,
        )
