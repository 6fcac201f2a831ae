"""Pixels in display orientation, from whichever decoder reads the format, at a size memory allows.

Darknet's stb_image decodes JPEG (baseline, progressive, grayscale, CMYK), so detections match
`darknet detector test`. PNG (8/16-bit, palette, alpha), BMP and GIF, which stb also reads, go to Pillow:
for these lossless formats it yields the very pixels stb does (>> 8 for 16-bit, alpha dropped), and it
survives damaged files that make stb_image 2.19 loop forever. WEBP, HEIC/HEIF, AVIF and TIFF go to
Pillow too (with pi-heif). Pillow is imported on the first such image, so the cold start and the
warm JPEG path never pay for it. Photos too large to decode at full resolution go to Pillow as well:
it decodes a JPEG at 1/2, 1/4 or 1/8 scale in libjpeg's DCT (draft mode), and other formats are
reduced by box averaging, so memory follows the reduced size.

Detections on a reduced decode are Darknet's detections on a pre-shrunk copy of the photo: the network
sees 416x416 either way, and Darknet's own resize samples the full image bilinearly without averaging,
so the two inputs differ by resampling only. Boxes are reported in the original image's pixels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

import numpy as np

from .detection import SourceImage
from .images import ImageInfo, InvalidImage
from .libdarknet import FloatImage, Libdarknet
from .png import encode_png

PILLOW_FORMATS = {"webp": "WEBP", "heif": "HEIF", "avif": "AVIF", "tiff": "TIFF"}
DECODER_ORIENTED = ("heif", "tiff")


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """A view of (h, w, c) stored pixels as a viewer shows them under an EXIF orientation (1-8)."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


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


def library_pixels(data: bytes, info: ImageInfo, reduction: int = 1) -> np.ndarray:
    """(h, w, 3) uint8 pixels as stored, shrunk by about reduction (DCT scaling for JPEG)."""
    target = (math.ceil(info.width / reduction), math.ceil(info.height / reduction))
    with _open(data, info.kind) as opened, _decoder_errors(info.kind, "cannot be decoded"):
        image = opened
        if info.kind == "jpeg" and reduction > 1:
            image.draft("RGB", target)
        if image.mode.startswith(("I", "F")):
            # 16-bit and wider modes: Pillow's convert("RGB") clips them; keep the high byte, as stb does.
            image = _pillow().fromarray(eight_bits(np.asarray(image)))
        image = image.convert("RGB")
        extra = math.ceil(max(image.width / target[0], image.height / target[1]) - 1e-9)
        if extra > 1:
            image = image.reduce(extra)
        return np.asarray(image)


def eight_bits(high: np.ndarray) -> np.ndarray:
    """8-bit pixels of a 16-bit (or wider) single-channel image: the high byte of a 16-bit value."""
    if high.dtype.kind == "f":
        return np.clip(high, 0, 255).astype(np.uint8)
    if high.dtype.itemsize == 2 or high.max(initial=0) > 255:
        return (np.clip(high, 0, 65535) >> 8).astype(np.uint8)
    return np.clip(high, 0, 255).astype(np.uint8)


def darknet_image(source: SourceImage, darknet: Libdarknet) -> FloatImage:
    """The float image the fast engine works on, upright, at the source's working scale."""
    if source.info.stb_decoded and source.reduction == 1:
        with darknet.stb_pixels(source.data) as pixels:
            return darknet.float_image(orient(pixels, source.info.orientation))
    pixels = library_pixels(source.data, source.info, source.reduction)
    return darknet.float_image(orient(pixels, source.info.orientation))


def darknet_readable(source: SourceImage, darknet: Callable[[], Libdarknet]) -> tuple[bytes, str]:
    """Bytes the Darknet CLI reads as the upright working image, and their extension.

    An upright JPEG at full size goes as sent (the CLI decodes it itself); otherwise its upright pixels
    go as a lossless PNG of this project's own encoding (stb's decode for a JPEG; darknet() loads
    libdarknet only then).
    """
    info = source.info
    if info.stb_decoded and source.reduction == 1:
        if info.orientation == 1:
            return source.data, info.extension
        with darknet().stb_pixels(source.data) as pixels:
            return encode_png(orient(pixels, info.orientation)), ".png"
    pixels = library_pixels(source.data, info, source.reduction)
    return encode_png(orient(pixels, info.orientation)), ".png"
