"""The data every engine returns, so the handler does not care which engine ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from darknet_detector.contract import TileSpec
from darknet_detector.core.source import SourceImage


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
    image_width: int  # upright, at full resolution: the space of the detections' boxes
    image_height: int
    timings: dict[str, float] = field(default_factory=dict)
    # image-result.png's size (None when nothing was drawn): the photo's, or 1/drawn_factor of it for a
    # photo over contract.DRAWN_MAX_PIXELS.
    drawn_size: tuple[int, int] | None = None
    drawn_factor: int = 1
    # Set when sliced inference was asked for: result.json's `tiles` (what was planned, run, and why not all).
    tiling: dict | None = None

    def png_bytes(self) -> bytes:
        """image-result.png's bytes; only a run asked to annotate drew one."""
        if self.annotated_png is None:
            raise ValueError("this detection ran without annotate: it drew no image-result.png")
        return self.annotated_png.read_bytes()

    def detections_as_dicts(self) -> list[dict]:
        return [d.as_dict() for d in self.detections]


class UnsupportedOption(ValueError):
    """The engine cannot honour a per-request option (the Darknet CLI draws every class it finds)."""


@dataclass(frozen=True)
class DetectOptions:
    """What one request may change about a detection; the defaults are the stack's.

    threshold None keeps the engine's (the function's DETECTOR_THRESHOLD); an empty classes keeps
    every class. Names in classes are the model's class names, already checked by the caller. tiles is
    a checked tiling (contract.parse_tiles' text), None for the stack's (DETECTOR_TILES), which the
    pipeline fills in with_tiles_default. deadline is not the request's but the invocation's: the
    time.monotonic() by which the last tile must have finished (None: no bound)."""

    threshold: float | None = None
    classes: frozenset[str] = frozenset()
    tiles: str | None = None
    deadline: float | None = field(default=None, compare=False)

    def threshold_or(self, default: float) -> float:
        return default if self.threshold is None else self.threshold

    def with_tiles_default(self, default: str) -> DetectOptions:
        return self if self.tiles is not None else replace(self, tiles=default)

    def as_dict(self, default_threshold: float) -> dict:
        """What result.json's `options` records: the threshold used, the classes kept (null: all) and the
        tiling asked for (null: the stack's, when the answer was refused before it was known)."""
        return {
            "threshold": self.threshold_or(default_threshold),
            "classes": sorted(self.classes) or None,
            "tiles": self.tiles,
        }


DEFAULT_OPTIONS = DetectOptions()


@dataclass(frozen=True)
class Tiling:
    """Sliced inference as one detection is to run it: the tiling, the stack's bound on tiles and the
    invocation's deadline (time.monotonic(); None: no bound)."""

    spec: TileSpec
    max_tiles: int
    deadline: float | None = None


class Engine(Protocol):
    """A loaded model that turns an image into a DetectionRun, reused across warm invocations."""

    name: str
    model: str
    threshold: float  # the default, the function's DETECTOR_THRESHOLD

    @property
    def names(self) -> Sequence[str]:
        """The model's class names, in class order."""
        ...

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
        """Detect objects in the upright source image and, if annotate, write image-result.png into workdir.

        threshold replaces the default for this call (Darknet's -thresh); a non-empty classes keeps only
        those classes after NMS, in result.out, the detections and the drawing alike; tiling asks for
        sliced inference. Raises ImageDecodeError, TooManyTiles, and UnsupportedOption for an option the
        engine cannot honour. Drawing and PNG encoding cost as much as the network itself, so a caller that
        only wants the detections says annotate=False.
        """
        ...
