"""The model as the build writes it and the runtime reads it: one definition of each shared fact.

    /opt/model/<model>.cfg  .weights  .names  .data  .onnx  model.json /opt/model/<model>.<cpu layout>.onnx
    .json   (pre-optimised graphs: darknet_detector.building.preoptimise)

The converter (darknet_detector.building) writes the graph, its input name and the network's description
in its metadata; the engines read them back through this module and import nothing of the converter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

METADATA_KEY = "darknet"  # the ONNX metadata entry holding NetworkInfo as JSON
INPUT_NAME = "image"  # the graph's one input: the letterboxed image, NCHW float32
MODEL_INFO_FILE = "model.json"


@dataclass(frozen=True)
class YoloHead:
    """What the numpy decoder needs for one [yolo] layer; stored as JSON in the ONNX metadata."""

    output: str
    layer: int
    classes: int
    mask: list[int]
    anchors: list[float]
    height: int
    width: int
    scale_x_y: float = 1.0
    new_coords: bool = False
    kind: str = "yolo"


@dataclass(frozen=True)
class RegionHead:
    """What the numpy decoder needs for one [region] layer (YOLOv2)."""

    output: str
    layer: int
    classes: int
    num: int
    anchors: list[float]
    height: int
    width: int
    softmax: bool
    kind: str = "region"


@dataclass(frozen=True)
class NetworkInfo:
    """What the engine needs besides the graph: input size, letterbox or resize, heads, NMS kind."""

    width: int
    height: int
    channels: int
    heads: list[YoloHead | RegionHead]
    letterbox: bool = True
    nms_kind: str = "default"
    beta_nms: float = 0.6
    flavour: str = "pjreddie"

    @property
    def classes(self) -> int:
        return self.heads[-1].classes

    def to_json(self) -> str:
        data = {key: value for key, value in self.__dict__.items() if key != "heads"}
        return json.dumps({**data, "heads": [head.__dict__ for head in self.heads]})

    @classmethod
    def from_json(cls, text: str) -> NetworkInfo:
        data = json.loads(text)
        heads = [
            RegionHead(**head) if head["kind"] == "region" else YoloHead(**head) for head in data.pop("heads")
        ]
        return cls(heads=heads, **data)


@dataclass(frozen=True)
class ModelFiles:
    directory: Path
    model: str

    def path(self, suffix: str) -> Path:
        return self.directory / f"{self.model}.{suffix}"

    @property
    def cfg(self) -> Path:
        return self.path("cfg")

    @property
    def weights(self) -> Path:
        return self.path("weights")

    @property
    def names(self) -> Path:
        return self.path("names")

    @property
    def data(self) -> Path:
        return self.path("data")

    @property
    def onnx(self) -> Path:
        return self.path("onnx")

    def optimised_graph(self, cpu_key: str) -> Path:
        return self.path(f"{cpu_key}.onnx")

    def optimised_graph_facts(self, cpu_key: str) -> Path:
        return self.path(f"{cpu_key}.json")

    @property
    def info(self) -> Path:
        return self.directory / MODEL_INFO_FILE

    def read_info(self) -> dict:
        return json.loads(self.info.read_text()) if self.info.is_file() else {}


def read_names(path: Path) -> list[str]:
    """Class names one per line, as Darknet's get_labels reads them (trailing blank lines are not names)."""
    names = [line.rstrip("\r\n") for line in Path(path).read_text().splitlines()]
    while names and not names[-1].strip():
        names.pop()
    return names
