"""An image as received: classified by its bytes, sized by its header, checked against the limits.

inspect_image reads headers only (stb's formats here, the others through Pillow's header parse), so a
request is refused before any decoder allocates its pixels; SourceImage carries the result to an engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from darknet_detector.contract import SUPPORTED_FORMATS, SUPPORTED_NAMES, sniff
from darknet_detector.core.images import (
    HEADER_READERS,
    ImageInfo,
    ImageTooLarge,
    InvalidImage,
    PixelBudget,
    corrupt,
)
from darknet_detector.core.pillow_decoder import library_info


def inspect_image(data: bytes, max_bytes: int, budget: PixelBudget) -> ImageInfo:
    """Classify data or raise InvalidImage with a code that names the problem."""
    if not data:
        raise InvalidImage("empty_body", "the request has no image: the body is empty")
    if len(data) > max_bytes:
        raise ImageTooLarge(len(data), max_bytes)
    kind = sniff(data)
    if kind is None:
        raise InvalidImage("not_an_image", f"the body is not an image: expected {SUPPORTED_NAMES}")
    if kind not in SUPPORTED_FORMATS:
        raise InvalidImage(
            "unsupported_type", f"{kind.upper()} images are not supported: send {SUPPORTED_NAMES}"
        )
    info = HEADER_READERS[kind](data) if kind in HEADER_READERS else library_info(data, kind)
    if info.width <= 0 or info.height <= 0:
        raise corrupt(kind, f"the header gives a size of {info.width}x{info.height}")
    limit = budget.limit(kind)
    if info.pixels > limit:
        raise InvalidImage(
            "too_large",
            f"the image is {info.width}x{info.height} pixels; this function's memory allows {limit} "
            f"pixels for {kind.upper()}",
        )
    return info


@dataclass(frozen=True)
class SourceImage:
    """An image as received, checked by images.inspect_image, with the scale it is decoded at."""

    data: bytes
    info: ImageInfo
    name: str  # the file name result.out reports, as Darknet names the image it read
    reduction: int = 1  # decode at 1/reduction of the stored size (1: full resolution)

    @classmethod
    def from_file(cls, path: Path) -> SourceImage:
        """A local image at full resolution (tools and parity checks; the handler sets limits)."""
        data = Path(path).read_bytes()
        unlimited = PixelBudget(full_decode=2**62, accepted=2**62, accepted_jpeg=2**62)
        return cls(data, inspect_image(data, max(len(data), 1), unlimited), Path(path).name)
