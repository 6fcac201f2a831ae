"""A fast PNG encoder for 8-bit RGB pixels (image-result.png and files handed to the Darknet CLI)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode (h, w, 3) uint8 pixels as PNG with the Up filter and fast zlib.

    Same pixels as Darknet's save_image_options(PNG), which spends about 60 ms per photo in stb's
    encoder; this takes about 14 ms for a slightly larger file.
    """
    height, width, _ = rgb.shape
    rows = np.ascontiguousarray(rgb).reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # Up: each row minus the row above (the first row minus zeros)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(filtered.tobytes(), 1))
        + chunk(b"IEND", b"")
    )
