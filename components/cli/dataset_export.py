"""`export`: the results under the stack's output prefix as a COCO, YOLO or Pascal VOC dataset.

The listing is read a page at a time and each page's result.json documents are fetched and written
before the next page is asked for: nothing holds the whole listing, so a prefix of millions of results
costs the memory of one page. YOLO and VOC write one file per image as it comes; COCO, one JSON file,
is written incrementally too (darknet_detector.core.annotation_formats.CocoWriter): its images go
straight to the file and its annotations to a temporary file appended at the end, since both arrays
grow with every result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darknet_detector.contract import (
    ANNOTATION_EXTENSIONS,
    COCO_FILE,
    RESULT_JSON,
    VOC_FOLDER,
    YOLO_CLASSES_FILE,
    YOLO_LABELS_FOLDER,
    result_json_key,
)
from darknet_detector.core import annotation_formats as formats
from darknet_detector.model_format import read_names

from ..backfill import read_result
from .errors import CliError

LIST_PAGE_SIZE = 1000
"""Keys per ListObjectsV2 page (S3's largest): the documents of one page are in memory at a time."""
FETCH_WORKERS = 16


@dataclass
class Selection:
    """Which results to export: these request ids, or every result whose source key is under one of the
    prefixes (as `ls --prefix` takes them: with or without the stack's input prefix), or all."""

    request_ids: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def keeps(self, document: dict[str, Any]) -> bool:
        key = str((document.get("source") or {}).get("key") or "")
        return not self.prefixes or key.startswith(self.prefixes)


def result_keys(s3, bucket: str, output_prefix: str) -> Iterator[list[str]]:
    """The result.json keys under the output prefix, one listing page at a time."""
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=output_prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    )
    for page in pages:
        yield [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith("/" + RESULT_JSON)]


def documents(
    s3, bucket: str, output_prefix: str, selection: Selection
) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(key, document) for each selected result, in listing order; None for a named id with no result."""
    if selection.request_ids:
        pages: Iterable[list[str]] = [[result_json_key(output_prefix, rid) for rid in selection.request_ids]]
    else:
        pages = result_keys(s3, bucket, output_prefix)
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        for keys in pages:
            for key, document in zip(keys, pool.map(lambda k: read_result(s3, bucket, k), keys), strict=True):
                if document is None or selection.keeps(document):
                    yield key, document


@dataclass
class Report:
    """What an export wrote, for the summary line and --json."""

    format: str
    out: str
    images: int = 0
    annotations: int = 0
    files: int = 0
    skipped: int = 0  # failed detections: no image size, no boxes
    missing: list[str] = field(default_factory=list)  # named request ids without a result
    unnamed_classes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Writer:
    """One format's files under the output folder; add() per result, close() once."""

    def __init__(
        self, format_name: str, out: Path, table: formats.ClassTable, scores: bool, files: ExitStack
    ) -> None:
        self.format, self.out, self.table, self.scores = format_name, out, table, scores
        self.files = 0
        self._coco: formats.CocoWriter | None = None
        if format_name == "coco":
            dataset = files.enter_context((out / COCO_FILE).open("w", encoding="utf-8"))
            # beside the dataset, not in /tmp: the annotations can outgrow a small /tmp
            spill = files.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", dir=out))  # noqa: SIM115
            self._coco = formats.CocoWriter(dataset, spill, "darknet-lambda detections")

    def add(self, image: formats.LabelledImage) -> int:
        """Writes one image; returns the number of boxes written."""
        if self._coco is not None:
            self._coco.add(image)
        elif self.format == "yolo":
            self._write(YOLO_LABELS_FOLDER, image, formats.yolo_lines(image, self.scores))
        else:
            self._write(VOC_FOLDER, image, formats.voc_xml(image))
        return len(image.detections)

    def _write(self, folder: str, image: formats.LabelledImage, text: str) -> None:
        """The image's file, named after it; a second image of the same name (a re-upload with new
        content has a new request id) gets its request id added, so that neither is lost."""
        extension = ANNOTATION_EXTENSIONS[self.format]
        path = self.out / folder / (image.stem + extension)
        if path.exists():
            path = path.with_name(f"{path.stem}-{image.request_id}{extension}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.files += 1

    def close(self) -> None:
        if self._coco is not None:
            self._coco.close(self.table.categories())
            self.files += 1
        elif self.format == "yolo":
            (self.out / YOLO_CLASSES_FILE).write_text(self.table.classes_txt(), encoding="utf-8")
            self.files += 1


def prepare_out(out: Path) -> None:
    """A new or empty folder: an export never mixes with an earlier one's files."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"--out {out} exists and is not an empty folder: give a new one")
    out.mkdir(parents=True, exist_ok=True)


def export(
    s3,
    bucket: str,
    prefixes: tuple[str, str],
    format_name: str,
    out: Path,
    selection: Selection,
    *,
    names_file: Path | None = None,
    scores: bool = False,
    advance: Callable[[str], None] = lambda _state: None,
) -> Report:
    """Writes the selected results of the stack (bucket, (input prefix, output prefix)) under out;
    advance(state) is called per result: exported, skipped or missing."""
    input_prefix, output_prefix = prefixes
    prepare_out(out)
    table = formats.ClassTable(read_names(names_file) if names_file else ())
    ids = table.ids() if table.known else None
    report = Report(format_name, str(out))
    with ExitStack() as files:
        writer = Writer(format_name, out, table, scores, files)
        for key, document in documents(s3, bucket, output_prefix, selection):
            if document is None:
                report.missing.append(key[len(output_prefix) :].split("/", 1)[0])
                advance("missing")
                continue
            if not formats.is_success(document):
                report.skipped += 1
                advance("skipped")
                continue
            try:
                table.learn(document)
                image = formats.labelled_image(document, ids, input_prefix)
            except formats.AnnotationError as error:
                raise CliError(str(error)) from None
            report.annotations += writer.add(image)
            report.images += 1
            advance("exported")
        writer.close()
    report.files = writer.files
    report.unnamed_classes = table.unnamed() if format_name == "yolo" else []
    return report
