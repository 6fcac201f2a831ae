"""The HTTP layer: request bodies as real clients send them, Accept as HTTP defines it, and each domain
error mapped to one status and code, on API Gateway REST proxy events and a stand-in engine."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from dataclasses import dataclass, replace

import boto3
import pytest
from botocore.config import Config
from lambda_events import response_headers
from moto import mock_aws
from PIL import Image
from support import corpus
from support.stand_in import StandInEngine

from darknet_detector.contract import (
    ANNOTATION_EXTENSIONS,
    ARCHIVE_MEDIA_TYPES,
    BINARY_MEDIA_TYPES,
    CORS_ORIGINS_ENV,
    EVENT_ENVELOPE_RESERVE_BYTES,
    FORMAT_NAMES,
    LAMBDA_SYNC_PAYLOAD_BYTES,
    OUTPUT_FILES,
    RESULT_IMAGE,
    RESULT_TEXT,
    SUPPORTED_FORMATS,
    SUPPORTED_NAMES,
    SYNC_BODY_LIMIT_BYTES,
    result_json_key,
    time_ordered_id_millis,
)
from darknet_detector.core import pipeline as service
from darknet_detector.core.settings import Settings
from darknet_detector.serving import http_api

BUCKET = "detector-bucket"


@dataclass
class Context:
    aws_request_id: str
    function_name: str = "detector"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:detector"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(output_bucket=BUCKET, work_root=tmp_path)


@pytest.fixture
def s3_client():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def call(settings, api_event, s3_client):
    """POST body with headers; returns (status, headers, decoded body) and what was sent async."""
    sent: list[dict] = []

    def s3():
        return s3_client

    def post(body: bytes, headers: dict | None = None, *, settings_=None, event=None):
        event = event or api_event(body, headers)
        detector = http_api.Detector(StandInEngine, settings_ or settings, sent.append, s3)
        request_id = str(uuid.uuid4())
        response = http_api.resolve(event, Context(request_id), detector)
        flat = response_headers(response)
        body = (
            base64.b64decode(response["body"]) if response["isBase64Encoded"] else response["body"].encode()
        )
        assert flat["X-Request-Id"] == request_id
        return response["statusCode"], flat, body

    post.sent = sent
    return post


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


def multipart(
    parts: list[tuple[str, str | None, bytes]], boundary: str = "----form7MA4YWxk"
) -> tuple[bytes, str]:
    """A multipart/form-data body as browsers and `curl -F` build it: (name, filename or None, bytes)."""
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        head += "Content-Type: image/jpeg\r\n\r\n" if filename else "\r\n"
        chunks.append(head.encode() + data + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_raw_jpeg_gets_the_json_document(call, small_jpeg):
    status, headers, body = call(small_jpeg)
    document = json.loads(body)
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert document["schema_version"] == 1 and document["request_id"] == headers["X-Request-Id"]
    assert document["detections"][0]["class"] == "dog"


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "image/png", "application/octet-stream", "IMAGE/JPEG"]
)
def test_any_image_type_or_octet_stream_is_a_raw_image(call, small_jpeg, content_type):
    assert call(small_jpeg, {"Content-Type": content_type})[0] == 200


def test_curl_data_binary_without_a_type_is_taken_when_the_bytes_are_an_image(call, small_jpeg):
    """curl --data-binary @photo.jpg labels the photo application/x-www-form-urlencoded."""
    assert call(small_jpeg, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200


def test_a_request_without_content_type_is_taken_when_the_bytes_are_an_image(call, small_jpeg, api_event):
    event = api_event(small_jpeg)
    del event["headers"]["Content-Type"], event["multiValueHeaders"]["Content-Type"]
    assert call(b"", event=event)[0] == 200


def test_the_first_file_of_a_multipart_form_is_the_image(call, small_jpeg):
    body, content_type = multipart([("threshold", None, b"0.3"), ("image", "photo.jpg", small_jpeg)])
    status, _, answer = call(body, {"Content-Type": content_type})
    assert status == 200, answer
    assert json.loads(answer)["detections"]


def test_multipart_keeps_every_byte_of_a_binary_file(call, small_jpeg):
    """CR and LF bytes inside the file must survive the MIME parser untouched."""
    image = small_jpeg[:-2] + b"\r\n\n\r--\r\n" * 50 + b"\xff\xd9"
    body, content_type = multipart([("image", "photo.jpg", image)])
    event_body, fields = http_api.multipart_file(body, content_type)
    assert (event_body, fields) == (image, {})
    assert call(body, {"Content-Type": content_type})[0] == 200


def test_a_multipart_form_without_a_file_says_which_fields_arrived(call):
    body, content_type = multipart([("threshold", None, b"0.3"), ("note", None, b"hello")])
    status, _, answer = call(body, {"Content-Type": content_type})
    error = error_of(answer)
    assert (status, error["code"]) == (400, "no_file_part")
    assert "threshold, note" in error["message"] and "curl -F image=@photo.jpg" in error["message"]


def test_a_multipart_type_without_a_boundary_is_refused(call):
    status, _, answer = call(b"--x\r\n\r\nhello\r\n--x--\r\n", {"Content-Type": "multipart/form-data"})
    assert (status, error_of(answer)["code"]) == (400, "bad_multipart")


@pytest.mark.parametrize("prefix", ["", "data:image/jpeg;base64,"])
def test_a_json_body_carries_the_image_in_base64(call, small_jpeg, prefix):
    body = json.dumps({"image": prefix + base64.b64encode(small_jpeg).decode()}).encode()
    assert call(body, {"Content-Type": "application/json"})[0] == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "bad_json"),
        (b'{"picture": "abc"}', "bad_json"),
        (b'["image"]', "bad_json"),
        (b'{"image": "***"}', "bad_base64"),
    ],
    ids=["unparsable", "no-image-field", "not-an-object", "not-base64"],
)
def test_bad_json_bodies_say_how_to_send_an_image(call, body, code):
    status, _, answer = call(body, {"Content-Type": "application/json; charset=utf-8"})
    error = error_of(answer)
    assert (status, error["code"]) == (400, code)
    assert '"image"' in error["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "arrived"),
    [
        (b"name=photo&size=12", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        (b"hello, this is text", "text/plain", "text/plain"),
        (b"<html></html>", "text/html; charset=utf-8", "text/html"),
        (b"hello", "", "no Content-Type"),
    ],
    ids=["form", "text", "html", "no-type"],
)
def test_text_and_form_bodies_are_415_saying_what_arrived_and_how_to_send(call, body, content_type, arrived):
    status, _, answer = call(body, {"Content-Type": content_type})
    error = error_of(answer)
    assert (status, error["code"]) == (415, "unsupported_media_type")
    assert arrived in error["message"] and f"{len(body)} bytes" in error["message"]
    assert "--data-binary @photo.jpg -H 'Content-Type: image/jpeg'" in error["message"]


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "application/json", "multipart/form-data; boundary=x"]
)
def test_an_empty_body_is_400_whatever_its_type(call, content_type):
    status, _, answer = call(b"", {"Content-Type": content_type})
    assert (status, error_of(answer)["code"]) == (400, "empty_body")
    assert "curl -F" in error_of(answer)["message"]


def test_a_body_marked_base64_that_does_not_decode_is_400(call, api_event):
    event = api_event(b"x")
    event["body"] = "***not base64***"
    status, _, answer = call(b"", event=event)
    assert (status, error_of(answer)["code"]) == (400, "bad_request")


def tar_members(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as opened:
        return sorted(opened.getnames())


@pytest.mark.parametrize(
    ("accept", "answered"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/json", "application/json"),
        ("application/gzip", "application/gzip"),
        ("application/x-gzip", "application/x-gzip"),
        ("application/json, application/gzip", "application/json"),
        ("application/gzip, application/json", "application/json"),
        ("application/gzip;q=0.9, application/json;q=0.1", "application/gzip"),
        ("application/gzip;q=0, */*", "application/json"),
        ("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", "application/json"),
        ("APPLICATION/GZIP", "application/gzip"),
    ],
)
def test_accept_is_negotiated_by_q_values_lists_and_wildcards(call, small_jpeg, accept, answered):
    status, headers, body = call(small_jpeg, {"Accept": accept} if accept else {})
    assert (status, headers["Content-Type"]) == (200, answered), body[:200]
    if answered == "application/json":
        assert json.loads(body)["status"] == "ok"
    else:
        assert tar_members(body) == [RESULT_IMAGE, RESULT_TEXT]


@pytest.mark.parametrize(
    "accept",
    [
        "application/gzip;q=0",
        "text/html",
        "image/jpeg",
        "application/json;q=0, application/gzip;q=0, image/png;q=0",
    ],
)
def test_accept_nothing_served_is_406(call, small_jpeg, accept):
    status, _, body = call(small_jpeg, {"Accept": accept})
    error = error_of(body)
    assert (status, error["code"]) == (406, "not_acceptable")
    assert "application/json" in error["message"] and "image/png" in error["message"]


@pytest.mark.parametrize("accept", ["image/png", "image/*", "image/png, application/json;q=0.5"])
def test_accept_image_png_answers_the_annotated_picture(call, small_jpeg, accept):
    """What `curl -o out.png -H 'Accept: image/png'` and a browser's <img> want: the PNG alone, the
    engine's image-result.png byte for byte (the stand-in draws its copy of the input; the real engine's
    PNG is checked on LocalStack, tests/e2e/test_http_path.py)."""
    status, headers, body = call(small_jpeg, {"Accept": accept})
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert body == small_jpeg
    assert headers["Content-Disposition"] == f'inline; filename="{headers["X-Request-Id"]}.png"'


def test_a_png_over_lambda_s_response_limit_is_answered_with_links(call, s3_client, small_jpeg, monkeypatch):
    monkeypatch.setattr(service, "SYNC_ANSWER_LIMIT_BYTES", 10)
    status, headers, body = call(small_jpeg, {"Accept": "image/png"})
    answer = json.loads(body)
    assert (status, headers["Content-Type"], answer["status"]) == (200, "application/json", "stored")
    assert answer["message"].startswith("the PNG (")
    assert set(answer["links"]) == {"image", "text", "json"}


def test_a_tar_gz_that_accept_lists_after_a_text_type_is_406_saying_put_it_first(call, small_jpeg):
    """API Gateway decodes base64 only when Accept's first type is binary: the answer would be text."""
    status, _, body = call(small_jpeg, {"Accept": "application/json;q=0.1, application/gzip"})
    error = error_of(body)
    assert (status, error["code"]) == (406, "not_acceptable")
    assert "send Accept: application/gzip" in error["message"]


def test_an_accept_header_that_does_not_parse_is_400(call, small_jpeg):
    status, _, body = call(small_jpeg, {"Accept": "gzip please"})
    assert (status, error_of(body)["code"]) == (400, "bad_accept")


def test_every_binary_type_answered_is_a_binary_media_type_of_the_api():
    assert all(http_api.is_binary_media_type(media) for media in ARCHIVE_MEDIA_TYPES)
    assert http_api.is_binary_media_type("image/heic") and not http_api.is_binary_media_type("text/plain")
    assert "*/*" not in BINARY_MEDIA_TYPES  # LocalStack ignores it, and it would make every body base64


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"plain text, not an image" * 10, 415, "not_an_image"),
        (b"%PDF-1.7\n" + bytes(64), 415, "unsupported_type"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64), 400, "corrupt_image"),
    ],
    ids=["text", "pdf", "broken-webp"],
)
def test_domain_image_errors_map_to_one_status_and_code(call, body, status, code):
    answered, _, answer = call(body, {"Content-Type": "image/jpeg"})
    assert (answered, error_of(answer)["code"]) == (status, code)


def test_a_truncated_jpeg_is_400(call, small_jpeg):
    status, _, answer = call(small_jpeg[: len(small_jpeg) // 2])
    assert (status, error_of(answer)["code"]) == (400, "truncated_image")


def test_too_many_bytes_is_413_naming_the_limit_and_the_s3_path(call, settings, small_jpeg):
    small = Settings(output_bucket=BUCKET, work_root=settings.work_root, max_http_image_bytes=100)
    status, _, answer = call(small_jpeg, settings_=small)
    error = error_of(answer)
    assert (status, error["code"]) == (413, "too_large")
    assert "100 bytes" in error["message"] and f"s3://{BUCKET}/input/" in error["message"]
    assert "POST /uploads" in error["message"]


def test_too_many_pixels_is_413_without_sending_the_client_to_s3(call, settings, encode_image):
    """The S3 path has the same memory: pointing there would only move the refusal."""
    small = Settings(output_bucket=BUCKET, work_root=settings.work_root, max_pixels=100)
    status, _, answer = call(encode_image("PNG", (200, 100)), {"Content-Type": "image/png"}, settings_=small)
    error = error_of(answer)
    assert (status, error["code"]) == (413, "too_large")
    assert "200x100" in error["message"] and "s3://" not in error["message"]
    assert "/uploads" not in error["message"]


def test_async_answers_202_with_where_the_results_will_be(call, small_jpeg):
    status, headers, body = call(small_jpeg, {"X-Amz-Invocation-Type": "Event"})
    accepted = json.loads(body)
    request_id = accepted["request_id"]
    assert (status, accepted["status"]) == (202, "accepted")
    assert time_ordered_id_millis(request_id) is not None, "GET /results can tell it pending"
    assert request_id != headers["X-Request-Id"], "the invocation keeps its own id"
    assert accepted["location"] == f"s3://{BUCKET}/output/{request_id}/"
    assert accepted["result"] == f"s3://{BUCKET}/output/{request_id}/result.json"
    assert (
        accepted["result_url"]
        == f"https://abc123.execute-api.us-east-1.amazonaws.com/prod/results/{request_id}"
    )
    (job,) = call.sent
    assert job["darknet_job"]["request_id"] == request_id


def test_the_result_url_keeps_the_scheme_the_client_called_in_lower_case(call, small_jpeg):
    """A proxy may forward the scheme in upper case (LocalStack's gateway sends HTTP): URLs want it lower."""
    _, _, body = call(small_jpeg, {"X-Amz-Invocation-Type": "Event", "X-Forwarded-Proto": "HTTP"})
    assert json.loads(body)["result_url"].startswith("http://abc123.execute-api.us-east-1.amazonaws.com/")


def test_async_without_an_output_bucket_is_501(call, tmp_path, small_jpeg):
    status, _, body = call(
        small_jpeg, {"X-Amz-Invocation-Type": "Event"}, settings_=Settings(work_root=tmp_path)
    )
    assert (status, error_of(body)["code"]) == (501, "async_unavailable")
    assert call.sent == []


@pytest.mark.parametrize(
    ("body", "content_type", "named"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "a PDF file, not an image"),
        (b"\xff\xd8\xff\xe0 a jpeg", "application/pdf", "a JPEG image sent as application/pdf"),
        (b"just words", "application/msword", "not an image"),
    ],
    ids=["pdf", "jpeg-labelled-pdf", "word"],
)
def test_a_document_with_its_own_type_is_415_listing_the_formats_the_decoder_reads(
    call, body, content_type, named
):
    status, _, answer = call(body, {"Content-Type": content_type})
    error = error_of(answer)
    assert (status, error["code"]) == (415, "unsupported_media_type")
    assert named in error["message"]
    assert SUPPORTED_NAMES in error["message"]
    assert all(FORMAT_NAMES.get(kind, kind.upper()) in error["message"] for kind in SUPPORTED_FORMATS)


@pytest.mark.parametrize("kind", SUPPORTED_FORMATS)
def test_every_format_the_answers_name_is_one_a_photo_is_detected_from(call, kind):
    """SUPPORTED_NAMES, the list every "not an image" answer gives, names each format the decoder reads."""
    assert FORMAT_NAMES.get(kind, kind.upper()) in SUPPORTED_NAMES.replace(" or ", ", ").split(", ")
    photo = corpus.encode(Image.new("RGB", (64, 48), (200, 120, 40)), kind.upper())
    status, _, body = call(photo, {"Content-Type": "application/octet-stream"})
    assert status == 200, body[:300]


# --- CORS on the function's answers (API Gateway answers the preflight itself) ----------------------


ORIGIN = "https://viewer.example.com"


@pytest.mark.parametrize(
    ("setting", "origin", "allowed", "vary"),
    [
        ("*", ORIGIN, "*", None),
        (f"{ORIGIN},http://localhost:8080", ORIGIN, ORIGIN, "Origin"),
        (f"http://localhost:8080, {ORIGIN}", ORIGIN, ORIGIN, "Origin"),
        ("http://localhost:8080", ORIGIN, None, None),
        ("", ORIGIN, None, None),
        ("*", None, None, None),
    ],
    ids=["any", "listed", "listed-second", "unlisted", "none-set", "no-origin"],
)
@pytest.mark.parametrize("outcome", ["200", "415"])
def test_every_answer_carries_cors_for_the_stack_s_origins(
    call, small_jpeg, monkeypatch, setting, origin, allowed, vary, outcome
):
    monkeypatch.setenv(CORS_ORIGINS_ENV, setting)
    headers = {"Origin": origin} if origin else {}
    if outcome == "200":
        status, answered, _ = call(small_jpeg, headers)
    else:
        status, answered, _ = call(b"%PDF-1.7", {"Content-Type": "application/pdf", **headers})
    assert status == int(outcome)
    assert answered.get("Access-Control-Allow-Origin") == allowed
    assert answered.get("Vary") == vary
    if allowed:
        assert "X-Request-Id" in answered["Access-Control-Expose-Headers"]


def test_an_unknown_route_is_404_naming_the_routes(call, api_event, small_jpeg):
    event = api_event(small_jpeg)
    event["path"] = event["resource"] = "/elsewhere"
    status, _, body = call(b"", event=event)
    error = error_of(body)
    assert (status, error["code"]) == (404, "not_found")
    assert "POST /detect" in error["message"]


def test_the_synchronous_body_limit_is_what_fits_lambda_s_payload_after_base64_and_the_envelope():
    assert Settings().max_http_image_bytes == SYNC_BODY_LIMIT_BYTES
    base64_size = 4 * -(-SYNC_BODY_LIMIT_BYTES // 3)
    assert base64_size + EVENT_ENVELOPE_RESERVE_BYTES <= LAMBDA_SYNC_PAYLOAD_BYTES
    assert 4 * -(-(SYNC_BODY_LIMIT_BYTES + 3) // 3) + EVENT_ENVELOPE_RESERVE_BYTES > LAMBDA_SYNC_PAYLOAD_BYTES


def test_a_json_body_over_the_limit_is_413_though_its_image_would_fit(call, settings, small_jpeg):
    """The body, not the image inside it, is what must fit the event."""
    body = json.dumps({"image": base64.b64encode(small_jpeg).decode()}).encode()
    small = Settings(
        output_bucket=BUCKET, work_root=settings.work_root, max_http_image_bytes=len(small_jpeg) + 10
    )
    status, _, answer = call(body, {"Content-Type": "application/json"}, settings_=small)
    assert (status, error_of(answer)["code"]) == (413, "too_large")


def test_a_tar_gz_over_lambda_s_response_limit_is_answered_with_links(
    call, s3_client, small_jpeg, monkeypatch
):
    monkeypatch.setattr(service, "SYNC_ANSWER_LIMIT_BYTES", 10)
    status, headers, body = call(small_jpeg, {"Accept": "application/gzip"})
    answer = json.loads(body)
    request_id = headers["X-Request-Id"]
    assert (status, headers["Content-Type"], answer["status"]) == (200, "application/json", "stored")
    assert f"output/{request_id}/" in answer["message"]
    assert set(answer["links"]) == {"image", "text", "json"}
    stored = s3_client.get_object(Bucket=BUCKET, Key=f"output/{request_id}/result.json")["Body"].read()
    assert json.loads(stored)["request_id"] == request_id


# A stack with its own prefixes: every answer names them, never the defaults input/ and output/.
OWN_PREFIXES = {"input_prefix": "inbox/", "output_prefix": "results/"}


@pytest.mark.parametrize("accept", ["application/gzip", "image/png"])
def test_a_stored_answer_names_the_stack_s_own_output_prefix(
    call, s3_client, tmp_path, small_jpeg, monkeypatch, accept
):
    monkeypatch.setattr(service, "SYNC_ANSWER_LIMIT_BYTES", 10)
    own = Settings(output_bucket=BUCKET, work_root=tmp_path, **OWN_PREFIXES)
    status, headers, body = call(small_jpeg, {"Accept": accept}, settings_=own)
    answer, request_id = json.loads(body), headers["X-Request-Id"]
    assert (status, answer["status"]) == (200, "stored")
    assert f"under results/{request_id}/," in answer["message"]
    assert "output/" not in answer["message"] and "input/" not in answer["message"]
    stored = s3_client.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert {item["Key"] for item in stored} == {f"results/{request_id}/{name}" for name in OUTPUT_FILES}


def test_an_async_answer_names_the_stack_s_own_output_prefix(call, tmp_path, small_jpeg):
    own = Settings(output_bucket=BUCKET, work_root=tmp_path, **OWN_PREFIXES)
    status, _, body = call(small_jpeg, {"X-Amz-Invocation-Type": "Event"}, settings_=own)
    accepted = json.loads(body)
    assert status == 202
    assert accepted["location"] == f"s3://{BUCKET}/results/{accepted['request_id']}/"
    assert accepted["result"] == f"s3://{BUCKET}/{result_json_key('results/', accepted['request_id'])}"
    assert "output/" not in body.decode() and "input/" not in body.decode()


def test_a_tar_gz_over_the_limit_without_a_bucket_is_406_asking_for_json(
    call, tmp_path, small_jpeg, monkeypatch
):
    monkeypatch.setattr(service, "SYNC_ANSWER_LIMIT_BYTES", 10)
    status, _, body = call(small_jpeg, {"Accept": "application/gzip"}, settings_=Settings(work_root=tmp_path))
    assert (status, error_of(body)["code"]) == (406, "answer_too_large")


# --- per-request options ---------------------------------------------------------------------------


def with_query(event: dict, query: dict[str, list[str]]) -> dict:
    """The event with a query string as API Gateway passes it: the last value of each name, and all."""
    event["queryStringParameters"] = {name: values[-1] for name, values in query.items()}
    event["multiValueQueryStringParameters"] = query
    return event


def detected(body: bytes) -> list[str]:
    return [detection["class"] for detection in json.loads(body)["detections"]]


def test_without_options_the_stack_s_threshold_and_every_class_apply_and_are_echoed(call, small_jpeg):
    status, _, body = call(small_jpeg)
    document = json.loads(body)
    assert (status, detected(body)) == (200, ["dog"])
    assert (
        document["options"] == {"threshold": 0.5, "classes": None, "tiles": "off"}
        and document["threshold"] == 0.5
    )


@pytest.mark.parametrize(
    "query",
    [{"threshold": ["0.25"]}, {"threshold": [" 0.25 "]}, {"threshold": ["0.25", "0.25"]}],
    ids=["plain", "spaces", "repeated-same"],
)
def test_a_threshold_in_the_query_string_is_used_and_echoed(call, api_event, small_jpeg, query):
    status, _, body = call(b"", event=with_query(api_event(small_jpeg), query))
    document = json.loads(body)
    assert (status, detected(body)) == (200, ["dog", "person"]), body
    assert document["threshold"] == 0.25 and document["options"] == {
        "threshold": 0.25,
        "classes": None,
        "tiles": "off",
    }
    assert "person: 30%" in document["result_out"]


@pytest.mark.parametrize(
    "query",
    [{"classes": ["person"]}, {"classes": ["person,car"]}, {"classes": ["Person", "car"]}],
    ids=["one", "comma-list", "repeated-any-case"],
)
def test_a_class_filter_in_the_query_string_keeps_only_those_classes(call, api_event, small_jpeg, query):
    event = with_query(api_event(small_jpeg), {"threshold": ["0.2"], **query})
    status, _, body = call(b"", event=event)
    document = json.loads(body)
    assert (status, detected(body)) == (200, ["person"]), body
    assert document["options"]["classes"] in (["person"], ["car", "person"])
    assert "dog" not in document["result_out"]


def test_options_as_multipart_form_fields(call, small_jpeg):
    body, content_type = multipart(
        [("threshold", None, b"0.25"), ("classes", None, b"dog"), ("image", "photo.jpg", small_jpeg)]
    )
    status, _, answer = call(body, {"Content-Type": content_type})
    assert (status, detected(answer)) == (200, ["dog"])
    assert json.loads(answer)["options"] == {"threshold": 0.25, "classes": ["dog"], "tiles": "off"}


@pytest.mark.parametrize(
    ("options", "found"),
    [
        ({"threshold": 0.25}, ["dog", "person"]),
        ({"threshold": "0.25", "classes": "person"}, ["person"]),
        ({"threshold": 0.25, "classes": ["person", "dog"]}, ["dog", "person"]),
    ],
    ids=["number", "strings", "list"],
)
def test_options_beside_the_image_of_a_json_body(call, small_jpeg, options, found):
    body = json.dumps({"image": base64.b64encode(small_jpeg).decode(), **options}).encode()
    status, _, answer = call(body, {"Content-Type": "application/json"})
    assert (status, detected(answer)) == (200, found), answer


def test_options_reach_the_tar_gz_s_result_out(call, api_event, small_jpeg):
    event = with_query(api_event(small_jpeg, {"Accept": "application/gzip"}), {"classes": ["person"]})
    event["multiValueQueryStringParameters"]["threshold"] = ["0.1"]
    status, _, body = call(b"", event=event)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as opened:
        text = opened.extractfile(RESULT_TEXT).read().decode()
    assert status == 200 and "person: 30%" in text and "dog" not in text


@pytest.mark.parametrize(
    ("where", "value", "code", "says"),
    [
        ("query", "1.5", "bad_threshold", "must be above 0 and below 1"),
        ("query", "0", "bad_threshold", "must be above 0 and below 1"),
        ("query", "1", "bad_threshold", "must be above 0 and below 1"),
        ("query", "-0.1", "bad_threshold", "must be above 0 and below 1"),
        ("query", "nan", "bad_threshold", "is not a number"),
        ("query", "high", "bad_threshold", "is not a number"),
        ("query", "", "bad_threshold", "is not a number"),
        ("form", "2", "bad_threshold", "must be above 0 and below 1"),
        ("json", True, "bad_threshold", "is not a number"),
        ("json", [0.3], "bad_threshold", "is not a number"),
        ("json", 1.0, "bad_threshold", "must be above 0 and below 1"),
    ],
)
def test_a_bad_threshold_is_400_saying_the_valid_range(call, api_event, small_jpeg, where, value, code, says):
    if where == "query":
        status, _, body = call(b"", event=with_query(api_event(small_jpeg), {"threshold": [value]}))
    elif where == "form":
        form, content_type = multipart(
            [("threshold", None, str(value).encode()), ("image", "a.jpg", small_jpeg)]
        )
        status, _, body = call(form, {"Content-Type": content_type})
    else:
        document = {"image": base64.b64encode(small_jpeg).decode(), "threshold": value}
        status, _, body = call(json.dumps(document).encode(), {"Content-Type": "application/json"})
    error = error_of(body)
    assert (status, error["code"]) == (400, code), error
    assert says in error["message"] and "?threshold=0.25" in error["message"]


def test_two_different_thresholds_are_400(call, api_event, small_jpeg):
    form, content_type = multipart([("threshold", None, b"0.3"), ("image", "a.jpg", small_jpeg)])
    event = with_query(api_event(form, {"Content-Type": content_type}), {"threshold": ["0.4"]})
    status, _, body = call(b"", event=event)
    error = error_of(body)
    assert (status, error["code"]) == (400, "bad_threshold")
    assert "more than once" in error["message"]


@pytest.mark.parametrize(
    ("classes", "named"),
    [(["cat"], "'cat' is not a class"), (["dog,unicorn,cat"], "'unicorn', 'cat' are not classes")],
)
def test_an_unknown_class_is_400_naming_it_and_some_valid_names(call, api_event, small_jpeg, classes, named):
    status, _, body = call(b"", event=with_query(api_event(small_jpeg), {"classes": classes}))
    error = error_of(body)
    assert (status, error["code"]) == (400, "unknown_class"), error
    assert named in error["message"] and "person, bicycle, car" in error["message"]


@pytest.mark.parametrize("classes", [[1, 2], {"dog": True}, [None]])
def test_json_classes_that_are_not_names_are_400(call, small_jpeg, classes):
    document = {"image": base64.b64encode(small_jpeg).decode(), "classes": classes}
    status, _, body = call(json.dumps(document).encode(), {"Content-Type": "application/json"})
    assert (status, error_of(body)["code"]) == (400, "bad_classes")


def test_an_unknown_query_parameter_is_400_not_silently_ignored(call, api_event, small_jpeg):
    status, _, body = call(b"", event=with_query(api_event(small_jpeg), {"thresh": ["0.1"]}))
    error = error_of(body)
    assert (status, error["code"]) == (400, "unknown_parameter")
    assert "thresh" in error["message"] and "threshold, classes" in error["message"]


def test_a_class_filter_on_the_darknet_engine_is_400(call, api_event, small_jpeg, monkeypatch):
    monkeypatch.setattr(StandInEngine, "name", "darknet")
    status, _, body = call(b"", event=with_query(api_event(small_jpeg), {"classes": ["dog"]}))
    assert (status, error_of(body)["code"]) == (400, "option_unsupported")


def test_async_requests_carry_their_options_into_the_job(call, api_event, small_jpeg):
    event = with_query(
        api_event(small_jpeg, {"X-Amz-Invocation-Type": "Event"}),
        {"threshold": ["0.2"], "classes": ["person"]},
    )
    status, _, body = call(b"", event=event)
    options = {"threshold": 0.2, "classes": ["person"], "tiles": "off"}
    assert (status, json.loads(body)["options"]) == (202, options)
    (job,) = call.sent
    assert job["darknet_job"]["options"] == options


def test_a_bad_option_on_an_async_request_is_400_and_sends_nothing(call, api_event, small_jpeg):
    event = with_query(api_event(small_jpeg, {"X-Amz-Invocation-Type": "Event"}), {"threshold": ["5"]})
    status, _, body = call(b"", event=event)
    assert (status, error_of(body)["code"]) == (400, "bad_threshold") and call.sent == []


def test_the_detector_serves_the_viewer_when_the_api_has_no_uploads_function(settings, api_event):
    """GET / goes to the detector when no uploads function exists: it answers the same page."""
    event = {**api_event(b""), "httpMethod": "GET", "path": "/", "resource": "/", "body": None}
    detector = http_api.Detector(StandInEngine, settings, lambda job: None, lambda: None)
    response = http_api.resolve(event, Context("viewer-request"), detector)
    headers = response_headers(response)
    assert response["statusCode"] == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["X-Request-Id"] == "viewer-request"
    assert "<title>" in response["body"] and "__VIEWER_CONFIG__" not in response["body"]


# ------------------------------------------------------------------------------- annotation formats
@pytest.mark.parametrize(
    ("name", "media"), [("coco", "application/json"), ("yolo", "text/plain"), ("voc", "application/xml")]
)
def test_format_answers_one_image_in_that_format_with_its_media_type(
    call, api_event, small_jpeg, name, media
):
    status, headers, body = call(b"", event=with_query(api_event(small_jpeg), {"format": [name.upper()]}))
    assert (status, headers["Content-Type"]) == (200, f"{media}; charset=utf-8"), body
    request_id = headers["X-Request-Id"]
    assert headers["Content-Disposition"] == f'inline; filename="{request_id}{ANNOTATION_EXTENSIONS[name]}"'
    # the stand-in's dog: pixels 1..3 x 2..4 of a 64 x 48 image, class 8 of its names
    expected = {
        "coco": lambda text: json.loads(text)["annotations"][0]["bbox"] == [1, 2, 3, 3],
        # centre (1 + 3/2) / 64, (2 + 3/2) / 48; size 3/64, 3/48
        "yolo": lambda text: text == "8 0.039062 0.072917 0.046875 0.062500\n",
        "voc": lambda text: (
            "<xmin>2</xmin>" in text and "<ymax>5</ymax>" in text and "<name>dog</name>" in text
        ),
    }
    assert expected[name](body.decode()), body


@pytest.mark.parametrize("value", [["csv"], ["coco", "yolo"], [""]], ids=["unknown", "two", "empty"])
def test_a_format_that_is_not_one_of_the_three_is_400_naming_them(call, api_event, small_jpeg, value):
    status, _, body = call(b"", event=with_query(api_event(small_jpeg), {"format": value}))
    error = error_of(body)
    assert (status, error["code"]) == (400, "bad_format")
    assert "format=coco|yolo|voc" in error["message"]


def test_a_format_with_an_async_request_is_400_and_sends_nothing(call, api_event, small_jpeg):
    event = with_query(api_event(small_jpeg, {"X-Amz-Invocation-Type": "Event"}), {"format": ["coco"]})
    status, _, body = call(b"", event=event)
    assert (status, error_of(body)["code"]) == (400, "bad_format") and call.sent == []
    assert "darknet-lambda export" in error_of(body)["message"]


@pytest.mark.parametrize(
    ("accept", "status"),
    [("application/xml", 200), ("*/*", 200), ("application/*;q=0.5, image/png", 200), ("image/png", 406)],
)
def test_accept_must_admit_the_format_s_media_type(call, api_event, small_jpeg, accept, status):
    event = with_query(api_event(small_jpeg, {"Accept": accept}), {"format": ["voc"]})
    answered, _, body = call(b"", event=event)
    assert answered == status, body
    if status == 406:
        assert error_of(body)["code"] == "not_acceptable" and "application/xml" in error_of(body)["message"]


@pytest.mark.parametrize(
    ("where", "value", "used"),
    [
        ("query", "auto", "auto"),
        ("query", " 3X2 ", "3x2"),
        ("form", "640:0.25", "640:0.25"),
        ("json", "auto:0.3", "auto:0.3"),
        ("json", 640, "640"),
        ("query", "off", "off"),
    ],
)
def test_tiles_are_taken_wherever_threshold_is_and_echoed(call, api_event, small_jpeg, where, value, used):
    status, _, body = call_with_option(call, api_event, small_jpeg, where, "tiles", value)
    assert status == 200, body
    assert json.loads(body)["options"]["tiles"] == used


def test_the_stack_s_tiles_apply_when_the_request_sets_none(call, settings, small_jpeg):
    status, _, body = call(small_jpeg, settings_=replace(settings, tiles="2x2"))
    assert (status, json.loads(body)["options"]["tiles"]) == (200, "2x2")


@pytest.mark.parametrize(
    ("where", "value", "code", "says"),
    [
        ("query", "sometimes", "bad_tiles", "COLUMNSxROWS"),
        ("form", "0x3", "bad_tiles", "no tiles"),
        ("json", "640:0.9", "bad_tiles", "overlap"),
        ("json", True, "bad_tiles", "COLUMNSxROWS"),
        ("query", "32", "bad_tiles", "below 64"),
        ("query", "10x10", "too_many_tiles", "at most 64"),
    ],
)
def test_bad_tiles_are_400_with_their_code(call, api_event, small_jpeg, where, value, code, says):
    status, _, body = call_with_option(call, api_event, small_jpeg, where, "tiles", value)
    error = error_of(body)
    assert (status, error["code"]) == (400, code), error
    assert says in error["message"] and "tiles=auto" in error["message"]


def test_two_different_tilings_are_400(call, api_event, small_jpeg):
    form, content_type = multipart([("tiles", None, b"auto"), ("image", "a.jpg", small_jpeg)])
    event = with_query(api_event(form, {"Content-Type": content_type}), {"tiles": ["3x2"]})
    status, _, body = call(b"", event=event)
    assert (status, error_of(body)["code"]) == (400, "bad_tiles")


def call_with_option(call, api_event, image: bytes, where: str, name: str, value):
    """POST image with one option in the query string, a form field or the JSON body."""
    if where == "query":
        return call(b"", event=with_query(api_event(image), {name: [str(value)]}))
    if where == "form":
        form, content_type = multipart([(name, None, str(value).encode()), ("image", "a.jpg", image)])
        return call(form, {"Content-Type": content_type})
    document = {"image": base64.b64encode(image).decode(), name: value}
    return call(json.dumps(document).encode(), {"Content-Type": "application/json"})
