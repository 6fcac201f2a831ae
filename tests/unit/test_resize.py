"""core.resize: Darknet's letterbox/resize arithmetic from 8-bit pixels.

Bit-for-bit equality with libdarknet.so is checked in the built image (tests/container/test_network_input.py),
where the library is; here, the arithmetic it rests on: the fused multiply-add against exact fractions,
the sampling against resize_image's formulas, and views giving the same tensor as copies.
"""

from fractions import Fraction

import numpy as np
import pytest

from darknet_detector.core.decoding import orient
from darknet_detector.core.resize import (
    BYTE_TO_FLOAT,
    _fused,
    letterbox_size,
    network_input,
    resized,
)


def exact_fma(a: np.float32, b: np.float32, c: np.float32) -> np.float32:
    """fma rounded once, from exact rationals: the nearest float32, ties to even."""
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    low = np.float32(float(exact))  # a float32 neighbour of the exact value
    candidates = {low, np.nextafter(low, np.float32(np.inf)), np.nextafter(low, np.float32(-np.inf))}
    return min(candidates, key=lambda v: (abs(Fraction(float(v)) - exact), int(v.view(np.int32)) & 1))


def test_the_fused_multiply_add_is_rounded_once():
    rng = np.random.default_rng(7)
    a = rng.random(4000, dtype=np.float32)
    b = BYTE_TO_FLOAT[rng.integers(0, 256, 4000)]
    c = (np.float32(1) - a) * BYTE_TO_FLOAT[rng.integers(0, 256, 4000)]
    fused = _fused(a, b, c)
    expected = np.array([exact_fma(x, y, z) for x, y, z in zip(a, b, c, strict=True)], dtype=np.float32)
    assert np.array_equal(fused.view(np.int32), expected.view(np.int32))
    # Rounding the product first would differ somewhere: the test can tell the two apart.
    assert not np.array_equal((a * b + c).view(np.int32), expected.view(np.int32))


def test_the_bytes_become_floats_as_load_image_stb_divides_them():
    assert BYTE_TO_FLOAT.dtype == np.float32
    assert all(BYTE_TO_FLOAT[v] == np.float32(v / 255.0) for v in range(256))


def test_letterbox_keeps_the_aspect_ratio_with_integer_sides():
    assert letterbox_size(768, 576, 416, 416) == (416, 312)
    assert letterbox_size(576, 768, 416, 416) == (312, 416)
    assert letterbox_size(500, 500, 416, 416) == (416, 416)
    assert letterbox_size(12000, 1500, 416, 416) == (416, 52)


def test_an_unchanged_size_gives_the_float_pixels_exactly():
    pixels = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    assert np.array_equal(resized(pixels, 53, 37), BYTE_TO_FLOAT[pixels.transpose(2, 0, 1)])


def test_a_reduction_blends_the_two_nearest_samples_as_resize_image_does():
    """Three columns to two: column 0 is copied, the last column copies the last pixel; rows likewise."""
    pixels = np.zeros((3, 3, 3), dtype=np.uint8)
    pixels[..., 0] = [[0, 51, 102], [153, 204, 255], [10, 20, 30]]
    out = resized(pixels, 2, 2)[0]
    assert out[0, 0] == BYTE_TO_FLOAT[0] and out[0, 1] == BYTE_TO_FLOAT[102]
    assert out[1, 0] == BYTE_TO_FLOAT[10] and out[1, 1] == BYTE_TO_FLOAT[30]
    halfway = resized(pixels, 3, 5)[0]  # rows at 0, 0.5, 1, 1.5, 2
    expected = np.float32(0.5) * BYTE_TO_FLOAT[51] + np.float32(0.5) * BYTE_TO_FLOAT[204]
    assert halfway[1, 1] == expected


@pytest.mark.parametrize("orientation", range(1, 9))
def test_views_and_crops_give_the_tensor_of_their_copies(orientation):
    pixels = np.random.default_rng(orientation).integers(0, 256, (301, 457, 3), dtype=np.uint8)
    view = orient(pixels, orientation)[7:290, 11:401]
    for letterbox in (True, False):
        assert np.array_equal(
            network_input(view, 416, 416, letterbox),
            network_input(np.ascontiguousarray(view), 416, 416, letterbox),
        )


def test_the_canvas_is_grey_around_the_letterboxed_photo():
    pixels = np.full((576, 768, 3), 255, dtype=np.uint8)
    tensor = network_input(pixels, 416, 416, letterbox=True)
    assert tensor.shape == (1, 3, 416, 416) and tensor.dtype == np.float32
    assert (tensor[0, :, :52] == 0.5).all() and (tensor[0, :, 364:] == 0.5).all()
    assert (tensor[0, :, 52:364] == 1).all()
    assert network_input(pixels, 608, 320, letterbox=False).shape == (1, 3, 320, 608)


def test_a_photo_darknet_would_shrink_to_one_row_is_refused():
    with pytest.raises(ValueError, match="as Darknet does"):
        network_input(np.zeros((10, 5000, 3), dtype=np.uint8), 416, 416, letterbox=True)
