"""The fast engine: ONNX Runtime on the graph converted from the Darknet weights at image build time.

Everything around the network is Darknet's own: image decoding, NMS and drawing run in libdarknet.so,
the letterbox is Darknet's arithmetic computed from the 8-bit pixels, bit for bit (in C by
Libdarknet.network_input, whatever the photo's size; by libdarknet's own letterbox_image where that
cannot serve), and darknet_detector.engines.heads repeats the heads' arithmetic (float vs double
included), so the detections, their order and result.out match `darknet detector test`; models whose
cfg asks for the fork's DIoU NMS get the fork's diounms_sort. The session is created once per process,
from the graph optimised for this CPU at build time when there is a valid one
(darknet_detector.engines.optimised_graph), and the label glyphs when the first drawing needs them;
warm invocations reuse both.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from darknet_detector.contract import RESULT_IMAGE, SERVICE_NAME
from darknet_detector.core import cpu
from darknet_detector.core.decoding import orient, stored_pixels, upright_pixels
from darknet_detector.core.detection import Detection, DetectionRun, Tiling, make_workdir
from darknet_detector.core.libdarknet import Candidates, FloatImage, Libdarknet, c_string_array
from darknet_detector.core.pillow_decoder import reduced
from darknet_detector.core.png import encode_png
from darknet_detector.core.source import SourceImage
from darknet_detector.core.tiles import Found, Tile, merge, plan_tiles, to_photo
from darknet_detector.engines import heads
from darknet_detector.engines.optimised_graph import (
    SESSION_READY_LOG,
    GraphSession,
    choose_graph,
    load_preoptimised,
)
from darknet_detector.model_format import INPUT_NAME, METADATA_KEY, ModelFiles, NetworkInfo, read_names

NMS_THRESHOLD = 0.45  # test_detector's fixed nms
# The handler's Powertools logger when it has set one up (a JSON line), the standard library's otherwise.
logger = logging.getLogger(SERVICE_NAME)
# Exceptions ONNX Runtime raises for a graph file it cannot load.
ORT_LOAD_ERRORS = tuple(
    getattr(ort.capi.onnxruntime_pybind11_state, name)
    for name in ("Fail", "InvalidArgument", "NoSuchFile", "InvalidProtobuf", "InvalidGraph")
)


def pixel_box(x: float, y: float, w: float, h: float, image_w: int, image_h: int) -> tuple[int, ...]:
    """draw_detections' integer box: double arithmetic truncated to int, then clipped to the image."""
    left = max(int((x - w / 2.0) * image_w), 0)
    right = min(int((x + w / 2.0) * image_w), image_w - 1)
    top = max(int((y - h / 2.0) * image_h), 0)
    bottom = min(int((y + h / 2.0) * image_h), image_h - 1)
    return left, top, right, bottom


def percent(prob: np.float32) -> str:
    """printf("%.0f%%", prob*100) with Darknet's float multiplication."""
    return f"{float(np.float32(prob) * np.float32(100)):.0f}%"


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """image-result.png: the same pixels as Darknet's save_image_options(PNG), encoded faster, in
    Engine.detect's workdir (path's folder), created here."""
    make_workdir(path.parent)
    path.write_bytes(encode_png(rgb))
    return path


PROVIDERS = ["CPUExecutionProvider"]
# Session config key: whether idle intra-op threads busy-wait for the next piece of work.
ALLOW_SPINNING_KEY = "session.intra_op.allow_spinning"


def session_options(
    threads: int, optimisation: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
) -> ort.SessionOptions:
    """One sequential session sized to the granted CPUs, optimising the graph as asked.

    With more than one thread, idle workers stop spin-waiting: under Lambda's CPU share every spinning
    cycle is quota the next layer cannot use, so spinning makes the call slower and dearer.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = optimisation
    if threads > 1:
        options.add_session_config_entry(ALLOW_SPINNING_KEY, "0")
    return options


def create_session(files: ModelFiles, threads: int) -> GraphSession:
    """The session on the pre-optimised graph for this CPU; the plain graph, fully optimised, otherwise.

    A pre-optimised graph is loaded as saved (its optimisations already applied, its weights derived from
    the plain graph's), which roughly halves session creation. Whatever keeps it from being used is
    logged once, and the plain graph is always a correct fallback.
    """
    choice = choose_graph(files, ort.__version__)
    if choice.preoptimised:
        options = session_options(threads, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        try:
            return load_preoptimised(choice, files, options, threads)
        except (*ORT_LOAD_ERRORS, ValueError, OSError) as error:
            reason = f"{choice.path.name} could not be loaded ({type(error).__name__})"
    else:
        reason = choice.reason
    logger.warning("pre-optimised graph not used, optimising the plain graph: %s", reason)
    session = ort.InferenceSession(str(files.onnx), session_options(threads), providers=PROVIDERS)
    return GraphSession(session, False, {})


class OnnxEngine:
    """Engine protocol implementation on ONNX Runtime; create once per process and reuse."""

    name = "onnx"

    def __init__(
        self,
        model_dir: Path,
        model: str,
        threshold: float = 0.5,
        *,
        threads: int | None = None,
        names_path: Path | None = None,
        darknet_lib: Path | str | None = None,
    ):
        self.model = model
        self.threshold = threshold
        self.threads = threads or cpu.thread_count()
        files = ModelFiles(Path(model_dir), model)
        started = time.perf_counter()
        self._graph = create_session(files, self.threads)  # the session, and the weights it reads in place
        self.preoptimised = self._graph.preoptimised
        logger.info(
            SESSION_READY_LOG,
            (time.perf_counter() - started) * 1000,
            "pre-optimised" if self.preoptimised else "plain",
            self.threads,
        )
        metadata = self._graph.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ValueError(
                f"{files.onnx} lacks {METADATA_KEY!r} metadata: use darknet_detector.building.convert"
            )
        self.network = NetworkInfo.from_json(metadata[METADATA_KEY])
        self.classes = self.network.classes
        names_path = Path(names_path or files.names)
        self.names = read_names(names_path)
        if len(self.names) < self.classes:
            raise ValueError(f"{names_path}: {len(self.names)} names for a model of {self.classes} classes")
        self._darknet = Libdarknet(darknet_lib)
        self._c_names = c_string_array(self.names)
        self._alphabet = None  # Darknet's label glyphs, loaded when drawing first needs them
        self._outputs = [head.output for head in self.network.heads]

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
        threshold = self.threshold if threshold is None else threshold
        if tiling is not None:
            width, height = source.info.display_size
            net = self.network
            tiles = plan_tiles(tiling.spec, width, height, net.width, net.height, tiling.max_tiles)
            if tiles:
                return self._detect_tiled(source, workdir, annotate, threshold, classes, tiling, tiles)
        run = self._detect_whole(source, workdir, annotate, threshold, classes)
        if tiling is not None:  # the photo fits one tile: the whole-photo pass is the whole answer
            run.tiling = tiling_report(tiling, [], 0, None)
        return run

    def _detect_whole(
        self, source: SourceImage, workdir: Path, annotate: bool, threshold: float, classes: frozenset[str]
    ) -> DetectionRun:
        """Darknet's test_detector on the whole photo, shrunk to the network's input."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = now - clock
            clock = now

        net = self.network
        width, height = source.info.display_size
        picture = None  # the Darknet image to draw on: the photo, or a large photo's shrunk copy
        if source.large:
            # The network input of the full decode without Darknet's 12-byte float image of the photo.
            stored = stored_pixels(source, lambda: self._darknet)
            lap("decode_image")
            orientation = source.info.orientation
            tensor = self._input_tensor(orient(stored, orientation), None)
            lap("letterbox")
            if annotate:  # reduced as stored (contiguous rows, faster), then turned
                drawn = orient(reduced(stored, source.drawn_factor), orientation)
                picture = self._darknet.float_image(drawn)
                lap("shrink")
            del stored
        else:
            pixels = upright_pixels(source, self._darknet)
            lap("decode_image")
            picture = self._darknet.float_image(pixels) if annotate else None
            tensor = self._input_tensor(pixels, picture)
            lap("letterbox")
        raw_maps = self._graph.session.run(self._outputs, {INPUT_NAME: tensor})
        lap("inference")
        predict_seconds = timings["inference"]
        decoded = heads.decode(net, raw_maps, width, height, threshold)
        lap("yolo_decode")
        candidates = self._nms(decoded)
        self._keep_classes(candidates, classes)
        lap("nms")
        detections, lines = self._report(candidates, width, height, threshold)
        png = None
        if annotate and picture is not None:
            self._darknet.draw_detections(
                picture.struct, candidates, threshold, self._c_names, self._glyphs(), self.classes
            )
            lap("draw")
            png = write_png(Path(workdir) / RESULT_IMAGE, self._darknet.rgb_bytes(picture.struct))
            lap("save_png")
        header = f"{source.name}: Predicted in {predict_seconds:f} seconds."
        return DetectionRun(
            detections=detections,
            predict_seconds=predict_seconds,
            result_text="\n".join([header, *lines]) + "\n",
            annotated_png=png,
            image_width=width,
            image_height=height,
            timings=timings,
            drawn_size=(picture.width, picture.height) if png is not None and picture is not None else None,
            drawn_factor=source.drawn_factor if png is not None else 1,
        )

    def _detect_tiled(
        self,
        source: SourceImage,
        workdir: Path,
        annotate: bool,
        threshold: float,
        classes: frozenset[str],
        tiling: Tiling,
        tiles: list[Tile],
    ) -> DetectionRun:
        """The whole photo shrunk, then each tile at close to its own resolution, boxes merged across them.

        Each pass is Darknet's test_detector on its pixels (its NMS included); tiles stop when the next
        would end after tiling.deadline, the slowest tile so far being the estimate."""
        timings = {"decode_image": 0.0, "inference": 0.0, "tiles": 0.0}
        started = time.perf_counter()
        stored = stored_pixels(source, lambda: self._darknet)
        pixels = orient(stored, source.info.orientation)
        height, width = pixels.shape[:2]
        timings["decode_image"] = time.perf_counter() - started
        found, slowest, reason, done = Found.empty(), 0.0, None, len(tiles)
        for index, region in enumerate([Tile(0, 0, width, height), *tiles]):
            # A tile (after the whole-photo pass) that would end after the deadline is not started.
            if index and tiling.deadline is not None and time.monotonic() + slowest > tiling.deadline:
                done = index - 1
                reason = (
                    f"the invocation's time ran short after {done} of {len(tiles)} tiles: the answer "
                    "merges the whole photo and the tiles done; raise the function's timeout or ask "
                    "for fewer tiles"
                )
                break
            begun = time.perf_counter()
            boxes, probs, seconds = self.detect_pixels(region.crop(pixels), threshold, classes)
            timings["inference"] += seconds
            found = found + Found.above(to_photo(boxes, region, width, height), probs, threshold)
            # The estimate of the next tile: the slowest tile so far (the whole-photo pass before any).
            slowest = max(slowest if index > 1 else 0.0, time.perf_counter() - begun)
        timings["tiles"] = time.perf_counter() - started - timings["decode_image"]
        clock = time.perf_counter()
        merged = merge(found)
        candidates = Candidates(merged.boxes, merged.probs, one_hot(merged, self.classes))
        detections, lines = self._report(candidates, width, height, threshold)
        timings["merge"] = time.perf_counter() - clock
        png, drawn_size = None, None
        if annotate:
            clock = time.perf_counter()
            png, drawn_size = self._draw_tiled(
                source, stored, candidates, threshold, Path(workdir) / RESULT_IMAGE
            )
            timings["draw"] = time.perf_counter() - clock
        header = f"{source.name}: Predicted in {timings['inference']:f} seconds."
        return DetectionRun(
            detections=detections,
            predict_seconds=timings["inference"],
            result_text="\n".join([header, *lines]) + "\n",
            annotated_png=png,
            image_width=width,
            image_height=height,
            timings={name: round(value, 4) for name, value in timings.items() if name != "inference"},
            drawn_size=drawn_size,
            drawn_factor=source.drawn_factor if png is not None else 1,
            tiling=tiling_report(tiling, tiles, done, reason),
        )

    def detect_pixels(
        self, pixels: np.ndarray, threshold: float, classes: frozenset[str] = frozenset()
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Darknet's detection on (h, w, 3) uint8 upright pixels (a tile's view): the boxes (x, y, w, h
        relative to those pixels) and class probabilities after NMS, and the network's seconds."""
        net = self.network
        height, width = pixels.shape[:2]
        tensor = self._input_tensor(pixels, None)
        started = time.perf_counter()
        raw_maps = self._graph.session.run(self._outputs, {INPUT_NAME: tensor})
        seconds = time.perf_counter() - started
        candidates = self._nms(heads.decode(net, raw_maps, width, height, threshold))
        self._keep_classes(candidates, classes)
        boxes, probs = surviving(candidates)
        return boxes, probs, seconds

    def _draw_tiled(
        self, source: SourceImage, stored: np.ndarray, candidates: Candidates, threshold: float, path: Path
    ) -> tuple[Path, tuple[int, int]]:
        """image-result.png of a tiled photo, drawn as without tiles: on the photo, or a large one's copy
        reduced as stored, then turned (boxes are relative, so any scale takes them). Returns it and its
        size."""
        drawn = orient(reduced(stored, source.drawn_factor), source.info.orientation)
        picture = self._darknet.float_image(drawn)
        glyphs = self._glyphs()
        self._darknet.draw_detections(
            picture.struct, candidates, threshold, self._c_names, glyphs, self.classes
        )
        return write_png(path, self._darknet.rgb_bytes(picture.struct)), (picture.width, picture.height)

    def _input_tensor(self, pixels: np.ndarray, picture: FloatImage | None) -> np.ndarray:
        """test_detector's network input: from the 8-bit pixels in one pass (Libdarknet.network_input),
        or Darknet's own resize of its float image (picture, made here if None) where that cannot serve."""
        net = self.network
        tensor = self._darknet.network_input(pixels, net.width, net.height, net.letterbox)
        if tensor is not None:
            return tensor
        picture = picture or self._darknet.float_image(pixels)  # held: the struct points into its buffer
        fit = self._darknet.letterbox if net.letterbox else self._darknet.resize
        return fit(picture.struct, net.width, net.height)

    def _keep_classes(self, candidates: Candidates, classes: frozenset[str]) -> None:
        """After NMS, as a filter of what Darknet would print: the other classes' probabilities go."""
        if classes:
            candidates.probs[
                :, [i for i, name in enumerate(self.names[: self.classes]) if name not in classes]
            ] = 0

    def _glyphs(self):
        """Darknet's 760 label glyphs (about 25 ms to load): only drawing needs them, so not at start-up."""
        if self._alphabet is None:
            self._alphabet = self._darknet.load_alphabet()
        return self._alphabet

    def _nms(self, decoded: heads.Decoded) -> Candidates:
        """NMS as the cfg asks: Darknet's own do_nms_sort by default, the fork's diounms_sort otherwise."""
        net = self.network
        if net.nms_kind == "default":
            candidates = Candidates(*decoded)
            self._darknet.nms_sort(candidates, self.classes, NMS_THRESHOLD)
            return candidates
        boxes, objectness, probs = decoded
        order = heads.diou_nms_sort(boxes, objectness, probs, NMS_THRESHOLD, net.nms_kind, net.beta_nms)
        return Candidates(boxes[order], objectness[order], probs[order])

    def _report(
        self, candidates: Candidates, image_w: int, image_h: int, threshold: float
    ) -> tuple[list[Detection], list]:
        """The detections and text lines draw_detections prints, in its order (structs after NMS)."""
        thresh = np.float32(threshold)
        detections, lines = [], []
        for entry, row in zip(candidates.array, candidates.order(), strict=True):
            probs = candidates.probs[row]
            box = pixel_box(entry.bbox.x, entry.bbox.y, entry.bbox.w, entry.bbox.h, image_w, image_h)
            for class_id in np.flatnonzero(probs > thresh):
                name, prob = self.names[class_id], probs[class_id]
                lines.append(f"{name}: {percent(prob)}")
                detections.append(Detection(name, float(prob), *box))
        return detections, lines


def surviving(candidates: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n, 4: x, y, w, h relative) and probabilities after NMS, in the structs' order."""
    rows = np.asarray(candidates.order(), dtype=np.intp)
    boxes = np.array([(e.bbox.x, e.bbox.y, e.bbox.w, e.bbox.h) for e in candidates.array], dtype=np.float32)
    return boxes.reshape(-1, 4), candidates.probs[rows]


def one_hot(found: Found, classes: int) -> np.ndarray:
    """Merged boxes as Darknet's probability rows: each its own class's probability, zero elsewhere."""
    probs = np.zeros((len(found), classes), dtype=np.float32)
    probs[np.arange(len(found)), found.class_ids] = found.probs
    return probs


def tiling_report(tiling: Tiling, tiles: list[Tile], done: int, reason: str | None) -> dict:
    """result.json's `tiles`: the tiling asked for, the tiles it made and ran, and why not all."""
    report: dict = {
        "requested": str(tiling.spec),
        "planned": len(tiles),
        "run": done,
        "complete": reason is None,
        "whole_image": True,
    }
    if tiles:
        report["tile"] = {"width": tiles[0].width, "height": tiles[0].height}
    if reason:
        report["reason"] = reason
    return report
