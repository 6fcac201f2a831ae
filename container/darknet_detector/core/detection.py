"""The data every engine returns, so the handler does not care which engine ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from darknet_detector.contract import TileSpec

if TYPE_CHECKING:  # the command reads results with Detection and has no decoders
    from darknet_detector.core.source import SourceImage

NORMALIZED_DIGITS = 6
"""Decimals of result.json's and YOLO's normalised numbers: a millionth of the image, far below a pixel."""


@dataclass(frozen=True)
class Detection:
    """One class reported for one box, in pixels of the original image (Darknet's draw_detections).

    left, top, right and bottom are inclusive pixel indices, as Darknet draws them: the box covers the
    pixels left..right and top..bottom, clipped to 0..width-1 and 0..height-1. So the box is
    right - left + 1 pixels wide, and a box over the whole image is exactly the image's width. Every
    other form of the box (x, y, width, height; normalised centre and size; COCO, YOLO, VOC) is
    computed here, from these four numbers, and nowhere else."""

    label: str
    confidence: float  # 0..1
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    def xywh(self) -> tuple[int, int, int, int]:
        """Top-left corner and size in pixels: the area the box covers (COCO's bbox)."""
        return self.left, self.top, self.width, self.height

    def normalized(self, image_width: int, image_height: int) -> tuple[float, float, float, float]:
        """Centre and size as fractions (0..1) of the image's width and height (YOLO's label line)."""
        return (
            (self.left + self.width / 2) / image_width,
            (self.top + self.height / 2) / image_height,
            self.width / image_width,
            self.height / image_height,
        )

    def voc_corners(self) -> tuple[int, int, int, int]:
        """xmin, ymin, xmax, ymax as Pascal VOC counts pixels: from 1, both ends included."""
        return self.left + 1, self.top + 1, self.right + 1, self.bottom + 1

    def as_dict(self, image_size: tuple[int, int] | None = None, class_id: int | None = None) -> dict:
        """result.json's detection; box_normalized only when the image's size is known."""
        answer: dict = {"class": self.label}
        if class_id is not None:
            answer["class_id"] = class_id
        x, y, width, height = self.xywh()
        answer["confidence"] = round(self.confidence, 6)
        answer["box"] = {
            "left": self.left,
            "top": self.top,
            "right": self.right,
            "bottom": self.bottom,
            "x": x,
            "y": y,
            "width": width,
            "height": height,
        }
        if image_size is not None:
            center_x, center_y, rel_width, rel_height = (
                round(value, NORMALIZED_DIGITS) for value in self.normalized(*image_size)
            )
            answer["box_normalized"] = {
                "center_x": center_x,
                "center_y": center_y,
                "width": rel_width,
                "height": rel_height,
            }
        return answer

    @classmethod
    def from_dict(cls, detection: dict) -> Detection:
        """A detection of a result.json document (any schema 1 document: only the corners are read)."""
        box = detection["box"]
        return cls(
            str(detection["class"]),
            float(detection["confidence"]),
            int(box["left"]),
            int(box["top"]),
            int(box["right"]),
            int(box["bottom"]),
        )


def class_ids(names: Sequence[str]) -> dict[str, int]:
    """The model's class id of each name: its line in the names file (the first, should one repeat)."""
    ids: dict[str, int] = {}
    for class_id, name in enumerate(names):
        ids.setdefault(name, class_id)
    return ids


@dataclass
class DetectionRun:
    """What one image produced: detections, Darknet's text (result.out) and the annotated PNG
    (None when the caller did not ask for it and the engine could skip drawing)."""

    detections: list[Detection]
    # THE definition of predict_seconds (result.json's timings, bench's and tune's "predict", every ratio to
    # it): the network's forward pass alone, as Darknet's "Predicted in" times network_predict. For the
    # onnx engine, ONNX Runtime's session.run on the prepared input (for tiles, the sum of the passes);
    # decoding, the network input, the heads, NMS and the answer are outside it, for the darknet engine
    # the CLI's own line.
    predict_seconds: float
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

    def detections_as_dicts(self, names: Sequence[str]) -> list[dict]:
        """result.json's detections: with the model's class ids and the boxes normalised to the image."""
        ids = class_ids(names)
        size = (self.image_width, self.image_height)
        return [d.as_dict(size, ids.get(d.label)) for d in self.detections]


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


def make_workdir(workdir: Path) -> Path:
    """Create Engine.detect's private folder, owner-only as mkdtemp makes one, unless it exists."""
    workdir.mkdir(mode=0o700, exist_ok=True)
    return workdir


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

        workdir is this call's private folder, not yet created: an engine that writes files creates it
        (make_workdir) and the caller removes it.

        threshold replaces the default for this call (Darknet's -thresh); a non-empty classes keeps only
        those classes after NMS, in result.out, the detections and the drawing alike; tiling asks for
        sliced inference. Raises ImageDecodeError, TooManyTiles, and UnsupportedOption for an option the
        engine cannot honour. Drawing and PNG encoding cost as much as the network itself, so a caller that
        only wants the detections says annotate=False.
        """
        ...
