"""Cheap checks on image bytes before any decoder sees them.

Darknet's stb_image decodes a truncated JPEG into a half-grey picture without complaint and
exits the process on others, so the function classifies input itself: what type it is, whether
the file is complete, and how many pixels it will take in memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# What stb_image (hence Darknet) reads, with the extension Darknet's file gets.
SUPPORTED_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "bmp": ".bmp", "gif": ".gif"}
# Recognised, but stb_image (hence Darknet) cannot read them.
UNSUPPORTED_SIGNATURES = {
    b"RIFF": "webp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"%PDF": "pdf",
    b"\x00\x00\x00\x0cjP": "jpeg2000",
}


class InvalidImage(ValueError):
    """The bytes are not an image the detector can read; status is the HTTP code to answer with."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ImageInfo:
    kind: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return SUPPORTED_EXTENSIONS[self.kind]


def sniff(data: bytes) -> str | None:
    """The image type from its magic bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return data[8:12].decode()
    for signature, kind in UNSUPPORTED_SIGNATURES.items():
        if data.startswith(signature):
            return kind
    return None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the JPEG markers to the frame header, then to the first scan; require the end-of-image marker.

    A frame header with no scan after it carries no pixels: stb_image "decodes" it as a blank picture.
    """
    if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
        raise InvalidImage("truncated_image", "JPEG is truncated: no end-of-image marker", 400)
    size: tuple[int, int] | None = None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise InvalidImage("corrupt_image", f"JPEG is corrupt: no marker at byte {position}", 400)
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker == 0xDA:
            if size is None:
                break
            return size
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if position + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            size = (width, height)
        position += 2 + length
    if size is None:
        raise InvalidImage("corrupt_image", "JPEG is corrupt: no frame header", 400)
    raise InvalidImage("corrupt_image", "JPEG is corrupt: no image data after the frame header", 400)


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise InvalidImage("corrupt_image", "PNG is corrupt: no IHDR chunk", 400)
    if b"IEND" not in data[-16:]:
        raise InvalidImage("truncated_image", "PNG is truncated: no IEND chunk", 400)
    return struct.unpack(">II", data[16:24])


def _bmp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 26:
        raise InvalidImage("truncated_image", "BMP is truncated: no header", 400)
    declared = struct.unpack("<I", data[2:6])[0]
    if declared and declared > len(data):
        raise InvalidImage("truncated_image", f"BMP is truncated: {len(data)} of {declared} bytes", 400)
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


def _gif_size(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise InvalidImage("truncated_image", "GIF is truncated: no header", 400)
    if not data.rstrip(b"\x00").endswith(b";"):
        raise InvalidImage("truncated_image", "GIF is truncated: no trailer", 400)
    return struct.unpack("<HH", data[6:10])


_SIZE_READERS = {"jpeg": _jpeg_size, "png": _png_size, "bmp": _bmp_size, "gif": _gif_size}


def inspect_image(data: bytes, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Classify data or raise InvalidImage with the HTTP status that describes the problem."""
    if not data:
        raise InvalidImage("empty_body", "the request has no image: the body is empty", 400)
    if len(data) > max_bytes:
        raise InvalidImage(
            "too_large", f"the image is {len(data)} bytes; the limit here is {max_bytes} bytes", 413
        )
    kind = sniff(data)
    if kind is None:
        raise InvalidImage("not_an_image", "the body is not an image: expected JPEG, PNG, BMP or GIF", 415)
    if kind not in SUPPORTED_EXTENSIONS:
        raise InvalidImage(
            "unsupported_type", f"{kind.upper()} images are not supported: send JPEG, PNG, BMP or GIF", 415
        )
    width, height = _SIZE_READERS[kind](data)
    if width <= 0 or height <= 0:
        raise InvalidImage("corrupt_image", f"{kind.upper()} header gives a size of {width}x{height}", 400)
    if width * height > max_pixels:
        raise InvalidImage(
            "too_large", f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels", 413
        )
    return ImageInfo(kind=kind, width=width, height=height)
