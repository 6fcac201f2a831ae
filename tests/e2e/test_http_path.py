"""The HTTP path on LocalStack: API Gateway REST POST /detect through the Lambda proxy integration,
called with curl and requests as users call it: raw bodies, forms, JSON, Accept lists, large bodies."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import pytest
import requests
from e2e_harness.client import classes
from PIL import Image
from support import corpus
from support.curl import curl
from support.divergences import expected, outcome

from darknet_detector.contract import (
    RESULT_IMAGE,
    RESULT_TEXT,
    SUPPORTED_NAMES,
    SYNC_ANSWER_LIMIT_BYTES,
    SYNC_BODY_LIMIT_BYTES,
)

EXPECTED = {"dog", "truck", "bicycle"}
MB = 1_000_000


def padded(jpeg: bytes, size: int) -> bytes:
    """dog.jpg followed by zero bytes up to size: a complete JPEG with a trailer, as phones write."""
    return jpeg + bytes(size - len(jpeg))


def tar_members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as opened:
        return {m.name: opened.extractfile(m).read() for m in opened.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def dog_file(tmp_path_factory, dog_jpg) -> Path:
    path = tmp_path_factory.mktemp("http") / "dog.jpg"
    path.write_bytes(dog_jpg)
    return path


def test_post_detect_answers_the_detections(stack, dog_jpg, timed):
    for _ in range(5):  # the first may meet a cold start; the others are warm
        with timed("HTTP path: POST /detect -> 200 JSON"):
            response = stack.detect(dog_jpg)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        document = response.json()
        assert document["schema_version"] == 1
        assert classes(document) >= EXPECTED


def test_curl_data_binary_without_a_content_type_is_detected(stack, dog_file):
    """curl labels --data-binary application/x-www-form-urlencoded, a binary media type of the API: the
    photo arrives intact and is detected. LocalStack's gateway loses the bytes (form_urlencoded_body in
    tests/support/divergences.py), and the function says the body is empty."""
    status, _, body = curl("--data-binary", f"@{dog_file}", stack.api_url)
    assert outcome(status, body, EXPECTED) == expected("form_urlencoded_body"), body[:300]


def test_curl_form_upload_is_detected(stack, dog_file):
    status, _, body = curl("-F", f"image=@{dog_file}", "-F", "note=holiday", stack.api_url)
    assert status == 200, body[:300]
    assert classes(json.loads(body)) >= EXPECTED


def test_requests_files_upload_is_detected(stack, dog_jpg):
    response = requests.post(
        stack.api_url, data={"note": "x"}, files={"image": ("dog.jpg", dog_jpg, "image/jpeg")}, timeout=120
    )
    assert response.status_code == 200, response.text[:300]
    assert classes(response.json()) >= EXPECTED


def test_json_body_with_a_base64_image_is_detected(stack, dog_jpg, tmp_path):
    body = tmp_path / "request.json"
    body.write_text(json.dumps({"image": base64.b64encode(dog_jpg).decode()}))
    status, _, answer = curl(
        "-H", "Content-Type: application/json", "--data-binary", f"@{body}", stack.api_url
    )
    assert status == 200, answer[:300]
    assert classes(json.loads(answer)) >= EXPECTED


@pytest.mark.parametrize(
    ("accept", "answered"),
    [
        ("application/gzip", "application/gzip"),
        ("application/x-gzip", "application/x-gzip"),
        ("application/gzip;q=0.9, application/json;q=0.5", "application/gzip"),
        ("application/json, application/gzip", "application/json"),
        ("application/gzip;q=0, */*", "application/json"),
        ("*/*", "application/json"),
    ],
)
def test_accept_is_negotiated_and_the_tar_gz_arrives_as_bytes(stack, dog_file, timed, accept, answered):
    with timed(f"HTTP path: POST /detect Accept {answered}"):
        status, headers, body = curl(
            "-H",
            "Content-Type: image/jpeg",
            "-H",
            f"Accept: {accept}",
            "--data-binary",
            f"@{dog_file}",
            stack.api_url,
        )
    assert status == 200, body[:300]
    assert headers["content-type"].startswith(answered), headers
    if answered == "application/json":
        assert classes(json.loads(body)) >= EXPECTED
        return
    members = tar_members(body)  # bytes, not base64 text
    assert set(members) == {RESULT_IMAGE, RESULT_TEXT}
    assert members[RESULT_IMAGE].startswith(b"\x89PNG")
    assert b"dog:" in members[RESULT_TEXT]


@pytest.mark.parametrize(
    "accept", ["application/gzip;q=0", "text/html", "application/json;q=0.1, application/gzip"]
)
def test_an_accept_nothing_can_serve_is_406(stack, dog_jpg, accept):
    response = stack.detect(dog_jpg, Accept=accept)
    assert response.status_code == 406, response.text[:300]
    assert response.json()["error"]["code"] == "not_acceptable"


def test_asynchronous_request_answers_202_and_results_appear_at_the_location(stack, dog_jpg, timed):
    with timed("HTTP path: async POST -> result.json"):
        with timed("HTTP path: async POST -> 202"):
            response = stack.detect(dog_jpg, **{"X-Amz-Invocation-Type": "Event"})
        assert response.status_code == 202, response.text
        body = response.json()
        location = body["location"]
        assert location == f"s3://{stack.bucket}/output/{body['request_id']}/"
        document = stack.wait_for_folder(location.removeprefix(f"s3://{stack.bucket}/"), timeout=60)
    assert document["status"] == "ok" and document["schema_version"] == 1
    assert classes(document) >= EXPECTED


@pytest.mark.parametrize(
    ("arguments", "status", "code"),
    [
        (["-H", "Content-Type: image/jpeg", "--data-binary", ""], 400, "empty_body"),
        (["-d", "hello=world"], 415, "unsupported_media_type"),
        (
            ["-H", "Content-Type: text/plain", "--data-binary", "hello, this is text"],
            415,
            "unsupported_media_type",
        ),
        (["-H", "Content-Type: image/jpeg", "--data-binary", "hello, this is text"], 415, "not_an_image"),
        (["-F", "note=no file here"], 400, "no_file_part"),
        (["-H", "Content-Type: application/json", "-d", '{"picture": "x"}'], 400, "bad_json"),
    ],
    ids=["empty", "form", "text", "text-as-jpeg", "form-without-file", "json-without-image"],
)
def test_bad_bodies_get_their_status_code_and_how_to_send(stack, arguments, status, code):
    answered, headers, body = curl(*arguments, stack.api_url)
    error = json.loads(body)["error"]
    assert (answered, error["code"]) == (status, code), error
    assert headers["content-type"].startswith("application/json")


def test_truncated_jpeg_is_400(stack, dog_jpg):
    response = stack.detect(dog_jpg[: len(dog_jpg) // 2])
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "truncated_image"


@pytest.mark.parametrize("size", [4 * MB, int(4.5 * MB)], ids=["4MB", "4.5MB"])
def test_bodies_under_the_synchronous_limit_are_detected(stack, dog_jpg, size):
    assert size <= SYNC_BODY_LIMIT_BYTES
    response = stack.detect(padded(dog_jpg, size))
    assert response.status_code == 200, response.text[:300]
    assert classes(response.json()) >= EXPECTED


def test_a_body_just_over_the_synchronous_limit_gets_a_json_413_naming_it_and_the_s3_path(stack, dog_jpg):
    """Under Lambda's payload, so it reaches the function on AWS too, which refuses it itself."""
    response = stack.detect(padded(dog_jpg, SYNC_BODY_LIMIT_BYTES + 1))
    assert response.status_code == 413, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert str(SYNC_BODY_LIMIT_BYTES) in error["message"] and "input/" in error["message"], error


@pytest.mark.parametrize(
    ("size", "divergence"),
    [
        (6 * MB, "body_over_lambda_payload"),
        (9 * MB, "body_over_lambda_payload"),
        (11 * MB, "body_over_api_gateway_payload"),
    ],
    ids=["6MB", "9MB", "11MB"],
)
def test_bodies_over_lambda_s_payload_never_reach_the_function(stack, dog_jpg, size, divergence):
    """Lambda refuses the event (INTEGRATION_FAILURE), or API Gateway the body over its 10 MB
    (REQUEST_TOO_LARGE): each its gateway response, whose JSON tests/unit/test_component_api.py checks and
    which LocalStack does not render (tests/support/divergences.py)."""
    response = stack.detect(padded(dog_jpg, size))
    assert outcome(response.status_code, response.content, EXPECTED) == expected(divergence), response.text[
        :300
    ]
    # The gateway's own answer: the function answers every request with an X-Request-Id.
    assert "X-Request-Id" not in response.headers, dict(response.headers)


def test_a_12_megapixel_photo_with_gzip_is_stored_and_linked_not_a_502(stack, dog_jpg, timed):
    """Its image-result.png alone is larger than Lambda can answer: the answer is links to S3."""
    photo = corpus.large_photo(dog_jpg, "12mp").data
    with timed("HTTP path: 12 MP POST /detect Accept gzip -> links"):
        response = stack.detect(photo, Accept="application/gzip")
    assert response.status_code == 200, response.text[:300]
    answer = response.json()
    assert answer["status"] == "stored" and answer["expires_in"] > 0, answer
    assert set(answer["links"]) == {"image", "text", "json"}
    png = requests.get(answer["links"]["image"], timeout=60)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), png.text[:300]
    assert len(png.content) > SYNC_ANSWER_LIMIT_BYTES, "the tar.gz holds this PNG: it could not be answered"
    document = requests.get(answer["links"]["json"], timeout=60).json()
    assert document["request_id"] == answer["request_id"] and classes(document) >= {"dog"}
    assert b"dog:" in requests.get(answer["links"]["text"], timeout=60).content


# --- per-request options: threshold and class filter --------------------------------------------------


def detected(document: dict) -> list[str]:
    return [detection["class"] for detection in document["detections"]]


def test_a_lower_threshold_in_the_query_string_finds_more(stack, dog_file):
    answers = {}
    for threshold in ("0.7", "0.1"):
        status, _, body = curl(
            "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}",
            f"{stack.api_url}?threshold={threshold}",
        )  # fmt: skip
        assert status == 200, body[:300]
        answers[threshold] = json.loads(body)
    assert answers["0.1"]["options"] == {"threshold": 0.1, "classes": None, "tiles": "off"}
    assert len(detected(answers["0.1"])) > len(detected(answers["0.7"]))
    assert min(d["confidence"] for d in answers["0.1"]["detections"]) < 0.5


def test_a_class_filter_in_the_query_string_keeps_only_those_classes(stack, dog_file):
    status, _, body = curl(
        "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}",
        f"{stack.api_url}?classes=dog&classes=bicycle",
    )  # fmt: skip
    document = json.loads(body)
    assert status == 200, body[:300]
    assert sorted(detected(document)) == ["bicycle", "dog"] and document["options"]["classes"] == [
        "bicycle",
        "dog",
    ]
    assert "truck" not in document["result_out"]


def test_options_as_curl_form_fields(stack, dog_file):
    status, _, body = curl(
        "-F", f"image=@{dog_file}", "-F", "threshold=0.25", "-F", "classes=dog,truck", stack.api_url
    )
    document = json.loads(body)
    assert status == 200, body[:300]
    assert set(detected(document)) == {"dog", "truck"}
    assert document["options"] == {"threshold": 0.25, "classes": ["dog", "truck"], "tiles": "off"}


def test_options_beside_the_image_of_a_json_body(stack, dog_jpg, tmp_path):
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"image": base64.b64encode(dog_jpg).decode(), "threshold": 0.3, "classes": ["car"]})
    )
    status, _, body = curl(
        "-H", "Content-Type: application/json", "--data-binary", f"@{request}", stack.api_url
    )
    document = json.loads(body)
    assert status == 200, body[:300]
    assert set(detected(document)) == {"car"} and document["threshold"] == 0.3


def test_options_reach_the_tar_gz_and_the_asynchronous_result(stack, dog_file, dog_jpg):
    status, _, body = curl(
        "-H", "Content-Type: image/jpeg", "-H", "Accept: application/gzip",
        "--data-binary", f"@{dog_file}", f"{stack.api_url}?classes=dog",
    )  # fmt: skip
    assert status == 200, body[:300]
    text = tar_members(body)[RESULT_TEXT].decode()
    assert "dog:" in text and "truck:" not in text and "bicycle:" not in text
    response = requests.post(
        f"{stack.api_url}?classes=bicycle&threshold=0.3",
        data=dog_jpg,
        headers={"Content-Type": "image/jpeg", "X-Amz-Invocation-Type": "Event"},
        timeout=120,
    )
    assert response.status_code == 202, response.text[:300]
    location = response.json()["location"].removeprefix(f"s3://{stack.bucket}/")
    document = stack.wait_for_folder(location, timeout=60)
    assert set(detected(document)) == {"bicycle"}
    assert document["options"] == {"threshold": 0.3, "classes": ["bicycle"], "tiles": "off"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("threshold=1.5", "bad_threshold"),
        ("threshold=abc", "bad_threshold"),
        ("classes=dog,unicorn", "unknown_class"),
        ("thresh=0.3", "unknown_parameter"),
    ],
)
def test_bad_options_get_400_and_their_code(stack, dog_jpg, query, code):
    response = requests.post(
        f"{stack.api_url}?{query}", data=dog_jpg, headers={"Content-Type": "image/jpeg"}, timeout=120
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == code


# --- what browsers and curl meet besides POST /detect ------------------------------------------------
# The localstack stack allows any origin (Pulumi.localstack.yaml): API Gateway's MOCK methods answer
# the preflight, wrong methods and wrong paths themselves; the function's answers carry CORS too.

ORIGIN = "https://viewer.example.com"


def api_root(stack) -> str:
    """The stage's root URL, ending in '/'."""
    return stack.api_url.removesuffix("detect")


def test_a_preflight_is_answered_by_the_gateway_without_credentials(stack):
    status, headers, body = curl(
        "-X", "OPTIONS", "-H", f"Origin: {ORIGIN}", "-H", "Access-Control-Request-Method: POST",
        "-H", "Access-Control-Request-Headers: content-type,x-api-key", stack.api_url,
    )  # fmt: skip
    assert status == 204, body[:300]
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert {"content-type", "x-api-key"} <= set(headers["access-control-allow-headers"].lower().split(","))
    assert "x-request-id" not in headers, "no function ran"


def test_cors_is_on_a_200_and_on_an_error_of_the_function(stack, dog_file, tmp_path):
    status, headers, body = curl(
        "-H", f"Origin: {ORIGIN}", "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}",
        stack.api_url,
    )  # fmt: skip
    assert status == 200, body[:300]
    assert headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in headers["access-control-expose-headers"].lower()
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")
    status, headers, body = curl(
        "-H", f"Origin: {ORIGIN}", "-H", "Content-Type: application/pdf", "--data-binary", f"@{pdf}",
        stack.api_url,
    )  # fmt: skip
    error = json.loads(body)["error"]
    assert (status, error["code"]) == (415, "unsupported_media_type"), error
    assert headers["access-control-allow-origin"] == "*"
    assert "a PDF file, not an image" in error["message"]
    assert SUPPORTED_NAMES in error["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_method_on_detect_is_405_naming_post(stack, method):
    status, headers, body = curl("-X", method, "-H", f"Origin: {ORIGIN}", stack.api_url)
    document = json.loads(body)
    assert (status, document["error"]["code"]) == (405, "method_not_allowed"), body[:300]
    assert f"/detect takes POST (and OPTIONS, a CORS preflight), not {method}" in document["error"]["message"]
    assert headers["allow"] == "POST, OPTIONS"
    assert headers["access-control-allow-origin"] == "*"
    assert document["request_id"], "API Gateway's request id, as in the function's error shape"


@pytest.mark.parametrize("path", ["nope", "detect/extra", "results", "v2/detect"])
def test_a_path_that_does_not_exist_is_404_naming_the_routes(stack, path):
    status, headers, body = curl("-H", f"Origin: {ORIGIN}", api_root(stack) + path)
    document = json.loads(body)
    assert (status, document["error"]["code"]) == (404, "not_found"), body[:300]
    assert "GET /, POST /detect, POST /uploads, GET /results/{request_id}" in document["error"]["message"]
    assert headers["access-control-allow-origin"] == "*"


def test_accept_image_png_answers_the_annotated_picture(stack, dog_file):
    """`curl -o out.png -H 'Accept: image/png'`: the PNG Darknet draws, as bytes, dog.jpg's size."""
    status, headers, body = curl(
        "-H", "Accept: image/png", "-H", "Content-Type: image/jpeg", "--data-binary", f"@{dog_file}",
        stack.api_url,
    )  # fmt: skip
    assert status == 200, body[:300]
    assert headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(body))
    assert (picture.format, picture.size) == ("PNG", (768, 576))


def test_the_root_serves_a_page(stack):
    status, headers, body = curl(api_root(stack))
    assert status == 200, body[:300]
    assert headers["content-type"].startswith("text/html")
