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
