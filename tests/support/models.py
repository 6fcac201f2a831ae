"""A team's own model, as the tests write it: a cfg of three classes with random weights of its shape.

One writer for the unit tests (model files, the image component) and the container tests (a real image
built from the folder): the files `make image MODEL_DIR=...` and DarknetImage's model_dir take.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darknet_detector.building.convert import write_random_weights
from darknet_detector.building.random_parity import calibrated_random_weights

OWN_MODEL = "parts"
OWN_NAMES = ("bolt", "nut", "washer")
# The smallest cfg of three classes both Darknet flavours read (pjreddie's has no mish, no route groups).
OWN_CFG = """[net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
size=1
stride=1
pad=1
filters=24
activation=linear

[yolo]
mask=0,1,2
anchors=8,8,16,16,24,24
classes=3
num=3
"""
OWN_MODEL_FILES = [f"{OWN_MODEL}.cfg", f"{OWN_MODEL}.names", f"{OWN_MODEL}.weights"]


def write_own_model(
    folder: Path, cfg: str = OWN_CFG, seed: int = 0, calibrated_on: np.ndarray | None = None
) -> Path:
    """parts.cfg, parts.names and parts.weights in folder (made if missing). With calibrated_on (a
    1x3xHxW image), the heads are calibrated on it so that the model reports boxes, as the fork's
    models are in random-weights parity; otherwise the weights are plain random ones, seeded."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path, weights = folder / f"{OWN_MODEL}.cfg", folder / f"{OWN_MODEL}.weights"
    cfg_path.write_text(cfg)
    (folder / f"{OWN_MODEL}.names").write_text("\n".join(OWN_NAMES) + "\n")
    if calibrated_on is None:
        write_random_weights(cfg_path, weights, seed=seed)
    else:
        calibrated_random_weights(cfg_path, weights, "fork", calibrated_on)
    return folder
