"""What a detection leaves behind: S3 keys, result.json, and the tar.gz of the binary mode."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from darknet_detector.contract import RESULT_IMAGE, RESULT_JSON, RESULT_TEXT, output_folder
from darknet_detector.core.detection import DEFAULT_OPTIONS, DetectionRun, DetectOptions, Engine
from darknet_detector.core.images import ImageInfo

# result.json's image.network_input: every photo is decoded whole before Darknet's letterbox or resize,
# whatever the function's memory.
NETWORK_INPUT = {"decoded": "full"}

# result.json's shape (README, "result.json"): raised when a field is removed or changes meaning;
# added fields keep it, so readers ignore fields they do not know.
SCHEMA_VERSION = 1


def output_keys(output_prefix: str, request_id: str) -> dict[str, str]:
    folder = output_folder(output_prefix, request_id)
    return {
        "folder": folder,
        "image": folder + RESULT_IMAGE,
        "text": folder + RESULT_TEXT,
        "json": folder + RESULT_JSON,
    }


def result_document(
    request_id: str,
    source: dict,
    engine: Engine,
    run: DetectionRun | None = None,
    error: dict | None = None,
    timings: dict | None = None,
    image: ImageInfo | None = None,
    options: DetectOptions = DEFAULT_OPTIONS,
) -> dict:
    """result.json and the synchronous JSON answer: one schema for success and failure."""
    document: dict = {
        "schema_version": SCHEMA_VERSION,
        "request_id": request_id,
        "status": "error" if error else "ok",
        "source": source,
        "model": engine.model,
        "engine": engine.name,
        "threshold": options.threshold_or(engine.threshold),
        "options": options.as_dict(engine.threshold),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if run is not None:
        document["image"] = {"width": run.image_width, "height": run.image_height}
        if image is not None:
            document["image"].update(format=image.kind, orientation=image.orientation)
        document["image"]["network_input"] = dict(NETWORK_INPUT)
        if run.drawn_size is not None:
            width, height = run.drawn_size
            document["image"]["drawn"] = {"width": width, "height": height, "factor": run.drawn_factor}
        if run.tiling is not None:
            document["tiles"] = run.tiling
        document["detections"] = run.detections_as_dicts(engine.names)
        document["timings"] = {
            "predict_seconds": round(run.predict_seconds, 4),
            **run.timings,
            **(timings or {}),
        }
    if error is not None:
        document["error"] = error
    return document


def result_archive(run: DetectionRun) -> bytes:
    """tar.gz holding image-result.png and result.out, as the original example's binary mode."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(str(run.annotated_png), arcname=RESULT_IMAGE)
        text = run.result_text.encode()
        info = tarfile.TarInfo(RESULT_TEXT)
        info.size = len(text)
        info.mtime = int(time.time())
        archive.addfile(info, io.BytesIO(text))
    return buffer.getvalue()


def safe_filename(key: str, extension: str) -> str:
    """A local file name for an object key: its base name, made of safe characters."""
    stem = Path(key).stem or "image"
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:100] or "image"
    return cleaned + extension
