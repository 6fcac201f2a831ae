"""Darknet's own image and box code, called through ctypes on libdarknet.so.

Decoding (stb_image), letterboxing, NMS (qsort order included) and drawing come from the same C source as
the Darknet binary, so the fast engine's input tensor, detection order and annotated PNG match it exactly.
Darknet's load_image_stb calls exit() on an unreadable file, which would kill a warm Lambda process, so
images are decoded here with stbi_load_from_memory directly (no temporary file) and a failure becomes an
ImageDecodeError. The float image lives in a numpy buffer that warm invocations reuse.
"""

from __future__ import annotations

import ctypes
import os
import sys
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from darknet_detector.core.images import ImageDecodeError

LIBRARY_ENV = "DARKNET_LIB"
DEFAULT_LIBRARY = Path("/opt/darknet/lib/libdarknet.so")
# Beside libdarknet.so: Darknet's network input straight from 8-bit pixels (container/native).
INPUT_LIBRARY = "libdarknet_input.so"
# Debian's build hard-codes this directory in load_alphabet (a missing glyph makes Darknet exit()).
LABELS_DIR = Path("/usr/share/darknet/data/labels")
ALPHABET_SIZES, ALPHABET_CHARS = 8, range(32, 127)
# The float buffer kept for the next warm call: up to 4 MP (48 MiB); larger images get their own.
REUSED_BUFFER_FLOATS = 3 * 4_000_000
# Pixel conversions run over row blocks of about this many pixels, so temporaries stay a few MB.
BLOCK_PIXELS = 1 << 19


class Image(ctypes.Structure):
    _fields_ = (
        ("w", ctypes.c_int),
        ("h", ctypes.c_int),
        ("c", ctypes.c_int),
        ("data", ctypes.POINTER(ctypes.c_float)),
    )


class Box(ctypes.Structure):
    _fields_ = (("x", ctypes.c_float), ("y", ctypes.c_float), ("w", ctypes.c_float), ("h", ctypes.c_float))


class DetectionStruct(ctypes.Structure):
    _fields_ = (
        ("bbox", Box),
        ("classes", ctypes.c_int),
        ("prob", ctypes.POINTER(ctypes.c_float)),
        ("mask", ctypes.POINTER(ctypes.c_float)),
        ("objectness", ctypes.c_float),
        ("sort_class", ctypes.c_int),
    )


class _StbBuffer:
    """Pixels stb_image allocated, exposed to numpy as the arrays' base and freed when no array refers
    to them any more (at once, in CPython)."""

    def __init__(self, pointer: int, shape: tuple[int, int, int], free) -> None:
        self.__array_interface__ = {"shape": shape, "typestr": "|u1", "data": (pointer, False), "version": 3}
        weakref.finalize(self, free, pointer)


class FloatImage:
    """A Darknet image whose planar float pixels are a numpy array (no free_image needed)."""

    def __init__(self, planes: np.ndarray):
        self.planes = planes  # keeps the buffer alive as long as the struct is used
        channels, height, width = planes.shape
        self.struct = Image(width, height, channels, planes.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))

    @property
    def width(self) -> int:
        return self.struct.w

    @property
    def height(self) -> int:
        return self.struct.h


def image_array(image: Image) -> np.ndarray:
    """A (c, h, w) float32 view of a Darknet image's planar buffer (valid until the image is freed)."""
    return np.ctypeslib.as_array(image.data, shape=(image.c, image.h, image.w))


class Candidates:
    """Detections in Darknet's struct layout, with probabilities in one numpy array NMS edits in place."""

    def __init__(self, boxes: np.ndarray, objectness: np.ndarray, probs: np.ndarray):
        self.probs = np.ascontiguousarray(probs, dtype=np.float32)
        count, classes = self.probs.shape
        self.array = (DetectionStruct * count)()
        row_bytes = classes * 4
        base = self.probs.ctypes.data
        for i in range(count):
            entry = self.array[i]
            x, y, w, h = (float(v) for v in boxes[i])
            entry.bbox = Box(x, y, w, h)
            entry.classes = classes
            entry.prob = ctypes.cast(base + i * row_bytes, ctypes.POINTER(ctypes.c_float))
            entry.objectness = float(objectness[i])
            entry.sort_class = 0
        self._base, self._row_bytes = base, row_bytes

    def __len__(self) -> int:
        return len(self.array)

    def order(self) -> list[int]:
        """Which input row each struct now holds: do_nms_sort permutes the structs, not the prob rows."""
        return [
            ((ctypes.cast(entry.prob, ctypes.c_void_p).value or 0) - self._base) // self._row_bytes
            for entry in self.array
        ]


class Libdarknet:
    """The handful of libdarknet.so functions the fast engine borrows from Darknet."""

    def __init__(self, path: Path | str | None = None):
        path = Path(path or os.environ.get(LIBRARY_ENV) or DEFAULT_LIBRARY)
        if not path.is_file():
            raise FileNotFoundError(f"libdarknet not found at {path} (set {LIBRARY_ENV})")
        self.path = path
        lib = ctypes.CDLL(str(path))
        self._libc = ctypes.CDLL(None)
        int_p = ctypes.POINTER(ctypes.c_int)
        self._signature(
            lib.stbi_load_from_memory,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            int_p,
            int_p,
            int_p,
            ctypes.c_int,
        )
        self._signature(lib.stbi_failure_reason, ctypes.c_char_p)
        self._signature(lib.stbi_image_free, None, ctypes.c_void_p)
        self._signature(lib.free_image, None, Image)
        self._signature(lib.letterbox_image, Image, Image, ctypes.c_int, ctypes.c_int)
        self._signature(lib.resize_image, Image, Image, ctypes.c_int, ctypes.c_int)
        self._signature(
            lib.do_nms_sort, None, ctypes.POINTER(DetectionStruct), ctypes.c_int, ctypes.c_int, ctypes.c_float
        )
        self._signature(lib.load_alphabet, ctypes.POINTER(ctypes.POINTER(Image)))
        self._signature(
            lib.draw_detections,
            None,
            Image,
            ctypes.POINTER(DetectionStruct),
            ctypes.c_int,
            ctypes.c_float,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.POINTER(Image)),
            ctypes.c_int,
        )
        self._signature(self._libc.fflush, ctypes.c_int, ctypes.c_void_p)
        self._lib = lib
        self._input = self._input_library(path.with_name(INPUT_LIBRARY))
        self._kept: dict[str, np.ndarray] = {}

    @classmethod
    def _input_library(cls, path: Path):
        """native/network_input.c's library, or None where it is not built (Darknet's path serves then)."""
        if not path.is_file():
            return None
        library = ctypes.CDLL(str(path))
        c_int, c_long, pointer = ctypes.c_int, ctypes.c_long, ctypes.c_void_p
        shape = (c_int, c_int, c_long, c_long, c_int, c_int, c_int)  # width ... letterbox
        cls._signature(library.darknet_network_input, c_int, pointer, *shape, pointer, pointer)
        return library

    @property
    def fused_input(self) -> bool:
        """Whether network_input can compute the input from 8-bit pixels (the image ships the library)."""
        return self._input is not None

    def network_input(
        self, pixels: np.ndarray, width: int, height: int, letterbox: bool
    ) -> np.ndarray | None:
        """test_detector's input for (h, w, 3) uint8 pixels (any view whose pixels' 3 bytes are adjacent),
        bit for bit what load_image_stb then letterbox_image (or resize_image) give, in one pass over the
        bytes: about a fifth of the work of the float image and Darknet's resize. None without the
        library, or where Darknet itself would not resize (under 2 rows).

        The tensor is a buffer this object reuses (as is the first pass's): valid until the next call.
        ONNX Runtime's run keeps nothing of its input, and fresh pages cost more than the arithmetic."""
        if self._input is None or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            return None
        if pixels.strides[2] != 1:
            return None
        rows, columns = pixels.shape[:2]
        part = self._reused("part", 3 * min(rows, 2 * height) * width)  # two source rows an output row
        tensor = self._reused("tensor", 3 * height * width).reshape(1, 3, height, width)
        status = self._input.darknet_network_input(
            pixels.ctypes.data, columns, rows, pixels.strides[0], pixels.strides[1], width, height,
            int(letterbox), part.ctypes.data, tensor.ctypes.data,
        )  # fmt: skip
        return tensor if status == 0 else None

    def _reused(self, name: str, floats: int) -> np.ndarray:
        """floats float32s of the buffer kept under name for the next call (grown as needed); one for
        more than REUSED_BUFFER_FLOATS is not kept, a large photo's being rarely followed by another."""
        if floats > REUSED_BUFFER_FLOATS:
            return np.empty(floats, dtype=np.float32)
        kept = self._kept.get(name)
        if kept is None or kept.size < floats:
            kept = self._kept[name] = np.empty(floats, dtype=np.float32)
        return kept[:floats]

    @staticmethod
    def _signature(function, restype, *argtypes) -> None:
        function.restype = restype
        function.argtypes = argtypes

    def stb_array(self, data: bytes) -> np.ndarray:
        """stb_image's decode of data as load_image_color does it: (h, w, 3) uint8 in stb's own buffer,
        freed when the array and every view of it are gone (a large photo is not copied).

        Raises ImageDecodeError with stb's reason instead of exiting the process.
        """
        width, height, channels = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        pixels = self._lib.stbi_load_from_memory(
            data, len(data), ctypes.byref(width), ctypes.byref(height), ctypes.byref(channels), 3
        )
        if not pixels:
            reason = (self._lib.stbi_failure_reason() or b"unknown").decode(errors="replace")
            raise ImageDecodeError(f"the image cannot be decoded: {reason}")
        return np.asarray(_StbBuffer(pixels, (height.value, width.value, 3), self._lib.stbi_image_free))

    def float_image(self, pixels: np.ndarray) -> FloatImage:
        """Darknet's planar float image of (h, w, 3) uint8 pixels, in a buffer reused across calls.

        load_image_stb computes (float)byte/255. as a double division rounded once to float; so does this.
        """
        height, width, channels = pixels.shape
        planes = self._reused("float", channels * height * width).reshape(channels, height, width)
        # Row blocks keep the double-precision temporary small for a large photo.
        for rows in _row_blocks(height, width):
            planes[:, rows] = (pixels[rows].transpose(2, 0, 1) / 255.0).astype(np.float32)
        return FloatImage(planes)

    def letterbox(self, image: Image, width: int, height: int) -> np.ndarray:
        """The network input test_detector feeds: letterbox_image's resize and 0.5 grey padding, NCHW."""
        sized = self._lib.letterbox_image(image, width, height)
        try:
            return image_array(sized)[None].copy()
        finally:
            self._lib.free_image(sized)

    def resize(self, image: Image, width: int, height: int) -> np.ndarray:
        """The input the fork's test_detector feeds a model without letter_box: resize_image, NCHW."""
        sized = self._lib.resize_image(image, width, height)
        try:
            return image_array(sized)[None].copy()
        finally:
            self._lib.free_image(sized)

    def nms_sort(self, candidates: Candidates, classes: int, threshold: float) -> None:
        """do_nms_sort in place: reorders the structs and zeroes suppressed probabilities."""
        if len(candidates):
            self._lib.do_nms_sort(candidates.array, len(candidates), classes, threshold)

    def load_alphabet(self):
        """Darknet's label glyphs; checked first because a missing glyph file makes Darknet exit()."""
        for size in range(ALPHABET_SIZES):
            for char in ALPHABET_CHARS:
                glyph = LABELS_DIR / f"{char}_{size}.png"
                if not glyph.is_file():
                    raise FileNotFoundError(f"Darknet label glyph missing: {glyph}")
        return self._lib.load_alphabet()

    def draw_detections(
        self, image: Image, candidates: Candidates, threshold: float, names, alphabet, classes: int
    ) -> None:
        """draw_detections on image; what it prints (class lines, box lines on stderr) is dropped."""
        with self._c_output_silenced():
            self._lib.draw_detections(
                image, candidates.array, len(candidates), threshold, names, alphabet, classes
            )

    @staticmethod
    def rgb_bytes(image: Image) -> np.ndarray:
        """(h, w, 3) uint8 pixels exactly as save_image_options converts them: (unsigned char)(255*v)."""
        planes = image_array(image)
        rgb = np.empty((image.h, image.w, image.c), dtype=np.uint8)
        for rows in _row_blocks(image.h, image.w):
            scaled = np.float32(255) * planes[:, rows]
            np.clip(scaled, 0, 255, out=scaled)
            rgb[rows] = scaled.astype(np.uint8).transpose(1, 2, 0)
        return rgb

    @contextmanager
    def _c_output_silenced(self) -> Iterator[None]:
        """Point fds 1 and 2 at /dev/null while C code prints, flushing C's buffers before restoring them."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self._libc.fflush(None)
        saved = [os.dup(1), os.dup(2)]
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            yield
        finally:
            self._libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, devnull):
                os.close(fd)


def _row_blocks(height: int, width: int) -> Iterator[slice]:
    """Slices of rows holding about BLOCK_PIXELS pixels each."""
    step = max(1, BLOCK_PIXELS // max(width, 1))
    for start in range(0, height, step):
        yield slice(start, min(start + step, height))


def c_string_array(values: Sequence[str]):
    """A char** that stays valid as long as the returned ctypes array is referenced."""
    return (ctypes.c_char_p * len(values))(*(value.encode() for value in values))
