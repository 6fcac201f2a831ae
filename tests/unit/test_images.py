"""Input classification from the bytes alone: format, completeness, orientation, size bombs, memory budget."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps
from support import corpus

from darknet_detector.contract import sniff
from darknet_detector.core.decoding import orient
from darknet_detector.core.images import InvalidImage, PixelBudget, function_memory_mb, pixel_budget
from darknet_detector.core.pillow_decoder import library_pixels
from darknet_detector.core.source import inspect_image

BUDGET = PixelBudget(full_decode=10_000_000, accepted=10_000_000, accepted_jpeg=10_000_000)
LIMITS = {"max_bytes": 1_000_000, "budget": BUDGET}


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
    huge = pixel_budget(10**6)  # memory would allow it: the bytes present do not
    for case in corpus.size_bombs(photo):
        with pytest.raises(InvalidImage) as raised:
            inspect_image(case.data, 1_000_000, huge)
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
        inspect_image(small_jpeg, max_bytes=100, budget=BUDGET)
    assert raised.value.code == "too_large"
    assert "100 bytes" in str(raised.value)


def test_too_many_pixels_is_too_large(encode_image):
    small = PixelBudget(full_decode=19_999, accepted=19_999, accepted_jpeg=19_999)
    with pytest.raises(InvalidImage) as raised:
        inspect_image(encode_image("PNG", (200, 100)), max_bytes=1_000_000, budget=small)
    assert raised.value.code == "too_large"
    assert "200x100" in str(raised.value)


def test_the_pixel_budget_follows_the_function_memory():
    small, large = pixel_budget(1024), pixel_budget(3008)
    assert small.full_decode >= 12_000_000  # a 12 MP phone photo at full resolution on 1024 MB
    assert small.limit("jpeg") >= 50_000_000 and small.limit("png") >= 50_000_000
    assert large.full_decode > 2.9 * small.full_decode
    capped = pixel_budget(1024, max_pixels=1_000_000)
    assert capped.limit("jpeg") == capped.limit("png") == capped.full_decode == 1_000_000


def test_large_photos_are_decoded_at_the_smallest_reduction_that_fits():
    budget = pixel_budget(1024)
    info_12, info_48 = (
        inspect_image(corpus.encode(Image.new("RGB", size, (90, 140, 60)), "JPEG"), 10**8, budget)
        for size in corpus.MEGAPIXEL_SIZES.values()
    )
    assert budget.reduction(info_12) == 1
    assert budget.reduction(info_48) == 2


def test_function_memory_comes_from_lambda_then_the_cgroup():
    assert function_memory_mb({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}) == 1769
    assert function_memory_mb({}) > 0


def test_sniff_tells_heif_from_avif_by_brand():
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "heif"
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf") == "avif"
    assert sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom") is None
