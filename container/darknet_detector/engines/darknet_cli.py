"""The reference engine: Darknet's own CLI, run once per image exactly as the original example did.

Darknet exits 0 even when it cannot read the image, so success is judged from its output: the
"Predicted in" line on stdout. Boxes come from the image's one-line patch that reports each
drawn box on stderr; stdout (result.out) is left exactly as Darknet prints it. Darknet reads a file, so
an image it cannot read as sent (rotated, another format) is handed over as the upright photo in PNG.
Every photo goes whole, whatever its size: Darknet's own full decode is the reference the fast engine
matches, so this engine needs the memory of Darknet's float image (contract.ENGINE_MIN_MEMORY_MB).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from darknet_detector.contract import REFERENCE_TARGET, RESULT_IMAGE, reference_tag
from darknet_detector.core import cpu
from darknet_detector.core.decoding import darknet_readable
from darknet_detector.core.detection import Detection, DetectionRun, Tiling, UnsupportedOption, make_workdir
from darknet_detector.core.images import ImageDecodeError
from darknet_detector.core.libdarknet import Libdarknet
from darknet_detector.core.source import SourceImage
from darknet_detector.model_format import ModelFiles, read_names

PREDICTED = re.compile(r"^(?P<image>.*): Predicted in (?P<seconds>[0-9.]+) seconds\.$")
CLASS_LINE = re.compile(r"^(?P<label>[^:]+): (?P<percent>\d+)%$")
BOX_LINE = re.compile(
    r"^box: (?P<prob>[0-9.]+) (?P<left>-?\d+) (?P<top>-?\d+) (?P<right>-?\d+) (?P<bottom>-?\d+)"
    r" (?P<label>.+)$"
)
DARKNET_TIMEOUT_SECONDS = 600


class DarknetError(RuntimeError):
    """Darknet ran but did not predict, for a reason other than an unreadable image."""


class EngineUnavailable(RuntimeError):
    """The image lacks Darknet's CLI or the weights: only its reference variant carries them."""


class UnsupportedModelError(ValueError):
    """The model needs layers or options pjreddie's Darknet CLI does not have (the fork's, e.g. mish)."""


@dataclass(frozen=True)
class DarknetOutput:
    predict_seconds: float
    result_text: str
    detections: list[Detection]


def parse_output(stdout: str, stderr: str) -> DarknetOutput:
    """Turn Darknet's stdout (result.out) and the patched stderr box lines into detections."""
    if "Cannot load image" in stderr:
        reason = next((line for line in stderr.splitlines() if line.startswith("STB Reason")), "")
        raise ImageDecodeError(f"Darknet cannot load the image. {reason}".strip())
    lines = stdout.splitlines()
    predicted = next(filter(None, map(PREDICTED.match, lines)), None)
    if predicted is None:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise DarknetError(f"Darknet printed no 'Predicted in' line; stderr ends with:\n{tail}")
    boxes = [BOX_LINE.match(line) for line in stderr.splitlines()]
    detections = [
        Detection(
            label=m["label"],
            confidence=float(m["prob"]),
            left=int(m["left"]),
            top=int(m["top"]),
            right=int(m["right"]),
            bottom=int(m["bottom"]),
        )
        for m in boxes
        if m
    ]
    printed = [m["label"] for m in map(CLASS_LINE.match, lines) if m]
    if printed != [d.label for d in detections]:
        raise DarknetError(f"stdout classes {printed} do not match the reported boxes")
    start = lines.index(predicted.string)
    result_text = "\n".join(lines[start:]) + "\n"
    return DarknetOutput(float(predicted["seconds"]), result_text, detections)


def png_size(path: Path) -> tuple[int, int]:
    with path.open("rb") as handle:
        header = handle.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise DarknetError(f"{path.name} is not a PNG")
    return struct.unpack(">II", header[16:24])


class DarknetCliEngine:
    """`darknet detector test` per image: the stock path, reloading the network every call."""

    name = "darknet"

    def __init__(
        self, model_dir: Path, model: str, threshold: float, darknet_bin: Path, *, threads: int | None = None
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.darknet_bin = darknet_bin
        # OpenMP would otherwise start one thread per host core, oversubscribing a CPU quota.
        self.environment = {**os.environ, "OMP_NUM_THREADS": str(threads or cpu.thread_count())}
        files = ModelFiles(Path(model_dir), model)
        if files.read_info().get("darknet_cli") is False:
            raise UnsupportedModelError(
                f"model {model} uses layers only the maintained Darknet fork has: the image's Darknet CLI "
                "cannot run it, use the onnx engine"
            )
        self.data_file, self.cfg, self.weights = files.data, files.cfg, files.weights
        if not (darknet_bin.is_file() and self.weights.is_file()):
            raise EngineUnavailable(
                f"DETECTOR_ENGINE=darknet needs Darknet's own CLI and the {model} weights, which only the "
                f"image's {REFERENCE_TARGET} variant carries (build target '{REFERENCE_TARGET}', tag "
                f"{reference_tag('IMAGE:TAG')}); this image runs the onnx engine"
            )
        for path in (self.data_file, self.cfg, files.names):
            if not path.is_file():
                raise FileNotFoundError(f"Darknet engine needs {path}")
        self.names = read_names(files.names)

    def command(self, image_path: Path, out_prefix: Path, threshold: float | None = None) -> list[str]:
        return [
            str(self.darknet_bin),
            "detector",
            "test",
            str(self.data_file),
            str(self.cfg),
            str(self.weights),
            str(image_path),
            "-thresh",
            str(self.threshold if threshold is None else threshold),
            "-out",
            str(out_prefix),
        ]

    @cache  # noqa: B019 - one engine per process, loaded once
    def _darknet(self) -> Libdarknet:
        """Darknet's stb_image, to rotate an image exactly as the CLI would have decoded it."""
        return Libdarknet()

    def detect(
        self,
        source: SourceImage,
        workdir: Path,
        *,
        annotate: bool = True,
        threshold: float | None = None,
        classes: frozenset[str] = frozenset(),
        tiling: Tiling | None = None,
    ) -> DetectionRun:
        """The stock CLI always draws and writes the PNG, whatever annotate says, with every class it
        finds: a class filter would leave the other classes drawn, so it is refused; it detects on the
        whole image only, so tiles are refused too."""
        if classes:
            raise UnsupportedOption(
                "the darknet engine draws every class it finds and cannot filter them: "
                "leave out `classes`, or deploy the onnx engine"
            )
        if tiling is not None:
            raise UnsupportedOption(
                "the darknet engine detects on the whole image only: leave out `tiles`, or deploy the onnx "
                "engine"
            )
        data, extension = darknet_readable(source, self._darknet)
        image_name = Path(source.name).stem + extension
        (make_workdir(workdir) / image_name).write_bytes(data)
        del data  # a large photo's PNG is not kept in memory beside Darknet's float image
        started = time.perf_counter()
        completed = subprocess.run(
            self.command(Path(image_name), workdir / "image-result", threshold),
            cwd=workdir,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DARKNET_TIMEOUT_SECONDS,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if completed.returncode < 0:
            # A full-size model outgrows a small function: the kernel's OOM killer sends SIGKILL.
            raise DarknetError(
                f"Darknet was killed by signal {-completed.returncode}"
                + (" (out of memory: give the function more)" if completed.returncode == -9 else "")
            )
        output = parse_output(completed.stdout, completed.stderr)
        annotated = workdir / RESULT_IMAGE
        if not annotated.is_file():
            raise DarknetError(f"Darknet did not write {annotated.name}: {completed.stderr.strip()[-300:]}")
        width, height = source.info.display_size
        return DetectionRun(
            detections=output.detections,
            predict_seconds=output.predict_seconds,
            result_text=output.result_text,
            annotated_png=annotated,
            image_width=width,
            image_height=height,
            timings={"engine_seconds": round(elapsed, 4)},
            drawn_size=png_size(annotated),
        )
