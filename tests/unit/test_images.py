"""Input classification: every bad input maps to a clear code and HTTP status before decoding."""

import pytest
from detector.images import InvalidImage, inspect_image

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 10_000_000}


@pytest.mark.parametrize("fmt,kind", [("JPEG", "jpeg"), ("PNG", "png"), ("BMP", "bmp"), ("GIF", "gif")])
def test_supported_images_report_type_and_size(encode_image, fmt, kind):
    info = inspect_image(encode_image(fmt, (64, 48)), **LIMITS)
    assert (info.kind, info.width, info.height) == (kind, 64, 48)


def test_progressive_jpeg_size_is_read_from_its_frame_header():
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (321, 123)).save(buffer, format="JPEG", progressive=True)
    info = inspect_image(buffer.getvalue(), **LIMITS)
    assert (info.width, info.height) == (321, 123)


@pytest.mark.parametrize(
    "data,code,status",
    [
        (b"", "empty_body", 400),
        (b"hello, this is text", "not_an_image", 415),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "unsupported_type", 415),
        (b"II*\x00" + b"\x00" * 40, "unsupported_type", 415),
        (b"%PDF-1.7\n", "unsupported_type", 415),
    ],
)
def test_bad_input_is_classified(data, code, status):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(data, **LIMITS)
    assert (raised.value.code, raised.value.status) == (code, status)


def test_truncated_jpeg_is_rejected(small_jpeg):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(small_jpeg[: len(small_jpeg) // 2], **LIMITS)
    assert raised.value.code == "truncated_image"
    assert raised.value.status == 400


def test_corrupt_jpeg_with_intact_ends_is_rejected(small_jpeg):
    corrupt = small_jpeg[:4] + b"\x00" * 100 + small_jpeg[-2:]
    with pytest.raises(InvalidImage) as raised:
        inspect_image(corrupt, **LIMITS)
    assert raised.value.code == "corrupt_image"


def test_truncated_png_is_rejected(small_png):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(small_png[:-20], **LIMITS)
    assert raised.value.code == "truncated_image"


def test_oversized_body_is_413_naming_the_limit(small_jpeg):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(small_jpeg, max_bytes=100, max_pixels=LIMITS["max_pixels"])
    assert raised.value.status == 413
    assert "100 bytes" in str(raised.value)


def test_too_many_pixels_is_413(encode_image):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(encode_image("PNG", (200, 100)), max_bytes=LIMITS["max_bytes"], max_pixels=19_999)
    assert raised.value.status == 413
    assert "200x100" in str(raised.value)


def test_jpeg_with_a_frame_header_but_no_scan_is_rejected(small_jpeg):
    """No SOS segment means no pixels: the decoders would return a blank picture and 200 with nothing."""
    start_of_scan = small_jpeg.index(b"\xff\xda")
    headers_only = small_jpeg[:start_of_scan] + b"\xff\xd9"
    with pytest.raises(InvalidImage) as raised:
        inspect_image(headers_only, **LIMITS)
    assert (raised.value.code, raised.value.status) == ("corrupt_image", 400)
    assert "no image data" in str(raised.value)
