"""Fixtures shared by every test layer: AWS event shapes as AWS documents them, and test images."""

from __future__ import annotations

import io

import pytest
from lambda_events import make_api_event, make_s3_event


@pytest.fixture
def s3_event():
    return make_s3_event


@pytest.fixture
def api_event():
    return make_api_event


def encode_image(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (200, 120, 40))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(name="encode_image")
def encode_image_fixture():
    return encode_image


@pytest.fixture(scope="session")
def small_jpeg() -> bytes:
    return encode_image("JPEG")


@pytest.fixture(scope="session")
def small_png() -> bytes:
    return encode_image("PNG")
