"""result.json documents as the annotation formats labelling tools and training runs read.

COCO (a detection dataset: images, categories, annotations with bbox [x, y, width, height], area and
score), YOLO (one text line per box: class id, then centre and size as fractions of the image) and
Pascal VOC XML (corners counted from 1). Each box comes from result.json's corners through Detection,
which alone turns them into sizes and fractions; class ids are the model's (its names file's line, from
0), the same in all three. POST /detect answers one image with these functions and the command's export
writes a dataset with them, one document at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree

from darknet_detector.contract import SERVICE_NAME
from darknet_detector.core.detection import NORMALIZED_DIGITS, Detection, class_ids

VOC_DEPTH = 3
"""The channels Darknet gives the network: every image is read as RGB."""
EXTENSIONS = {"jpeg": ".jpg", "tiff": ".tif"}
"""A file extension for an image known only by its format (a request sent to POST /detect)."""


class AnnotationError(ValueError):
    """A document that cannot be written in a format (no image size, or a class without an id)."""


@dataclass(frozen=True)
class LabelledImage:
    """One successful result.json as every format needs it: where the image is, its size, the boxes."""

    request_id: str
    file_name: str  # relative path: the source key under the input prefix, or the request id
    width: int
    height: int
    detections: tuple[tuple[int, Detection], ...]  # (model class id, box)

    @property
    def stem(self) -> str:
        """file_name without its extension: the name of the image's YOLO and VOC files."""
        return str(PurePosixPath(self.file_name).with_suffix(""))


def is_success(document: Mapping[str, Any]) -> bool:
    """Whether a result has boxes to export: a failed image has no size and no detections."""
    return document.get("status") == "ok" and isinstance(document.get("image"), Mapping)


def labelled_image(
    document: Mapping[str, Any], ids: Mapping[str, int] | None = None, input_prefix: str = ""
) -> LabelledImage:
    """The image of a successful result. A detection's class id is the document's class_id; a document
    written before result.json carried it takes the id from `ids` (the model's names)."""
    if not is_success(document):
        raise AnnotationError(f"result {document.get('request_id')} is not a successful detection")
    image = document["image"]
    found = []
    for item in document.get("detections", []):
        class_id = item.get("class_id", (ids or {}).get(item["class"]))
        if class_id is None:
            raise AnnotationError(
                f"result {document.get('request_id')}: class {item['class']!r} has no class id "
                "(a result written before result.json carried class_id): give the model's names file"
            )
        found.append((int(class_id), Detection.from_dict(item)))
    return LabelledImage(
        str(document["request_id"]),
        image_file_name(document, input_prefix),
        int(image["width"]),
        int(image["height"]),
        tuple(found),
    )


def image_file_name(document: Mapping[str, Any], input_prefix: str = "") -> str:
    """The image's name in a dataset: its S3 key below the input prefix (folders kept, so that two
    photos called IMG_0001.JPG in two folders stay apart), or, for an image sent over HTTP, the
    request id with the extension of its format."""
    key = (document.get("source") or {}).get("key")
    if key:
        return key[len(input_prefix) :] if input_prefix and key.startswith(input_prefix) else key
    kind = str((document.get("image") or {}).get("format") or "")
    return str(document["request_id"]) + EXTENSIONS.get(kind, f".{kind}" if kind else "")


# ------------------------------------------------------------------------------------------- classes
class ClassTable:
    """The model's class names by id: from its names file when known, else learnt from documents."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.known = bool(names)
        self.names: dict[int, str] = dict(enumerate(names))

    def learn(self, document: Mapping[str, Any]) -> None:
        """Takes the (class_id, class) pairs of a document; refuses an id named two ways, which only
        results of different models can give."""
        for item in document.get("detections", []):
            if "class_id" not in item:
                continue
            class_id, name = int(item["class_id"]), str(item["class"])
            if self.names.setdefault(class_id, name) != name:
                raise AnnotationError(
                    f"class id {class_id} is {self.names[class_id]!r} in one result and {name!r} in "
                    f"result {document.get('request_id')}: results of different models; export one model"
                )

    def ids(self) -> dict[str, int]:
        return {name: class_id for class_id, name in sorted(self.names.items(), reverse=True)}

    def categories(self) -> list[dict[str, Any]]:
        """COCO's categories: every class of the names file, or the classes the documents named."""
        return [
            {"id": class_id, "name": name, "supercategory": "none"}
            for class_id, name in sorted(self.names.items())
        ]

    def unnamed(self) -> list[int]:
        """Ids below the largest one that no document named (only without the names file)."""
        return [i for i in range(max(self.names, default=-1) + 1) if i not in self.names]

    def classes_txt(self) -> str:
        """YOLO's classes.txt: line N is class N; an id no result named (and no names file gave) is
        written class_N, so that the lines after it keep their ids."""
        return "".join(f"{self.names.get(i, f'class_{i}')}\n" for i in range(max(self.names, default=-1) + 1))


# ---------------------------------------------------------------------------------------------- COCO
def coco_image(image: LabelledImage, image_id: int) -> dict[str, Any]:
    return {
        "id": image_id,
        "file_name": image.file_name,
        "width": image.width,
        "height": image.height,
        "request_id": image.request_id,
    }


def coco_annotations(image: LabelledImage, image_id: int, first_id: int) -> list[dict[str, Any]]:
    """COCO annotations, with ids from first_id: bbox [x, y, width, height] in pixels, the area the
    box covers, and the detector's score."""
    annotations = []
    for number, (class_id, detection) in enumerate(image.detections):
        x, y, width, height = detection.xywh()
        annotations.append(
            {
                "id": first_id + number,
                "image_id": image_id,
                "category_id": class_id,
                "bbox": [x, y, width, height],
                "area": width * height,
                "iscrowd": 0,
                "score": round(detection.confidence, NORMALIZED_DIGITS),
            }
        )
    return annotations


def coco_info(description: str) -> dict[str, Any]:
    return {"description": description, "contributor": SERVICE_NAME}


def coco_dataset(document: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """One result as a COCO dataset of one image (id 1), categories being every class of the model."""
    image = labelled_image(document, class_ids(names))
    return {
        "info": coco_info(f"{document.get('model')} detections of request {image.request_id}"),
        "images": [coco_image(image, 1)],
        "categories": ClassTable(names).categories(),
        "annotations": coco_annotations(image, 1, 1),
    }


class CocoWriter:
    """Writes a COCO dataset one image at a time, holding neither the images nor the annotations.

    A COCO file is one JSON object whose images and annotations arrays each grow with every result: the
    images are written to the file as they come, the annotations to a second stream (a temporary
    file), which close() appends after them, followed by the categories, known only at the end. Memory
    stays that of one document, whatever the number of results."""

    def __init__(self, out: IO[str], annotations: IO[str], description: str) -> None:
        self.out, self.spill = out, annotations
        self.images = 0
        self.annotations = 0
        out.write('{"info": ' + json.dumps(coco_info(description)) + ', "images": [')

    def add(self, image: LabelledImage) -> None:
        self.images += 1
        self.out.write(("," if self.images > 1 else "") + "\n" + json.dumps(coco_image(image, self.images)))
        for annotation in coco_annotations(image, self.images, self.annotations + 1):
            self.spill.write(("," if self.annotations else "") + "\n" + json.dumps(annotation))
            self.annotations += 1

    def close(self, categories: Iterable[Mapping[str, Any]]) -> None:
        self.out.write('\n], "annotations": [')
        self.spill.seek(0)
        while chunk := self.spill.read(1 << 16):
            self.out.write(chunk)
        self.out.write('\n], "categories": ' + json.dumps(list(categories)) + "}\n")


# ---------------------------------------------------------------------------------------------- YOLO
def yolo_lines(image: LabelledImage, scores: bool = False) -> str:
    """YOLO's label file: `class cx cy w h` per box, fractions of the image with six decimals, and the
    score as a sixth column when asked for (as Ultralytics' save_conf writes it)."""
    lines = []
    for class_id, detection in image.detections:
        numbers = [*detection.normalized(image.width, image.height)]
        if scores:
            numbers.append(detection.confidence)
        lines.append(" ".join([str(class_id), *(f"{n:.{NORMALIZED_DIGITS}f}" for n in numbers)]) + "\n")
    return "".join(lines)


def yolo_label(document: Mapping[str, Any], names: Sequence[str], scores: bool = False) -> str:
    return yolo_lines(labelled_image(document, class_ids(names)), scores)


# ----------------------------------------------------------------------------------------------- VOC
def voc_xml(image: LabelledImage) -> str:
    """A Pascal VOC annotation: the image's file name and size, and per box its class name and
    corners as VOC counts pixels, from 1 with both ends included (the devkit's width is
    xmax - xmin + 1)."""
    root = ElementTree.Element("annotation")
    path = PurePosixPath(image.file_name)
    _text(root, "folder", str(path.parent) if str(path.parent) != "." else "")
    _text(root, "filename", path.name)
    source = ElementTree.SubElement(root, "source")
    _text(source, "database", SERVICE_NAME)
    size = ElementTree.SubElement(root, "size")
    for tag, value in (("width", image.width), ("height", image.height), ("depth", VOC_DEPTH)):
        _text(size, tag, str(value))
    _text(root, "segmented", "0")
    for _, detection in image.detections:  # VOC names classes: it has no ids
        item = ElementTree.SubElement(root, "object")
        _text(item, "name", detection.label)
        _text(item, "pose", "Unspecified")
        _text(item, "truncated", "0")
        _text(item, "difficult", "0")
        box = ElementTree.SubElement(item, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), detection.voc_corners(), strict=True):
            _text(box, tag, str(value))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode") + "\n"


def voc_annotation(document: Mapping[str, Any], names: Sequence[str]) -> str:
    return voc_xml(labelled_image(document, class_ids(names)))


def _text(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, tag).text = text


def render(format_name: str, document: Mapping[str, Any], names: Sequence[str]) -> str:
    """One result in one format, as POST /detect answers it (COCO's JSON, YOLO's lines, VOC's XML)."""
    if format_name == "coco":
        return json.dumps(coco_dataset(document, names))
    if format_name == "yolo":
        return yolo_label(document, names)
    if format_name == "voc":
        return voc_annotation(document, names)
    raise ValueError(f"unknown annotation format {format_name!r}")
