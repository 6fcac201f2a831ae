"""The demo: one image through the S3 path and the HTTP path of the deployed stack."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from .client import Stack, aws, classes


def _print_detections(document: dict) -> None:
    for detection in document.get("detections", []):
        print(f"  {detection['class']:<12} {detection['confidence']:.0%}")


def run(outputs_path: str, image_path: str, download_dir: str) -> int:
    stack = Stack.from_outputs(outputs_path)
    image = Path(image_path)
    data = image.read_bytes()
    key = f"input/{uuid.uuid4().hex[:8]}-{image.name}"

    started = time.monotonic()
    aws("s3").put_object(Bucket=stack.bucket, Key=key, Body=data)
    folder, document = stack.wait_for_results({key})[key]
    elapsed = time.monotonic() - started
    print(f"S3 path: s3://{stack.bucket}/{key} -> s3://{stack.bucket}/{folder} in {elapsed:.1f} s")
    _print_detections(document)
    target = Path(download_dir) / folder.strip("/").replace("/", "-")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("image-result.png", "result.out", "result.json"):
        aws("s3").download_file(stack.bucket, f"{folder}{name}", str(target / name))
    print(f"  annotated image: {(target / 'image-result.png').resolve()}")

    started = time.monotonic()
    response = stack.detect(data)
    print(f"HTTP path: POST {stack.api_url} -> {response.status_code} in {time.monotonic() - started:.1f} s")
    if response.status_code != 200:
        print(f"  {response.text[:500]}")
        return 1
    _print_detections(response.json())
    return 0 if classes(document) else 1
