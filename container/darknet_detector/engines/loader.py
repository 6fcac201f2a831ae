"""Choose and load the detection engine named by the settings."""

from __future__ import annotations

from darknet_detector.core.detection import Engine
from darknet_detector.core.settings import Settings


def load_engine(settings: Settings) -> Engine:
    """Each engine's module is imported only when it is chosen: the reference engine works without
    onnxruntime installed, and the default one does not import the CLI runner's modules at start-up."""
    if settings.engine == "darknet":
        from darknet_detector.engines.darknet_cli import DarknetCliEngine

        return DarknetCliEngine(settings.model_dir, settings.model, settings.threshold, settings.darknet_bin)
    from darknet_detector.engines.onnx_runtime import OnnxEngine

    return OnnxEngine(settings.model_dir, settings.model, settings.threshold)
