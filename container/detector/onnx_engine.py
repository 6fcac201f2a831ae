"""The fast engine: ONNX Runtime on the graph converted from the Darknet weights at image build time.

Everything around the network is Darknet's own: image decoding, letterbox, NMS and drawing run in
libdarknet.so, and the YOLO decoding below repeats yolo_layer.c's arithmetic (float vs double included),
so the detections, their order and result.out match `darknet detector test`. The session and label glyphs
are loaded once per process and reused by every warm invocation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from detector import cpu
from detector.darknet_onnx import INPUT_NAME, METADATA_KEY, NetworkInfo, YoloHead
from detector.decoding import darknet_image
from detector.detection import Detection, DetectionRun, SourceImage
from detector.libdarknet import Candidates, Libdarknet, c_string_array
from detector.png import encode_png

NMS_THRESHOLD = 0.45  # test_detector's fixed nms
RESULT_PNG = "image-result.png"


def _logistic(values: np.ndarray) -> np.ndarray:
    """activations.h logistic_activate: computed in double, stored as float."""
    return (1.0 / (1.0 + np.exp(-values.astype(np.float64)))).astype(np.float32)


def letterbox_size(image_w: int, image_h: int, net_w: int, net_h: int) -> tuple[int, int]:
    """The scaled image size inside the letterbox, as correct_yolo_boxes computes it."""
    if np.float32(net_w) / np.float32(image_w) < np.float32(net_h) / np.float32(image_h):
        return net_w, (image_h * net_w) // image_w
    return (image_w * net_h) // image_h, net_h


def yolo_candidates(
    head: YoloHead, raw: np.ndarray, image_w: int, image_h: int, net_w: int, net_h: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """get_yolo_detections for one [yolo] output: boxes (x, y, w, h relative to the image), objectness, probs.

    Candidates come in Darknet's order (cell by cell, anchors within a cell), which matters because NMS
    sorts with qsort, and qsort does not keep ties in order.
    """
    thresh = np.float32(threshold)
    anchors = len(head.mask)
    cells = head.height * head.width
    maps = raw.reshape(anchors, head.classes + 5, cells)
    objectness = _logistic(maps[:, 4, :])
    anchor_ids, cell_ids = np.nonzero((objectness > thresh).T)[::-1]
    rows, cols = np.divmod(cell_ids, head.width)
    picked = maps[anchor_ids, :, cell_ids]  # (n, classes + 5)
    obj = objectness[anchor_ids, cell_ids]

    x = (cols.astype(np.float32) + _logistic(picked[:, 0])) / np.float32(head.width)
    y = (rows.astype(np.float32) + _logistic(picked[:, 1])) / np.float32(head.height)
    biases = np.asarray(head.anchors, dtype=np.float32).reshape(-1, 2)[np.asarray(head.mask)[anchor_ids]]
    w = (np.exp(picked[:, 2].astype(np.float64)) * biases[:, 0].astype(np.float64) / net_w).astype(np.float32)
    h = (np.exp(picked[:, 3].astype(np.float64)) * biases[:, 1].astype(np.float64) / net_h).astype(np.float32)

    probs = obj[:, None] * _logistic(picked[:, 5:])
    probs[~(probs > thresh)] = 0

    new_w, new_h = letterbox_size(image_w, image_h, net_w, net_h)
    x_scale = np.float64(np.float32(new_w) / np.float32(net_w))
    y_scale = np.float64(np.float32(new_h) / np.float32(net_h))
    x = ((x - (net_w - new_w) / 2.0 / net_w) / x_scale).astype(np.float32)
    y = ((y - (net_h - new_h) / 2.0 / net_h) / y_scale).astype(np.float32)
    w = w * (np.float32(net_w) / np.float32(new_w))
    h = h * (np.float32(net_h) / np.float32(new_h))
    return np.stack([x, y, w, h], axis=1), obj, probs


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
    """image-result.png: the same pixels as Darknet's save_image_options(PNG), encoded faster."""
    path.write_bytes(encode_png(rgb))
    return path


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


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
        onnx_path = Path(model_dir) / f"{model}.onnx"
        self._session = ort.InferenceSession(
            str(onnx_path), session_options(self.threads), providers=["CPUExecutionProvider"]
        )
        metadata = self._session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ValueError(f"{onnx_path} lacks {METADATA_KEY!r} metadata: use detector.darknet_onnx")
        self.network = NetworkInfo.from_json(metadata[METADATA_KEY])
        self.classes = self.network.yolo[-1].classes
        names_path = Path(names_path or Path(model_dir) / "coco.names")
        self.names = [line.rstrip("\r\n") for line in names_path.read_text().splitlines()]
        if len(self.names) < self.classes:
            raise ValueError(f"{names_path}: {len(self.names)} names for a model of {self.classes} classes")
        self._darknet = Libdarknet(darknet_lib)
        self._c_names = c_string_array(self.names)
        self._alphabet = self._darknet.load_alphabet()
        self._outputs = [head.output for head in self.network.yolo]

    def detect(self, source: SourceImage, workdir: Path, *, annotate: bool = True) -> DetectionRun:
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = now - clock
            clock = now

        net = self.network
        picture = darknet_image(source, self._darknet)
        image = picture.struct
        lap("decode_image")
        tensor = self._darknet.letterbox(image, net.width, net.height)
        lap("letterbox")
        raw_maps = self._session.run(self._outputs, {INPUT_NAME: tensor})
        lap("inference")
        predict_seconds = timings["inference"]
        parts = [
            yolo_candidates(head, raw, image.w, image.h, net.width, net.height, self.threshold)
            for head, raw in zip(net.yolo, raw_maps, strict=True)
        ]
        candidates = Candidates(*(np.concatenate(column) for column in zip(*parts, strict=True)))
        lap("yolo_decode")
        self._darknet.nms_sort(candidates, self.classes, NMS_THRESHOLD)
        lap("nms")
        # Boxes are relative to the image, so the full-size upright image gives original pixels even
        # when a large photo was decoded at reduced scale.
        width, height = source.info.display_size
        detections, lines = self._report(candidates, width, height)
        png = None
        if annotate:
            self._darknet.draw_detections(
                image, candidates, self.threshold, self._c_names, self._alphabet, self.classes
            )
            lap("draw")
            png = write_png(Path(workdir) / RESULT_PNG, self._darknet.rgb_bytes(image))
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
            decoded_size=(image.w, image.h) if source.reduction > 1 else None,
        )

    def _report(self, candidates: Candidates, image_w: int, image_h: int) -> tuple[list[Detection], list]:
        """The detections and text lines draw_detections prints, in its order (structs after NMS)."""
        thresh = np.float32(self.threshold)
        detections, lines = [], []
        for entry, row in zip(candidates.array, candidates.order(), strict=True):
            probs = candidates.probs[row]
            box = pixel_box(entry.bbox.x, entry.bbox.y, entry.bbox.w, entry.bbox.h, image_w, image_h)
            for class_id in np.flatnonzero(probs > thresh):
                name, prob = self.names[class_id], probs[class_id]
                lines.append(f"{name}: {percent(prob)}")
                detections.append(Detection(name, float(prob), *box))
        return detections, lines
