"""Choose and load the detection engine named by the settings."""

from __future__ import annotations

from .darknet_cli import DarknetCliEngine
from .detection import Engine
from .settings import Settings


def load_engine(settings: Settings) -> Engine:
    if settings.engine == "darknet":
        return DarknetCliEngine(settings.model_dir, settings.model, settings.threshold, settings.darknet_bin)
    # Imported here so that the reference engine works without onnxruntime installed.
    from .onnx_engine import OnnxEngine

    return OnnxEngine(settings.model_dir, settings.model, settings.threshold)
