"""`put`: files and folders to the input prefix, then (with --wait) each image followed to its result."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darknet_detector.contract import request_id_of_object, result_json_key

from ..backfill import read_result
from .client import NOT_AN_IMAGE, darknet_lines, error_reason, image_kind, media_type

MULTIPART_THRESHOLD = 8 * 1024 * 1024
"""Files from this size on go up in parts (boto3's TransferConfig), 8 MiB each."""
UPLOAD_WORKERS = 4
POLL_SECONDS = 0.5


@dataclass
class Item:
    """One file of a put: where it goes, and what became of it."""

    path: Path
    key: str
    size: int
    kind: str | None = None
    etag: str | None = None
    request_id: str | None = None
    state: str = "pending"  # uploaded, done, rejected (with reason), failed (with reason)
    reason: str | None = None
    document: dict[str, Any] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "path": str(self.path),
            "key": self.key,
            "bytes": self.size,
            "request_id": self.request_id,
            "status": self.state,
        }
        if self.reason:
            answer["reason"] = self.reason
        if self.document is not None:
            answer["detections"] = self.document.get("detections", [])
        return answer


def collect(paths: Iterable[str], input_prefix: str) -> list[Item]:
    """The files to upload: a file under its own name, a folder recursively under its name with the
    relative names kept (`put photos` puts photos/a/b.jpg at INPUT_PREFIX/photos/a/b.jpg), like cp -r.
    Hidden files and folders inside a folder are left out."""
    items: list[Item] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            base = path.resolve().name
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    file = Path(root) / name
                    relative = file.relative_to(path).as_posix()
                    items.append(_item(file, f"{input_prefix}{base}/{relative}"))
        elif path.is_file():
            items.append(_item(path, f"{input_prefix}{path.name}"))
        else:
            raise FileNotFoundError(2, "no such file or folder", raw)
    return items


def _item(path: Path, key: str) -> Item:
    with path.open("rb") as file:
        head = file.read(64)
    item = Item(path, key, path.stat().st_size, image_kind(head))
    if item.kind is None:
        item.state, item.reason = "rejected", NOT_AN_IMAGE
    return item


def transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)


def upload(
    s3, bucket: str, input_prefix: str, items: list[Item], advance: Callable[[int, bool], None]
) -> None:
    """Uploads every image of the batch (parallel files, each in parts when large); `advance(bytes,
    file_done)` is called as bytes go up. Each item gets its ETag and so its request id."""
    config = transfer_config()
    lock = threading.Lock()

    def one(item: Item) -> None:
        def sent(count: int) -> None:
            with lock:
                advance(count, False)

        s3.upload_file(
            str(item.path),
            bucket,
            item.key,
            ExtraArgs={"ContentType": media_type(item.kind)},
            Config=config,
            Callback=sent,
        )
        item.etag = s3.head_object(Bucket=bucket, Key=item.key)["ETag"]
        item.request_id = request_id_of_object(bucket, item.key, item.etag, input_prefix)
        item.state = "uploaded"
        with lock:
            advance(0, True)

    images = [item for item in items if item.kind is not None]
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        for future in [pool.submit(one, item) for item in images]:
            future.result()


def wait(
    s3,
    bucket: str,
    output_prefix: str,
    items: list[Item],
    timeout: float,
    advance: Callable[[Item], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Polls each uploaded image's result.json until it is there or the timeout passes: done (status
    ok), rejected (status error, with its reason), failed (no result in time)."""
    deadline = clock() + timeout
    pending = [item for item in items if item.state == "uploaded"]
    while pending:
        still = []
        for item in pending:
            document = read_result(s3, bucket, result_json_key(output_prefix, str(item.request_id)))
            if document is None:
                still.append(item)
                continue
            item.document = document
            if document.get("status") == "ok":
                item.state = "done"
            else:
                item.state, item.reason = "rejected", error_reason(document)
            advance(item)
        pending = still
        if pending and clock() >= deadline:
            for item in pending:
                item.state, item.reason = "failed", f"no result within {timeout:g} s"
                advance(item)
            return
        if pending:
            sleep(POLL_SECONDS)


def report_lines(item: Item) -> list[str]:
    """An image's lines as Darknet prints them, under its key."""
    if item.state == "done" and item.document is not None:
        seconds = (item.document.get("timings") or {}).get("predict_seconds")
        header = f"{item.key}: Predicted in {seconds:g} seconds." if seconds is not None else f"{item.key}:"
        return [header, *darknet_lines(item.document)]
    return [f"{item.key}: {item.state}: {item.reason or ''}".rstrip(": ")]


def summary(items: list[Item], waited: bool) -> str:
    counts = {state: sum(item.state == state for item in items) for state in ("done", "rejected", "failed")}
    if not waited:
        uploaded = sum(item.state == "uploaded" for item in items)
        return f"{uploaded} uploaded, {counts['rejected']} rejected"
    return f"{counts['done']} done, {counts['rejected']} rejected, {counts['failed']} failed"


def succeeded(items: list[Item], waited: bool) -> bool:
    return all(item.state == ("done" if waited else "uploaded") for item in items)
