"""An image as received: classified by its bytes, sized by its header, checked against the limits.

inspect_image reads headers only (stb's formats here, the others through Pillow's header parse), so a
request is refused before any decoder allocates its pixels; SourceImage carries the result to an engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from darknet_detector.contract import (
    DRAWN_MAX_PIXELS,
    MAX_IMAGE_PIXELS,
    SUPPORTED_FORMATS,
    SUPPORTED_NAMES,
    sniff,
)
from darknet_detector.core.images import (
    HEADER_READERS,
    ImageInfo,
    ImageTooLarge,
    InvalidImage,
    corrupt,
    drawn_factor,
)
from darknet_detector.core.pillow_decoder import library_info


def inspect_image(data: bytes, max_bytes: int, max_pixels: int = MAX_IMAGE_PIXELS) -> ImageInfo:
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
    if info.pixels > max_pixels:
        raise InvalidImage(
            "too_large", f"the image is {info.width}x{info.height} pixels; the limit is {max_pixels} pixels"
        )
    return info


@dataclass(frozen=True)
class SourceImage:
    """An image as received, checked by inspect_image. Every image is decoded whole; the size decides
    only how (contract.DRAWN_MAX_PIXELS)."""

    data: bytes
    info: ImageInfo
    name: str  # the file name result.out reports, as Darknet names the image it read

    @property
    def large(self) -> bool:
        """Over DRAWN_MAX_PIXELS: the network input comes from the 8-bit pixels, the drawing is reduced."""
        return self.info.pixels > DRAWN_MAX_PIXELS

    @property
    def drawn_factor(self) -> int:
        """image-result.png is drawn at 1/drawn_factor of the upright photo's size."""
        width, height = self.info.display_size
        return drawn_factor(width, height)

    @classmethod
    def from_file(cls, path: Path) -> SourceImage:
        """A local image (tools and parity checks; the handler sets the byte limits)."""
        data = Path(path).read_bytes()
        return cls(data, inspect_image(data, max(len(data), 1), 2**62), Path(path).name)
