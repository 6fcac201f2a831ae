"""Choose and load the detection engine named by the settings."""

from __future__ import annotations

from darknet_detector.core.detection import Engine
from darknet_detector.core.settings import Settings
from darknet_detector.engines.darknet_cli import DarknetCliEngine


def load_engine(settings: Settings) -> Engine:
    if settings.engine == "darknet":
        return DarknetCliEngine(settings.model_dir, settings.model, settings.threshold, settings.darknet_bin)
    # Imported here so that the reference engine works without onnxruntime installed.
    from darknet_detector.engines.onnx_runtime import OnnxEngine

    return OnnxEngine(settings.model_dir, settings.model, settings.threshold)
