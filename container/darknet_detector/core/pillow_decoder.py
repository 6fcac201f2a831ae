"""Pillow's side of decoding: every format stb_image does not decode here, and a large photo's drawn copy.

Pillow (with pi-heif for HEIC/HEIF) is imported on the first image that needs it, so the cold start
and the warm JPEG path never pay for it; decoding says which photos come here.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numpy as np

from darknet_detector.core.images import ImageInfo, InvalidImage

PILLOW_FORMATS = {"webp": "WEBP", "heif": "HEIF", "avif": "AVIF", "tiff": "TIFF"}
DECODER_ORIENTED = ("heif", "tiff")


@cache
def _pillow():
    """Pillow with the HEIF opener registered; its own decompression-bomb guard is replaced by ours."""
    import pi_heif
    from PIL import Image

    pi_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = None
    return Image


@contextmanager
def _decoder_errors(kind: str, problem: str) -> Iterator[None]:
    """Any exception from a decoder fed untrusted bytes means the file cannot be read.

    Damage surfaces in many ways (OSError, SyntaxError, ValueError, EOFError, AVIF's RuntimeError...);
    running out of memory is not damage and is passed on.
    """
    try:
        yield
    except MemoryError:
        raise
    except Exception as error:
        text = str(error)
        code = "truncated_image" if "truncated" in text else "corrupt_image"
        raise InvalidImage(code, f"{kind.upper()} {problem}: {text}") from None


def _open(data: bytes, kind: str):
    image_module = _pillow()
    with _decoder_errors(kind, "is corrupt"):
        return image_module.open(io.BytesIO(data), formats=[PILLOW_FORMATS.get(kind, kind.upper())])


def library_info(data: bytes, kind: str) -> ImageInfo:
    """Size and orientation from Pillow's header parse (no pixels are decoded here).

    pi-heif applies HEIF's own rotation and libtiff the TIFF orientation tag while decoding, and
    Pillow then reports the upright size: for those the pixels need no further turn.
    """
    with _open(data, kind) as image, _decoder_errors(kind, "is corrupt"):
        orientation = 1 if kind in DECODER_ORIENTED else image.getexif().get(0x0112, 1)
        width, height = image.size
    return ImageInfo(kind, width, height, orientation if orientation in range(1, 9) else 1)


def library_pixels(data: bytes, info: ImageInfo) -> np.ndarray:
    """(h, w, 3) uint8 pixels as stored, at full resolution."""
    with _open(data, info.kind) as opened, _decoder_errors(info.kind, "cannot be decoded"):
        image = opened
        if image.mode.startswith(("I", "F")):
            # 16-bit and wider modes: Pillow's convert("RGB") clips them; keep the high byte, as stb does.
            image = _pillow().fromarray(eight_bits(np.asarray(image)))
        # An RGB image is read as it is: convert() would copy it first (4 bytes a pixel).
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


# The drawn copy is reduced in row blocks of about this many source pixels, so that Pillow's copy of
# them stays a few MB.
BLOCK_PIXELS = 1 << 22


def reduced(pixels: np.ndarray, factor: int) -> np.ndarray:
    """(h // factor, w // factor, 3) uint8: each pixel the mean of a factor x factor block, by Pillow's
    reduce (SIMD) on row blocks of contiguous stored pixels. The copy image-result.png of a large photo
    is drawn on; the network never sees it."""
    if factor == 1:
        return pixels
    height, width = pixels.shape[0] // factor, pixels.shape[1] // factor
    out = np.empty((height, width, 3), dtype=np.uint8)
    step = max(1, BLOCK_PIXELS // max(1, pixels.shape[1] * factor))
    image_module = _pillow()
    for start in range(0, height, step):
        stop = min(start + step, height)
        block = np.ascontiguousarray(pixels[start * factor : stop * factor])
        box = (0, 0, width * factor, (stop - start) * factor)
        out[start:stop] = np.asarray(image_module.fromarray(block).reduce(factor, box=box))
    return out


def eight_bits(high: np.ndarray) -> np.ndarray:
    """8-bit pixels of a 16-bit (or wider) single-channel image: the high byte of a 16-bit value."""
    if high.dtype.kind == "f":
        return np.clip(high, 0, 255).astype(np.uint8)
    if high.dtype.itemsize == 2 or high.max(initial=0) > 255:
        return (np.clip(high, 0, 65535) >> 8).astype(np.uint8)
    return np.clip(high, 0, 255).astype(np.uint8)
