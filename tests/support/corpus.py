"""Phone-like test images generated from one sample photo, never committed: shared by every test layer.

Each case is a photo as cameras, phones and tools write it: stored sideways with an EXIF orientation,
with bytes after the end of the image, in each common format, at 12, 24 and 48 megapixels; and the inputs
that must be refused: a small file declaring a huge image, truncated and corrupt files.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

ORIENTATION_TAG = 0x0112
# How each EXIF orientation is stored: the transpose that turns the upright photo into the stored
# pixels (a viewer applies the inverse).
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
MEGAPIXEL_SIZES = {"12mp": (4000, 3000), "24mp": (6000, 4000), "48mp": (8000, 6000)}
# What phones append after a JPEG's end-of-image marker: a motion photo's MP4 (an ftyp box first).
MOTION_PHOTO_TRAILER = struct.pack(">I", 24) + b"ftypmp42\x00\x00\x00\x00mp42isom" + bytes(4096)


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    upright_size: tuple[int, int]


def upright(photo: bytes) -> Image.Image:
    with Image.open(io.BytesIO(photo)) as image:
        return image.convert("RGB")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    if fmt in ("HEIF", "HEIC"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def exif_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def oriented(photo: bytes, orientation: int, fmt: str = "JPEG") -> bytes:
    """The photo stored as a camera held that way stores it, tagged so that viewers show it upright."""
    image = upright(photo)
    method = STORED_AS[orientation]
    stored = image.transpose(method) if method is not None else image
    options = {"quality": 95} if fmt == "JPEG" else {}
    return encode(stored, fmt, exif=exif_orientation(orientation), **options)


def lossless_upright(photo: bytes) -> bytes:
    """The upright photo as PNG: the reference the oriented PNGs must reproduce exactly."""
    return encode(upright(photo), "PNG")


def orientation_cases(photo: bytes, fmt: str = "JPEG") -> list[Case]:
    size = upright(photo).size
    return [Case(f"orientation-{o}-{fmt.lower()}", oriented(photo, o, fmt), size) for o in STORED_AS]


def with_trailers(photo: bytes) -> list[Case]:
    size = upright(photo).size
    return [
        Case("jpeg-motion-photo-trailer", photo + MOTION_PHOTO_TRAILER, size),
        Case("jpeg-zero-padding", photo + bytes(2048), size),
        Case("png-bytes-after-iend", encode(upright(photo), "PNG") + b"tool metadata\n" * 20, size),
        Case("gif-bytes-after-trailer", encode(upright(photo), "GIF") + b"tool metadata\n" * 20, size),
    ]


def png_16_bit(image: Image.Image) -> bytes:
    """RGB at 16 bits a channel (Pillow writes only 8-bit RGB), as raw PNG chunks."""
    import numpy as np

    pixels = np.asarray(image).astype(">u2") * 257
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def format_cases(photo: bytes) -> list[Case]:
    image = upright(photo)
    size = image.size
    return [
        Case("jpeg-progressive", encode(image, "JPEG", quality=92, progressive=True), size),
        Case("jpeg-grayscale", encode(image.convert("L"), "JPEG", quality=92), size),
        Case("jpeg-cmyk", encode(image.convert("CMYK"), "JPEG", quality=92), size),
        Case("png-8-bit", encode(image, "PNG"), size),
        Case("png-16-bit", png_16_bit(image), size),
        Case("png-palette", encode(image.quantize(256), "PNG"), size),
        Case("png-alpha", encode(image.convert("RGBA"), "PNG"), size),
        Case("gif", encode(image, "GIF"), size),
        Case("bmp", encode(image, "BMP"), size),
        Case("webp", encode(image, "WEBP", quality=92), size),
        Case("heic", encode(image, "HEIF", quality=92), size),
        Case("avif", encode(image, "AVIF", quality=92), size),
        Case("tiff", encode(image, "TIFF", compression="tiff_lzw"), size),
    ]


def large_photo(photo: bytes, name: str) -> Case:
    """The photo enlarged to a phone camera's resolution, as JPEG."""
    size = MEGAPIXEL_SIZES[name]
    return Case(f"jpeg-{name}", encode(upright(photo).resize(size, Image.BILINEAR), "JPEG", quality=90), size)


def grainy_photo(photo: bytes, name: str = "48mp", grain: float = 8.0, seed: int = 20) -> bytes:
    """The photo at a phone camera's resolution with a sensor's fine grain, as a high-quality JPEG: the
    grain keeps the file as large as a real one (a 48 MP photo comes to about 21 MB), where a smooth
    enlargement compresses to a few MB."""
    import numpy as np

    enlarged = np.asarray(upright(photo).resize(MEGAPIXEL_SIZES[name], Image.BILINEAR), dtype=np.int16)
    noise = np.random.default_rng(seed).normal(0.0, grain, enlarged.shape).astype(np.int16)
    grainy = Image.fromarray(np.clip(enlarged + noise, 0, 255).astype(np.uint8))
    return encode(grainy, "JPEG", quality=95)


def size_bombs(photo: bytes) -> list[Case]:
    """Small files whose headers declare a huge image (checksums fixed, so only the size is wrong)."""
    png = bytearray(encode(upright(photo).resize((64, 48)), "PNG"))
    png[16:24] = struct.pack(">II", 60_000, 60_000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    jpeg = bytearray(encode(upright(photo).resize((64, 48)), "JPEG"))
    frame = jpeg.index(b"\xff\xc0")
    jpeg[frame + 5 : frame + 9] = struct.pack(">HH", 50_000, 50_000)
    gif = bytearray(encode(upright(photo).resize((64, 48)), "GIF"))
    gif[6:10] = struct.pack("<HH", 60_000, 60_000)  # the logical screen a decoder allocates
    return [
        Case("png-bomb", bytes(png), (60_000, 60_000)),
        Case("jpeg-bomb", bytes(jpeg), (50_000, 50_000)),
        Case("gif-bomb", bytes(gif), (60_000, 60_000)),
    ]


def broken(photo: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, the error code they must get)."""
    image = upright(photo)
    png = encode(image, "PNG")
    gif = encode(image, "GIF")
    heic = encode(image, "HEIF", quality=80)
    start_of_scan = photo.index(b"\xff\xda")
    garbled = bytearray(photo)
    garbled[start_of_scan + 20 : -2] = bytes(len(garbled) - start_of_scan - 22)
    return {
        "jpeg-truncated": (photo[: len(photo) // 2], "truncated_image"),
        "png-truncated": (png[: len(png) // 2], "truncated_image"),
        "gif-truncated": (gif[: len(gif) // 2], "truncated_image"),
        "heic-truncated": (heic[: len(heic) // 2], "corrupt_image"),
        "jpeg-no-scan": (photo[:start_of_scan] + b"\xff\xd9", "corrupt_image"),
        "jpeg-garbage-header": (photo[:4] + b"\x00" * 100 + photo[-2:], "corrupt_image"),
    }


# Darknet's own boxes (left, top, right, bottom) of whole objects in the samples (yolov3-tiny, dog.jpg's
# dog, person.jpg's person, eagle.jpg's bird, giraffe.jpg's giraffe): crops that the sliced inference
# tests paste into large photos. (person.jpg's horse, cut out alone, is taken for a sheep.)
SAMPLE_OBJECTS = {
    "dog": ("dog.jpg", (129, 186, 369, 517)),
    "person": ("person.jpg", (183, 105, 276, 379)),
    "bird": ("eagle.jpg", (136, 99, 622, 422)),
    "giraffe": ("giraffe.jpg", (153, 0, 439, 462)),
}
PANORAMA_SIZE = (12000, 1500)
PANORAMA_DOGS = 6
PANORAMA_DOG_HEIGHT = 600


@dataclass(frozen=True)
class Scene:
    """A generated photo and the objects placed in it: (class, (left, top, right, bottom))."""

    data: bytes
    size: tuple[int, int]
    objects: list[tuple[str, tuple[int, int, int, int]]]


def background(size: tuple[int, int], seed: int) -> Image.Image:
    """A plain, slightly grainy grey ground: no object of its own for the detector to find."""
    import numpy as np

    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.normal(128.0, 12.0, (height // 50 + 1, width // 50 + 1, 3)).clip(0, 255).astype(np.uint8)
    ground = Image.fromarray(coarse).resize(size, Image.BILINEAR)
    return ground


def paste(
    ground: Image.Image, photo: bytes, box: tuple[int, int, int, int], height: int, at: tuple[int, int]
):
    """The box of photo scaled to height pixels, pasted with its top-left corner at `at`; its box there."""
    part = upright(photo).crop(box)
    width = round(part.width * height / part.height)
    ground.paste(part.resize((width, height), Image.BILINEAR), at)
    return (at[0], at[1], at[0] + width, at[1] + height)


def panorama(dog_jpg: bytes, count: int = PANORAMA_DOGS, dog_height: int = PANORAMA_DOG_HEIGHT) -> Scene:
    """A 12000x1500 panorama of dog.jpg's dog `count` times side by side, at staggered heights: shrunk
    whole to a 416 network each dog is about 20 pixels tall and none is found."""
    width, height = PANORAMA_SIZE
    ground = background(PANORAMA_SIZE, seed=6)
    objects = []
    for i in range(count):
        left = round((i + 0.5) * width / count) - dog_height // 3
        top = (height - dog_height) * (i % 3) // 2
        objects.append(("dog", paste(ground, dog_jpg, SAMPLE_OBJECTS["dog"][1], dog_height, (left, top))))
    return Scene(encode(ground, "JPEG", quality=90), PANORAMA_SIZE, objects)


def pasted_objects(samples: dict[str, bytes], object_height: int = 500, name: str = "48mp") -> Scene:
    """A 48 MP photo with one crop of each SAMPLE_OBJECTS (samples: file name -> bytes) pasted in,
    object_height pixels tall, spread over the frame: about 26 pixels each once shrunk whole."""
    size = MEGAPIXEL_SIZES[name]
    ground = background(size, seed=48)
    objects = []
    for i, (label, (file, box)) in enumerate(SAMPLE_OBJECTS.items()):
        at = (
            size[0] * (2 * i + 1) // (2 * len(SAMPLE_OBJECTS)) - object_height // 2,
            size[1] * (1 + i % 3) // 4,
        )
        objects.append((label, paste(ground, samples[file], box, object_height, at)))
    return Scene(encode(ground, "JPEG", quality=90), size, objects)
