"""The HTTP path on LocalStack: API Gateway REST POST /detect through the Lambda proxy integration."""

from __future__ import annotations

import io
import tarfile

from e2e_harness.client import classes

EXPECTED = {"dog", "truck", "bicycle"}
HTTP_IMAGE_LIMIT = 4 * 1024 * 1024


def test_post_detect_answers_the_detections(stack, dog_jpg, timed):
    for _ in range(5):  # the first may meet a cold start; the others are warm
        with timed("HTTP path: POST /detect -> 200 JSON"):
            response = stack.detect(dog_jpg)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert classes(response.json()) >= EXPECTED


def test_accept_gzip_answers_a_tar_gz_of_both_files(stack, dog_jpg, timed):
    with timed("HTTP path: POST /detect -> 200 tar.gz"):
        response = stack.detect(dog_jpg, Accept="application/gzip")
    assert response.status_code == 200, response.text[:300]
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    assert set(members) == {"image-result.png", "result.out"}
    assert members["image-result.png"].startswith(b"\x89PNG")
    assert b"dog:" in members["result.out"]


def test_asynchronous_request_answers_202_and_results_appear_at_the_location(stack, dog_jpg, timed):
    with timed("HTTP path: async POST -> result.json"):
        with timed("HTTP path: async POST -> 202"):
            response = stack.detect(dog_jpg, **{"X-Amz-Invocation-Type": "Event"})
        assert response.status_code == 202, response.text
        body = response.json()
        location = body["location"]
        assert location == f"s3://{stack.bucket}/output/{body['request_id']}/"
        document = stack.wait_for_folder(location.removeprefix(f"s3://{stack.bucket}/"), timeout=60)
    assert document["status"] == "ok"
    assert classes(document) >= EXPECTED


def test_empty_body_is_400(stack):
    assert stack.detect(b"").status_code == 400


def test_not_an_image_is_415(stack):
    assert stack.detect(b"hello, this is text", content_type="text/plain").status_code == 415


def test_truncated_jpeg_is_400(stack, dog_jpg):
    assert stack.detect(dog_jpg[: len(dog_jpg) // 2]).status_code == 400


def test_body_over_the_limit_is_413_and_points_to_the_s3_path(stack, dog_jpg):
    too_large = dog_jpg + b"\0" * (HTTP_IMAGE_LIMIT + 1024 - len(dog_jpg))
    response = stack.detect(too_large)
    assert response.status_code == 413, response.text[:300]
    assert "input/" in response.text or "S3" in response.text
