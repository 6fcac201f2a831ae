"""Input classification from the bytes alone: format, completeness, orientation, size bombs, size limits."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps
from support import corpus

from darknet_detector.contract import DRAWN_MAX_PIXELS, MAX_IMAGE_PIXELS, sniff
from darknet_detector.core.decoding import orient
from darknet_detector.core.images import InvalidImage, drawn_factor
from darknet_detector.core.pillow_decoder import library_pixels, reduced
from darknet_detector.core.source import SourceImage, inspect_image

LIMITS = {"max_bytes": 1_000_000}


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A small photo whose four corners differ, so that every mirroring and turn is visible."""
    pixels = np.zeros((48, 64, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.linspace(0, 255, 48, dtype=np.uint8)[:, None]
    pixels[:8, :8, 2] = 255
    return corpus.encode(Image.fromarray(pixels), "JPEG", quality=95)


@pytest.mark.parametrize("fmt,kind", [("JPEG", "jpeg"), ("PNG", "png"), ("BMP", "bmp"), ("GIF", "gif")])
def test_supported_images_report_type_and_size(encode_image, fmt, kind):
    info = inspect_image(encode_image(fmt, (64, 48)), **LIMITS)
    assert (info.kind, info.width, info.height, info.orientation) == (kind, 64, 48, 1)
    assert info.stb_decoded == (kind == "jpeg")


def test_every_format_of_the_corpus_is_recognised_with_its_size(photo):
    kinds = {}
    for case in corpus.format_cases(photo):
        info = inspect_image(case.data, **LIMITS)
        assert info.display_size == case.upright_size, case.name
        kinds[case.name] = info.kind
    assert kinds["webp"] == "webp" and kinds["heic"] == "heif" and kinds["avif"] == "avif"
    assert kinds["tiff"] == "tiff" and kinds["jpeg-cmyk"] == "jpeg" and kinds["png-16-bit"] == "png"


def test_progressive_jpeg_size_is_read_from_its_frame_header():
    buffer = io.BytesIO()
    Image.new("RGB", (321, 123)).save(buffer, format="JPEG", progressive=True)
    info = inspect_image(buffer.getvalue(), **LIMITS)
    assert (info.width, info.height) == (321, 123)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "AVIF", "TIFF"])
def test_each_exif_orientation_is_read_and_swaps_the_size_when_it_turns(photo, fmt):
    for case in corpus.orientation_cases(photo, fmt):
        info = inspect_image(case.data, **LIMITS)
        assert info.display_size == case.upright_size == (64, 48), case.name


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_turns_stored_pixels_as_pillow_exif_transpose_does(photo, orientation):
    data = corpus.oriented(photo, orientation, "PNG")
    stored = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data)).convert("RGB")))
    expected_from_tag = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    assert np.array_equal(np.asarray(expected_from_tag), expected)
    assert np.array_equal(orient(stored, orientation), expected)


@pytest.mark.parametrize("fmt", ["WEBP", "AVIF", "TIFF", "HEIF"])
def test_library_formats_come_out_upright(photo, fmt):
    """Whoever applies the orientation (Pillow's decoder or orient), the pixels end upright."""
    reference = np.asarray(corpus.upright(photo)).astype(int)
    data = corpus.oriented(photo, 6, fmt)
    info = inspect_image(data, **LIMITS)
    pixels = orient(library_pixels(data, info), info.orientation).astype(int)
    assert pixels.shape == reference.shape
    assert np.abs(pixels - reference).mean() < 6, fmt  # lossy codecs, but not turned


def test_16_bit_grayscale_keeps_the_high_byte_as_stb_image_does():
    levels = np.array([[0, 255, 256, 40000, 65535]], dtype=np.uint16)
    data = corpus.encode(Image.fromarray(levels), "PNG")
    info = inspect_image(data, **LIMITS)
    pixels = library_pixels(data, info)
    assert pixels[0, :, 0].tolist() == [0, 0, 1, 156, 255]
    assert (pixels[..., 0] == pixels[..., 2]).all()


def test_complete_images_followed_by_extra_bytes_are_accepted(photo):
    for case in corpus.with_trailers(photo):
        assert inspect_image(case.data, **LIMITS).display_size == case.upright_size, case.name


@pytest.mark.parametrize(
    "name", ["jpeg-truncated", "png-truncated", "gif-truncated", "jpeg-no-scan", "jpeg-garbage-header"]
)
def test_truncated_and_corrupt_files_are_refused_with_their_code(photo, name):
    data, code = corpus.broken(photo)[name]
    with pytest.raises(InvalidImage) as raised:
        inspect_image(data, **LIMITS)
    assert raised.value.code == code, raised.value


def test_truncated_library_format_is_refused_when_decoded(photo):
    data, code = corpus.broken(photo)["heic-truncated"]
    with pytest.raises(InvalidImage) as raised:
        info = inspect_image(data, **LIMITS)
        library_pixels(data, info)
    assert raised.value.code == code, raised.value


def test_a_decoder_s_own_error_type_is_a_corrupt_image_not_a_crash(photo):
    """AVIF reports damaged image data with RuntimeError: still corrupt_image, never an internal failure."""
    avif = corpus.encode(corpus.upright(photo), "AVIF")
    image_data = avif.index(b"mdat") + 8  # the AV1 frame, after the header boxes
    damaged = avif[:image_data] + bytes(len(avif) - image_data)
    with pytest.raises(InvalidImage) as raised:
        library_pixels(damaged, inspect_image(damaged, **LIMITS))
    assert raised.value.code == "corrupt_image", raised.value
    assert "AVIF cannot be decoded" in str(raised.value)


def test_a_small_file_declaring_a_huge_image_is_refused_as_a_bomb(photo):
    for case in corpus.size_bombs(photo):
        with pytest.raises(InvalidImage) as raised:
            inspect_image(case.data, 1_000_000, max_pixels=2**62)  # no pixel limit: the bytes tell
        assert raised.value.code == "corrupt_image", case.name
        assert "impossible in" in str(raised.value)


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", "empty_body"),
        (b"hello, this is text", "not_an_image"),
        (b"%PDF-1.7\n", "unsupported_type"),
        (b"8BPS\x00\x01" + bytes(40), "unsupported_type"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64), "corrupt_image"),
        (b"II*\x00" + b"\x00" * 40, "corrupt_image"),
    ],
)
def test_bad_input_is_classified(data, code):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(data, **LIMITS)
    assert raised.value.code == code


def test_unsupported_type_names_what_is_supported():
    with pytest.raises(InvalidImage) as raised:
        inspect_image(b"%PDF-1.7\n", **LIMITS)
    assert "WEBP" in str(raised.value) and "HEIC" in str(raised.value)


def test_oversized_body_is_too_large_naming_the_limit(small_jpeg):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(small_jpeg, max_bytes=100)
    assert raised.value.code == "too_large"
    assert "100 bytes" in str(raised.value)


def test_too_many_pixels_is_too_large(encode_image):
    with pytest.raises(InvalidImage) as raised:
        inspect_image(encode_image("PNG", (200, 100)), max_bytes=1_000_000, max_pixels=19_999)
    assert raised.value.code == "too_large"
    assert "200x100" in str(raised.value)


def plain_jpeg(width: int, height: int) -> bytes:
    """A flat grey JPEG of that size: real image data (no size bomb), small to keep."""
    return corpus.encode(Image.new("L", (width, height), 128), "JPEG", quality=50)


def test_the_largest_photo_is_the_same_on_every_stack():
    """A 50 MP phone photo is taken; one a pixel larger than the contract's maximum is not."""
    fits = plain_jpeg(8192, 6144)
    assert inspect_image(fits, 10**8).pixels == MAX_IMAGE_PIXELS
    with pytest.raises(InvalidImage) as raised:
        inspect_image(plain_jpeg(8193, 6144), 10**8)
    assert raised.value.code == "too_large"


def test_large_photos_are_drawn_reduced_by_a_rule_of_the_photo_alone():
    assert drawn_factor(4096, 4096) == 1 and drawn_factor(4000, 3000) == 1
    assert drawn_factor(4097, 4096) == 2
    assert drawn_factor(8000, 6000) == 2 and drawn_factor(8192, 6144) == 2
    assert drawn_factor(12000, 1500) == 2 and drawn_factor(16000, 12000) == 4
    for width, height in ((4097, 4096), (8000, 6000), (6000, 4000), (30001, 700)):
        factor = drawn_factor(width, height)
        assert (width // factor) * (height // factor) <= DRAWN_MAX_PIXELS
        assert (width // (factor - 1)) * (height // (factor - 1)) > DRAWN_MAX_PIXELS
    twelve = inspect_image(plain_jpeg(4000, 3000), 10**8)
    turned = inspect_image(plain_jpeg(6000, 8000), 10**8)
    assert not SourceImage(b"", twelve, "a.jpg").large
    assert SourceImage(b"", turned, "b.jpg").large and SourceImage(b"", turned, "b.jpg").drawn_factor == 2


def test_sniff_tells_heif_from_avif_by_brand():
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "heif"
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf") == "avif"
    assert sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom") is None


@pytest.mark.parametrize("factor", [2, 3, 17])
def test_a_large_photo_is_drawn_on_the_mean_of_each_block(factor):
    pixels = np.random.default_rng(factor).integers(
        0, 256, (6 * factor - 1, 7 * factor + 1, 3), dtype=np.uint8
    )
    blocks = pixels[: 5 * factor, : 7 * factor].reshape(5, factor, 7, factor, 3).astype(np.int64)
    mean = blocks.sum(axis=(1, 3)) / (factor * factor)
    drawn = reduced(pixels, factor)
    assert drawn.shape == (5, 7, 3) and drawn.dtype == np.uint8
    assert np.abs(drawn - mean).max() <= 1  # Pillow's rounding; exact for powers of two
    if factor == 2:
        assert np.array_equal(drawn, np.floor(mean + 0.5).astype(np.uint8))
    assert reduced(pixels, 1) is pixels
