"""Phone-like photos on LocalStack: a sideways JPEG, an iPhone HEIC, a size bomb and a folder marker.

The photos are generated from dog.jpg (tests/support/corpus.py); tests/container covers the full corpus.
"""

from __future__ import annotations

import time
import uuid

from e2e_harness.client import classes, invocation_count, settled_invocation_count
from support import corpus

EXPECTED = {"dog", "truck", "bicycle"}
DOG_SIZE = {"width": 768, "height": 576}


def test_a_sideways_phone_photo_is_detected_upright(stack, dog_jpg, timed):
    with timed("HTTP path: POST /detect sideways JPEG -> 200 JSON"):
        response = stack.detect(corpus.oriented(dog_jpg, 6))
    assert response.status_code == 200, response.text
    document = response.json()
    assert {k: document["image"][k] for k in DOG_SIZE} == DOG_SIZE
    assert document["image"]["orientation"] == 6
    assert classes(document) >= EXPECTED


def test_a_heic_upload_gets_its_detections(stack, s3, dog_jpg, timed):
    key = f"input/{uuid.uuid4().hex[:8]}-IMG_0001.HEIC"
    heic = corpus.encode(corpus.upright(dog_jpg), "HEIF", quality=90)
    with timed("S3 path: put HEIC under input/ -> result.json"):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=heic)
        _, document = stack.wait_for_results({key}, timeout=60)[key]
    assert document["status"] == "ok", document
    assert document["image"]["format"] == "heif"
    assert classes(document) >= EXPECTED


def test_a_size_bomb_is_refused_with_400(stack, dog_jpg):
    for case in corpus.size_bombs(dog_jpg):
        response = stack.detect(case.data)
        assert response.status_code == 400, (case.name, response.text[:300])
        assert response.json()["error"]["code"] == "corrupt_image", response.text


def test_a_folder_marker_is_ignored_without_an_error_record(stack, s3, dog_jpg):
    before = settled_invocation_count(stack.function_name)
    marker = f"input/{uuid.uuid4().hex[:8]}-holiday/"
    s3.put_object(Bucket=stack.bucket, Key=marker, Body=b"")
    deadline = time.monotonic() + 30
    while invocation_count(stack.function_name) == before and time.monotonic() < deadline:
        time.sleep(1)
    assert invocation_count(stack.function_name) - before == 1, "the marker's notification was not delivered"
    # The positive control: a photo sent after the marker is processed, so the marker's turn is over.
    control = f"input/{uuid.uuid4().hex[:8]}-holiday/IMG_0002.jpg"
    s3.put_object(Bucket=stack.bucket, Key=control, Body=dog_jpg)
    stack.wait_for_results({control}, timeout=60)
    sources = {(document.get("source") or {}).get("key") for document in stack.results().values()}
    assert marker not in sources
