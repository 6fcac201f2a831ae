"""Darknet's network input computed from 8-bit pixels, bit for bit, without Darknet's float image.

test_detector turns the whole photo into a float image (load_image_stb: (float)byte/255., 12 bytes a
pixel) and shrinks it with letterbox_image (resize_image, then embedded in a 0.5 grey canvas) or plain
resize_image. resize_image is bilinear in two passes: across, into a `part` image new_w wide and as tall
as the photo, then down. Each output column reads 2 source columns and each output row 2 rows of `part`,
so the input of a full decode needs only the source rows it samples, converted to float as Darknet
converts them: a 48 MP photo costs its 3 bytes a pixel, not 12.

The arithmetic is float32 as the image's libdarknet.so (gcc -O3 -march=haswell) compiles image.c:
across, `(1 - dx) * a + dx * b` is one multiply rounded to float, then a fused multiply-add; down, each
term is rounded and then added. The container tests compare this with libdarknet on the samples.
"""

from __future__ import annotations

import numpy as np

# (float)v/255. in load_image_stb: a double division rounded once to float.
BYTE_TO_FLOAT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
LETTERBOX_GREY = np.float32(0.5)


def letterbox_size(width: int, height: int, net_w: int, net_h: int) -> tuple[int, int]:
    """letterbox_image's new_w, new_h: float comparison of the ratios, integer division for the side."""
    if np.float32(net_w) / np.float32(width) < np.float32(net_h) / np.float32(height):
        return net_w, (height * net_w) // width
    return (width * net_h) // height, net_h


def _samples(size: int, new_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index: the source index, the next one, and the weight of the next one, as
    resize_image computes them in float32 (scale = (float)(size - 1) / (new_size - 1); s = i * scale;
    ix = (int)s; d = s - ix)."""
    index = np.zeros(new_size, dtype=np.int64)
    weight = np.zeros(new_size, dtype=np.float32)
    if new_size > 1:
        scale = np.float32(size - 1) / np.float32(new_size - 1)
        position = np.arange(new_size, dtype=np.float32) * scale
        index = np.trunc(position).astype(np.int64)
        weight = position - index.astype(np.float32)
    return index, np.minimum(index + 1, size - 1), weight


def _fused(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 fma(a, b, c), rounded once: the exact product in double, the sum rounded to odd, then to
    float (double has more than twice float's precision, so the two roundings give the fused result).

    TwoSum gives the double sum's rounding error; an inexact sum with an even last bit moves one unit
    towards the exact value."""
    product = a.astype(np.float64) * b
    addend = c.astype(np.float64)
    total = product + addend
    virtual = total - product
    error = (product - (total - virtual)) + (addend - virtual)
    bits = total.view(np.int64)
    step = np.where(np.signbit(error) == np.signbit(total), 1, -1)
    bits = np.where((error != 0) & ((bits & 1) == 0), bits + step, bits)
    return bits.view(np.float64).astype(np.float32)


def resized(pixels: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """resize_image(load_image_stb(pixels), new_w, new_h) as a (3, new_h, new_w) float32 array.

    pixels is any (h, w, 3) uint8 array or view (an upright orientation view, a crop); only the pixels
    the two passes sample are read and converted.
    """
    height, width, channels = pixels.shape
    if channels != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected (h, w, 3) uint8 pixels, got {pixels.shape} {pixels.dtype}")
    if new_w < 1 or new_h < 2:
        # resize_image's first row reads row (int)(0 * (h - 1) / 0.f), NaN: its assert aborts Darknet.
        raise ValueError(f"a {width}x{height} image cannot be resized to {new_w}x{new_h} as Darknet does")
    left, right, dx = _samples(width, new_w)
    left[-1] = width - 1  # the last column copies the last source column
    top, bottom, dy = _samples(height, new_h)
    rows, row_of = np.unique(np.concatenate([top, bottom]), return_inverse=True)
    columns, column_of = np.unique(np.concatenate([left, right]), return_inverse=True)
    sampled = BYTE_TO_FLOAT[pixels[np.ix_(rows, columns)].transpose(2, 0, 1)]  # (3, rows, columns)
    # Across, into the rows of `part` that are read: (1 - dx) * a rounded, then fma(dx, b, that).
    a, b = sampled[:, :, column_of[:new_w]], sampled[:, :, column_of[new_w:]]
    part = _fused(dx, b, (np.float32(1) - dx) * a)
    part[:, :, -1] = a[:, :, -1]  # the last column is copied, not interpolated
    # Down: each term rounded, then added. The last row keeps the first term alone, whatever its weight
    # (resize_image skips the second pass for it), and so does every row of a one-row image.
    out = (np.float32(1) - dy)[None, :, None] * part[:, row_of[:new_h]]
    if height > 1:
        out[:, :-1] += (dy[None, :, None] * part[:, row_of[new_h:]])[:, :-1]
    return out


def network_input(pixels: np.ndarray, net_w: int, net_h: int, letterbox: bool) -> np.ndarray:
    """The (1, 3, net_h, net_w) float32 tensor test_detector feeds the network for these pixels.

    letterbox: letterbox_image (aspect kept, 0.5 grey around); otherwise resize_image to the net size,
    as the maintained fork does for models without letter_box.
    """
    if not letterbox:
        return resized(pixels, net_w, net_h)[None]
    height, width = pixels.shape[:2]
    new_w, new_h = letterbox_size(width, height, net_w, net_h)
    canvas = np.full((1, 3, net_h, net_w), LETTERBOX_GREY, dtype=np.float32)
    left, top = (net_w - new_w) // 2, (net_h - new_h) // 2
    canvas[0, :, top : top + new_h, left : left + new_w] = resized(pixels, new_w, new_h)
    return canvas
