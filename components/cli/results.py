"""`ls` and `get`: the output folders of the bucket, newest first, and their files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from darknet_detector.contract import RESULT_JSON

from ..backfill import read_result

FETCH_WORKERS = 16


@dataclass
class Listed:
    request_id: str
    key: str
    modified: Any
    document: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        document = self.document or {}
        source = document.get("source") or {}
        return {
            "request_id": self.request_id,
            "source": source.get("key") or ("http" if "http" in source else ""),
            "time": document.get("created_at") or self.modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": document.get("status", "?"),
            "detections": short_detections(document),
            "error": (document.get("error") or {}).get("message") if document.get("error") else None,
        }


def short_detections(document: dict[str, Any], most: int = 4) -> str:
    items = [f"{d['class']} {d['confidence'] * 100:.0f}%" for d in document.get("detections", [])]
    text = ", ".join(items[:most])
    return text + (f", +{len(items) - most}" if len(items) > most else "")


def result_objects(s3, bucket: str, output_prefix: str) -> list[Listed]:
    """Every result.json under the output prefix, newest first (by when it was written)."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=output_prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/" + RESULT_JSON):
                request_id = key[len(output_prefix) :].split("/", 1)[0]
                found.append(Listed(request_id, key, item["LastModified"]))
    return sorted(found, key=lambda listed: listed.modified, reverse=True)


def newest(
    s3,
    bucket: str,
    output_prefix: str,
    keep: Callable[[Listed], bool],
    limit: int,
) -> list[Listed]:
    """The newest `limit` results that `keep` accepts, reading their documents a page at a time."""
    listed = result_objects(s3, bucket, output_prefix)
    kept: list[Listed] = []
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        for start in range(0, len(listed), FETCH_WORKERS * 2):
            chunk = listed[start : start + FETCH_WORKERS * 2]
            for item, document in zip(
                chunk, pool.map(lambda i: _document(s3, bucket, i.key), chunk), strict=True
            ):
                item.document = document
                if keep(item):
                    kept.append(item)
                    if len(kept) == limit:
                        return kept
    return kept


def _document(s3, bucket: str, key: str) -> dict[str, Any]:
    """A listed result's document; {} if it went away or does not parse, so one bad file cannot stop ls."""
    try:
        return read_result(s3, bucket, key) or {}
    except ValueError:
        return {}


def folder_files(s3, bucket: str, output_prefix: str, request_id: str) -> list[dict[str, Any]]:
    folder = f"{output_prefix}{request_id}/"
    files: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        files.extend(
            {"key": item["Key"], "name": item["Key"][len(folder) :], "bytes": item["Size"],
             "modified": item["LastModified"]}
            for item in page.get("Contents", [])
        )  # fmt: skip
    return files


def all_request_ids(s3, bucket: str, output_prefix: str) -> list[str]:
    return [listed.request_id for listed in result_objects(s3, bucket, output_prefix)]


def download(
    s3, bucket: str, files: list[tuple[str, Path]], advance: Callable[[int, bool], None]
) -> Iterator[Path]:
    """Downloads (key, destination) pairs, reporting bytes and finished files."""
    import threading

    lock = threading.Lock()

    def one(pair: tuple[str, Path]) -> Path:
        key, target = pair
        target.parent.mkdir(parents=True, exist_ok=True)

        def got(count: int) -> None:
            with lock:
                advance(count, False)

        s3.download_file(bucket, key, str(target), Callback=got)
        with lock:
            advance(0, True)
        return target

    with ThreadPoolExecutor(max_workers=4) as pool:
        yield from pool.map(one, files)
