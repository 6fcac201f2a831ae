"""Cheap checks on image bytes before any decoder sees them.

Darknet's stb_image decodes a truncated JPEG into a half-grey picture without complaint and exits the
process on others, and any decoder allocates whatever a header declares, so the function classifies
input itself, from the bytes alone and without decoding: what type it is, whether the file is complete
(bytes after a complete image are allowed: phones append trailers), which way up it is shown (EXIF
orientation), and whether its declared size is possible for the bytes present.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

from darknet_detector.contract import DRAWN_MAX_PIXELS, STB_FORMATS

# The extension a file of each format gets when a program needs it on disk.
EXTENSIONS = {
    "jpeg": ".jpg",
    "png": ".png",
    "bmp": ".bmp",
    "gif": ".gif",
    "webp": ".webp",
    "heif": ".heic",
    "avif": ".avif",
    "tiff": ".tif",
}
# EXIF orientation: 1 is upright; 2-8 are the mirrorings and quarter turns a viewer applies.
ORIENTATION_TAG = 0x0112
ORIENTATIONS = range(1, 9)

# Hard lower bounds on the bytes an honest file needs for its declared pixels (size-bomb rule):
# deflate cannot encode more than 258 bytes in under 2 bits, at most 1032:1 (PNG);
# a Huffman-coded JPEG spends at least 1 bit on each 8x8 block's DC coefficient;
# an LZW code of at least 3 bits stands for at most 4096 pixels (GIF);
# RLE8 repeats a pixel at most 255 times per 2-byte pair (BMP).
DEFLATE_MAX_RATIO = 1032
JPEG_MIN_BITS_PER_BLOCK = 1
GIF_MAX_PIXELS_PER_BYTE = 4096 * 8 // 3
BMP_RLE_MAX_PIXELS_PER_BYTE = 128


class ImageDecodeError(ValueError):
    """The input could not be read as an image (Darknet's "Cannot load image")."""


class InvalidImage(ValueError):
    """The bytes are not an image the detector can read; code names the problem for any caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ImageTooLarge(InvalidImage):
    """More bytes than the route that brought them takes; a route with a higher limit may take them."""

    def __init__(self, size: int, limit_bytes: int) -> None:
        super().__init__("too_large", f"the image is {size} bytes; the limit here is {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


def corrupt(kind: str, problem: str) -> InvalidImage:
    return InvalidImage("corrupt_image", f"{kind.upper()} is corrupt: {problem}")


def _truncated(kind: str, problem: str) -> InvalidImage:
    return InvalidImage("truncated_image", f"{kind.upper()} is truncated: {problem}")


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: format, stored size, orientation, and which decoder reads it."""

    kind: str
    width: int  # as stored, before orientation
    height: int
    orientation: int = 1

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.kind]

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as a viewer shows the image: orientations 5-8 swap the axes."""
        return (self.height, self.width) if self.orientation >= 5 else (self.width, self.height)

    @property
    def stb_decoded(self) -> bool:
        return self.kind in STB_FORMATS


def drawn_factor(width: int, height: int) -> int:
    """The whole k image-result.png of a photo is drawn at 1/k by: 1 up to DRAWN_MAX_PIXELS, else the
    smallest k that brings (width // k) x (height // k) within it. A rule of the photo alone."""
    factor = 1
    while (width // factor) * (height // factor) > DRAWN_MAX_PIXELS:
        factor += 1
    return factor


def exif_orientation(tiff: bytes) -> int:
    """The orientation tag of an EXIF block (a TIFF structure), 1 when absent or malformed."""
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        return 1
    try:
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
        for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
            tag, kind = struct.unpack(order + "HH", tiff[entry : entry + 4])
            if tag == ORIENTATION_TAG and kind == 3:  # SHORT
                (value,) = struct.unpack(order + "H", tiff[entry + 8 : entry + 10])
                return value if value in ORIENTATIONS else 1
    except struct.error:
        return 1
    return 1


# In entropy-coded JPEG data, 0xFF is followed by 0x00 (a stuffed byte) or a restart marker;
# anything else is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_FRAMES = {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
_JPEG_ARITHMETIC = {*range(0xC9, 0xCC), *range(0xCD, 0xD0)}


def _jpeg_info(data: bytes) -> ImageInfo:
    """Walk the markers and the entropy-coded scans to the real end-of-image marker.

    Bytes after it (phone trailers, motion-photo video) are ignored. A frame header with no scan after
    it carries no pixels: stb_image "decodes" it as a blank picture, so it is refused.
    """
    size: tuple[int, int] | None = None
    first_component_blocks = 0
    arithmetic = False
    orientation = None
    entropy_bytes = 0
    scans = 0
    position = 2
    end = len(data)
    while True:
        if position + 2 > end:
            raise _truncated("jpeg", "no end-of-image marker")
        if data[position] != 0xFF:
            raise corrupt("jpeg", f"no marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == 0xD9:
            break
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if position + 4 > end:
            raise _truncated("jpeg", "a marker segment is cut off")
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segment = data[position + 4 : position + 2 + length]
        if position + 2 + length > end:
            raise _truncated("jpeg", "a marker segment is cut off")
        if marker in _JPEG_FRAMES and len(segment) >= 6:
            height, width, components = struct.unpack(">HHB", segment[1:6])
            sampling = [segment[7 + 3 * i] for i in range(components) if 8 + 3 * i < len(segment)]
            if sampling:
                h_max, v_max = max(s >> 4 for s in sampling), max(s & 15 for s in sampling)
                h0, v0 = sampling[0] >> 4, sampling[0] & 15
                if h_max and v_max:
                    first_component_blocks = math.ceil(math.ceil(width * h0 / h_max) / 8) * math.ceil(
                        math.ceil(height * v0 / v_max) / 8
                    )
            size = (width, height)
            arithmetic = marker in _JPEG_ARITHMETIC
        elif marker == 0xE1 and orientation is None and segment.startswith(b"Exif\x00\x00"):
            orientation = exif_orientation(segment[6:])
        position += 2 + length
        if marker == 0xDA:
            if size is None:
                raise corrupt("jpeg", "no frame header before the image data")
            scans += 1
            found = _JPEG_NEXT_MARKER.search(data, position)
            if found is None:
                raise _truncated("jpeg", "no end-of-image marker")
            entropy_bytes += found.start() - position
            position = found.start()
    if size is None:
        raise corrupt("jpeg", "no frame header")
    if scans == 0:
        raise corrupt("jpeg", "no image data after the frame header")
    width, height = size
    if not arithmetic and entropy_bytes * 8 < first_component_blocks * JPEG_MIN_BITS_PER_BLOCK:
        raise size_bomb("jpeg", width, height, len(data))
    return ImageInfo("jpeg", width, height, orientation or 1)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png_info(data: bytes) -> ImageInfo:
    """Walk the chunks to IEND (bytes after it are ignored): size, eXIf orientation, IDAT total."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise corrupt("png", "no IHDR chunk")
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    if color not in PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise corrupt("png", f"unknown colour type {color} at bit depth {depth}")
    orientation = 1
    compressed = 0
    position = 8
    end = len(data)
    while True:
        if position + 12 > end:
            raise _truncated("png", "no IEND chunk")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if position + 12 + length > end:
            raise _truncated("png", f"the {kind.decode(errors='replace')} chunk is cut off")
        if kind == b"IEND":
            break
        if kind == b"IDAT":
            compressed += length
        elif kind == b"eXIf":
            orientation = exif_orientation(data[position + 8 : position + 8 + length])
        position += 12 + length
    if compressed == 0:
        raise corrupt("png", "no image data (IDAT)")
    raw_bytes = height * (1 + math.ceil(width * PNG_CHANNELS[color] * depth / 8))
    if compressed * DEFLATE_MAX_RATIO < raw_bytes:
        raise size_bomb("png", width, height, len(data))
    return ImageInfo("png", width, height, orientation)


def _bmp_info(data: bytes) -> ImageInfo:
    if len(data) < 34:
        raise _truncated("bmp", "no header")
    declared = struct.unpack("<I", data[2:6])[0]
    if declared and declared > len(data):
        raise _truncated("bmp", f"{len(data)} of {declared} bytes")
    offset = struct.unpack("<I", data[10:14])[0]
    width, height = struct.unpack("<ii", data[18:26])
    width, height = abs(width), abs(height)
    bits, compression = struct.unpack("<HI", data[28:34])
    if compression in (0, 3):  # uncompressed rows, padded to 4 bytes
        needed = ((width * bits + 31) // 32) * 4 * height
        if len(data) - offset < needed:
            raise _truncated("bmp", f"{len(data) - offset} bytes of pixels for {needed} declared")
    elif width * height > len(data) * BMP_RLE_MAX_PIXELS_PER_BYTE:
        raise size_bomb("bmp", width, height, len(data))
    return ImageInfo("bmp", width, height)


def _gif_sub_blocks(data: bytes, position: int) -> tuple[int, int]:
    """Skip a chain of GIF data sub-blocks: (position after its terminator, payload bytes)."""
    payload = 0
    while True:
        if position >= len(data):
            raise _truncated("gif", "a data block is cut off")
        size = data[position]
        position += 1 + size
        if size == 0:
            return position, payload
        payload += size


def _gif_info(data: bytes) -> ImageInfo:
    """Walk the blocks to the trailer (bytes after it are ignored), counting the image data present."""
    if len(data) < 13:
        raise _truncated("gif", "no header")
    width, height, flags = struct.unpack("<HHB", data[6:11])
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    image_bytes = 0
    while True:
        if position >= len(data):
            raise _truncated("gif", "no trailer")
        block = data[position]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            position, _ = _gif_sub_blocks(data, position + 2)
        elif block == 0x2C:  # image: descriptor, local colour table, LZW code size, sub-blocks
            if position + 10 > len(data):
                raise _truncated("gif", "an image descriptor is cut off")
            local = data[position + 9]
            position += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            position, payload = _gif_sub_blocks(data, position)
            image_bytes += payload
        else:
            raise corrupt("gif", f"unknown block 0x{block:02x} at byte {position}")
    if image_bytes == 0:
        raise corrupt("gif", "no image data")
    if width * height > image_bytes * GIF_MAX_PIXELS_PER_BYTE:
        raise size_bomb("gif", width, height, len(data))
    return ImageInfo("gif", width, height)


def size_bomb(kind: str, width: int, height: int, size: int) -> InvalidImage:
    return InvalidImage(
        "corrupt_image",
        f"{kind.upper()} declares {width}x{height} pixels, impossible in {size} bytes "
        "(a decompression bomb or a damaged header)",
    )


HEADER_READERS = {"jpeg": _jpeg_info, "png": _png_info, "bmp": _bmp_info, "gif": _gif_info}
