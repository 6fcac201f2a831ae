"""The data every engine returns, so the handler does not care which engine ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class ImageDecodeError(ValueError):
    """The input could not be read as an image (Darknet's "Cannot load image")."""


@dataclass(frozen=True)
class Detection:
    """One class reported for one box, in pixels of the original image (Darknet's draw_detections)."""

    label: str
    confidence: float  # 0..1
    left: int
    top: int
    right: int
    bottom: int

    def as_dict(self) -> dict:
        return {
            "class": self.label,
            "confidence": round(self.confidence, 6),
            "box": {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom},
        }


@dataclass
class DetectionRun:
    """What one image produced: detections, Darknet's text (result.out) and the annotated PNG
    (None when the caller did not ask for it and the engine could skip drawing)."""

    detections: list[Detection]
    predict_seconds: float  # the network alone, as Darknet's "Predicted in" line
    result_text: str  # exactly Darknet's stdout format: "<img>: Predicted in X seconds.\n" + "cls: NN%" lines
    annotated_png: Path | None
    image_width: int
    image_height: int
    timings: dict[str, float] = field(default_factory=dict)

    def detections_as_dicts(self) -> list[dict]:
        return [d.as_dict() for d in self.detections]


class Engine(Protocol):
    """A loaded model that turns an image file into a DetectionRun, reused across warm invocations."""

    name: str
    model: str
    threshold: float

    def detect(self, image_path: Path, workdir: Path, *, annotate: bool = True) -> DetectionRun:
        """Detect objects in image_path and, if annotate, write image-result.png into workdir.

        Raises ImageDecodeError. Drawing and PNG encoding cost as much as the network itself, so a
        caller that only wants the detections says annotate=False.
        """
        ...
