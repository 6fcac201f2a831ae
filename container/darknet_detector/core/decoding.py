"""Pixels in display orientation, at full resolution, from whichever decoder reads the format.

Darknet's stb_image decodes JPEG (baseline, progressive, grayscale, CMYK), so detections match
`darknet detector test`. PNG (8/16-bit, palette, alpha), BMP and GIF, which stb also reads, go to Pillow:
for these lossless formats it yields the very pixels stb does (>> 8 for 16-bit, alpha dropped), and it
survives damaged files that make stb_image 2.19 loop forever. WEBP, HEIC/HEIF, AVIF and TIFF go to
Pillow too (with pi-heif). Pillow is imported on the first such image, so the cold start and the
warm JPEG path never pay for it.

Every photo is decoded whole, whatever the function's memory: the network's input is the one Darknet
makes from the full decode (computed from the 8-bit pixels by Libdarknet.network_input), so the
same photo gets the same detections on every stack.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from darknet_detector.core.libdarknet import FloatImage, Libdarknet
from darknet_detector.core.pillow_decoder import library_pixels
from darknet_detector.core.png import encode_png
from darknet_detector.core.source import SourceImage


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


def stored_pixels(source: SourceImage, darknet: Callable[[], Libdarknet]) -> np.ndarray:
    """The whole photo as (h, w, 3) uint8 pixels as stored (orient turns them upright); darknet() loads
    libdarknet only for a format stb decodes."""
    if source.info.stb_decoded:
        return darknet().stb_array(source.data)
    return library_pixels(source.data, source.info)


def upright_pixels(source: SourceImage, darknet: Libdarknet) -> np.ndarray:
    """The whole photo as (h, w, 3) uint8 pixels at full resolution, upright (a view when turned)."""
    return orient(stored_pixels(source, lambda: darknet), source.info.orientation)


def darknet_image(source: SourceImage, darknet: Libdarknet) -> FloatImage:
    """The float image Darknet works on (load_image_stb), upright, at full resolution."""
    return darknet.float_image(upright_pixels(source, darknet))


def darknet_readable(source: SourceImage, darknet: Callable[[], Libdarknet]) -> tuple[bytes, str]:
    """Bytes the Darknet CLI reads as the upright photo at full resolution, and their extension.

    An upright JPEG goes as sent (the CLI decodes it itself); otherwise its upright pixels go as a
    lossless PNG of this project's own encoding (stb's decode for a JPEG; darknet() loads libdarknet
    only then).
    """
    info = source.info
    if info.stb_decoded and info.orientation == 1:
        return source.data, info.extension
    return encode_png(orient(stored_pixels(source, darknet), info.orientation)), ".png"
