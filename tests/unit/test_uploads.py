"""Uploads and results: the time-ordered ids and the upload key rule the detector shares, the POST
policy's exact conditions, result look-ups (done, pending, unknown, malformed) and the routes' answers,
on API Gateway REST proxy events and S3 on moto."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_events import make_api_event, response_headers
from moto import mock_aws
from support import ROOT

from darknet_detector.contract import (
    CORS_ORIGINS_ENV,
    S3_IMAGE_LIMIT_BYTES,
    UPLOAD_URL_SECONDS,
    mint_time_ordered_id,
    new_time_ordered_id,
    object_request_id,
    request_id_of_object,
    time_ordered_id_millis,
    upload_key,
    upload_name,
)
from darknet_detector.core.presigned import (
    MalformedRequestId,
    UploadRequestError,
    UploadsSettings,
    look_up_result,
    presign_upload,
)
from darknet_detector.core.settings import Settings
from darknet_detector.serving import uploads_api
from darknet_detector.serving.events import parse_s3_event

BUCKET = "detector-bucket"
NOW_MS = 1_790_000_000_000  # 2026-09-21
SETTINGS = UploadsSettings(BUCKET, "input/", "output/", result_window_seconds=UPLOAD_URL_SECONDS + 120)
CONTAINER = ROOT / "container"


@dataclass
class Context:
    aws_request_id: str = "7d6a4d1e-0000-4000-8000-000000000001"
    function_name: str = "uploads"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:uploads"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=BUCKET)
        yield client


def policy_of(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def route_event(method: str, path: str, body: str | bytes | None = None, **headers: str) -> dict:
    """An API Gateway REST proxy event for one of the uploads function's routes."""
    raw = body.encode() if isinstance(body, str) else body or b""
    event = make_api_event(raw, {"Content-Type": "application/json", **headers}, base64_encoded=False)
    resource = "/results/{request_id}" if path.startswith("/results/") else path
    event.update(
        resource=resource, path=path, httpMethod=method, body=body if isinstance(body, str) else None
    )
    event["requestContext"].update(httpMethod=method, resourcePath=resource, path=f"/prod{path}")
    if path.startswith("/results/"):
        event["pathParameters"] = {"request_id": path.removeprefix("/results/")}
    if isinstance(body, bytes):
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    return event


@pytest.fixture
def call(s3):
    """Sends one event to the routes at NOW_MS; returns (status, flat headers, JSON document)."""

    def send(event: dict, now_ms: int = NOW_MS) -> tuple[int, dict, dict]:
        uploads = uploads_api.Uploads(SETTINGS, lambda: s3, lambda: now_ms)
        response = uploads_api.resolve(event, Context(), uploads)
        return response["statusCode"], response_headers(response), json.loads(response["body"])

    return send


# --- ids and keys (the contract the detector shares) -------------------------------------------


def test_time_ordered_ids_are_uuid7_that_carry_their_minute_and_sort_by_time():
    first, second = mint_time_ordered_id(NOW_MS, 2**74 - 1), mint_time_ordered_id(NOW_MS + 1, 0)
    assert uuid.UUID(first).version == 7 and uuid.UUID(first).variant == uuid.RFC_4122
    assert time_ordered_id_millis(first) == NOW_MS and time_ordered_id_millis(second) == NOW_MS + 1
    assert first < second
    assert time_ordered_id_millis(str(uuid.uuid4())) is None
    assert time_ordered_id_millis(object_request_id(BUCKET, "input/a.jpg", "etag")) is None
    assert new_time_ordered_id() != new_time_ordered_id()


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        (None, "image"),
        ("IMG_1234.HEIC", "IMG_1234.HEIC"),
        ("my holiday/photo (1).jpg", "photo__1_.jpg"),
        ("C:\\Users\\me\\café.png", "caf_.png"),
        ("../../etc/passwd", "passwd"),
        (".hidden", "hidden"),
        ("写真", "image"),
        ("a" * 300 + ".jpg", "a" * 100),
    ],
)
def test_upload_names_keep_what_is_safe_of_the_client_s_file_name(filename, name):
    assert upload_name(filename) == name


def test_an_upload_key_s_request_id_is_its_upload_id_and_any_other_key_keeps_the_etag_id():
    upload_id = mint_time_ordered_id(NOW_MS, 42)
    key = upload_key("input/", upload_id, "photo.jpg")
    assert key == f"input/uploads/{upload_id}/photo.jpg"
    assert request_id_of_object(BUCKET, key, '"etag"', "input/") == upload_id
    for other in (
        f"elsewhere/uploads/{upload_id}/photo.jpg",  # not under the input prefix
        f"input/uploads/{uuid.uuid4()}/photo.jpg",  # not an id the route mints
        f"input/uploads/{upload_id}/sub/photo.jpg",  # not exactly the form
        f"input/uploads/{upload_id}/",
        f"input/photos/uploads/{upload_id}/photo.jpg",
        "input/photo.jpg",
    ):
        assert request_id_of_object(BUCKET, other, '"etag"', "input/") == object_request_id(
            BUCKET, other, "etag"
        )


def test_the_detector_writes_an_upload_s_result_under_the_id_the_route_answered(s3_event):
    upload_id = mint_time_ordered_id(NOW_MS, 7)
    (request,) = parse_s3_event(s3_event(BUCKET, f"input/uploads/{upload_id}/IMG 1.jpg"), "input/")
    assert request.request_id != upload_id, "a name the route would not sign is not an upload key"
    (request,) = parse_s3_event(s3_event(BUCKET, f"input/uploads/{upload_id}/IMG_1.jpg"), "input/")
    assert request.request_id == upload_id


# --- the POST policy ---------------------------------------------------------------------------


def test_the_form_is_bounded_to_one_key_image_types_the_s3_limit_and_a_short_life(s3):
    form = presign_upload(s3, SETTINGS, "IMG_1234.HEIC", None, NOW_MS)
    assert time_ordered_id_millis(form.request_id) == NOW_MS
    assert form.key == f"input/uploads/{form.request_id}/IMG_1234.HEIC"
    assert form.fields["key"] == form.key and form.fields["Content-Type"] == "image/heic"
    assert form.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    policy = policy_of(form.fields)
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions and {"key": form.key} in conditions
    assert ["content-length-range", 1, S3_IMAGE_LIMIT_BYTES] in conditions
    assert ["starts-with", "$Content-Type", "image/"] in conditions
    assert not any(isinstance(c, list) and c[:2] == ["starts-with", "$key"] for c in conditions)
    assert form.expires_in == UPLOAD_URL_SECONDS == 900
    assert form.max_bytes == S3_IMAGE_LIMIT_BYTES == Settings().max_s3_image_bytes
    assert policy["expiration"].endswith("Z")


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("photo.jpg", None, "image/jpeg"),
        ("photo.png", None, "image/png"),
        ("photo.webp", None, "image/webp"),
        ("photo", None, "image/jpeg"),
        ("photo.jpg", "image/avif", "image/avif"),
    ],
)
def test_the_form_fixes_an_image_content_type(s3, filename, content_type, expected):
    assert presign_upload(s3, SETTINGS, filename, content_type, NOW_MS).fields["Content-Type"] == expected


@pytest.mark.parametrize(("filename", "content_type"), [("notes.txt", None), ("photo.jpg", "text/plain")])
def test_a_form_for_what_is_not_an_image_is_refused(s3, filename, content_type):
    with pytest.raises(UploadRequestError) as refused:
        presign_upload(s3, SETTINGS, filename, content_type, NOW_MS)
    assert refused.value.code == "unsupported_type"


# --- result look-ups ---------------------------------------------------------------------------


def test_a_written_result_is_answered_as_written(s3):
    request_id = mint_time_ordered_id(NOW_MS - 10_000_000, 1)  # long past its window: still answered
    document = {"schema_version": 1, "request_id": request_id, "status": "error", "error": {"code": "x"}}
    s3.put_object(Bucket=BUCKET, Key=f"output/{request_id}/result.json", Body=json.dumps(document))
    found = look_up_result(s3, SETTINGS, request_id, NOW_MS)
    assert (found.status, found.document) == ("done", document)


def test_a_missing_result_is_pending_within_the_window_and_unknown_after_or_for_other_ids(s3):
    window_ms = SETTINGS.result_window_seconds * 1000
    fresh = mint_time_ordered_id(NOW_MS - window_ms + 3000, 1)
    assert look_up_result(s3, SETTINGS, fresh, NOW_MS).status == "pending"
    assert look_up_result(s3, SETTINGS, fresh, NOW_MS).retry_after == 3
    stale = mint_time_ordered_id(NOW_MS - window_ms - 1, 1)
    future = mint_time_ordered_id(NOW_MS + 3600_000, 1)
    for unknown in (stale, future, str(uuid.uuid4())):
        assert look_up_result(s3, SETTINGS, unknown, NOW_MS).status == "unknown"


class _DeniedS3:
    """S3 as a role without s3:ListBucket sees a missing object: AccessDenied, not NoSuchKey."""

    exceptions = boto3.client("s3", region_name="us-east-1").exceptions

    def __init__(self, code: str):
        self.code = code

    def get_object(self, **_):
        raise ClientError({"Error": {"Code": self.code, "Message": "denied"}}, "GetObject")


def test_access_denied_reads_as_not_there_and_other_errors_surface():
    fresh = mint_time_ordered_id(NOW_MS, 1)
    assert look_up_result(_DeniedS3("AccessDenied"), SETTINGS, fresh, NOW_MS).status == "pending"
    with pytest.raises(ClientError):
        look_up_result(_DeniedS3("SlowDown"), SETTINGS, fresh, NOW_MS)


@pytest.mark.parametrize("bad", ["nope", "../output/x", "ABCDEF01-2345-7789-8abc-def012345678", "1" * 36])
def test_a_malformed_id_is_refused_before_s3_is_asked(bad):
    with pytest.raises(MalformedRequestId):
        look_up_result(_DeniedS3("AccessDenied"), SETTINGS, bad, NOW_MS)


def test_uploads_settings_come_from_the_shared_variable_names():
    env = {
        "OUTPUT_BUCKET": BUCKET,
        "INPUT_PREFIX": "in/",
        "OUTPUT_PREFIX": "out/",
        "RESULT_WINDOW_SECONDS": "1000",
    }
    assert UploadsSettings.from_env(env) == UploadsSettings(BUCKET, "in/", "out/", 1000)
    with pytest.raises(ValueError, match="RESULT_WINDOW_SECONDS"):
        UploadsSettings.from_env({**env, "RESULT_WINDOW_SECONDS": "10"})
    with pytest.raises(ValueError, match="OUTPUT_BUCKET"):
        UploadsSettings.from_env({**env, "OUTPUT_BUCKET": ""})


# --- the routes ----------------------------------------------------------------------------------


def test_post_uploads_answers_the_form_the_id_and_where_to_poll(call):
    status, headers, document = call(route_event("POST", "/uploads", '{"filename": "IMG_1234.HEIC"}'))
    request_id = document["request_id"]
    assert status == 200 and headers["X-Request-Id"] == request_id
    assert document["key"] == f"input/uploads/{request_id}/IMG_1234.HEIC"
    assert document["upload"]["fields"]["key"] == document["key"] and document["upload"]["method"] == "POST"
    assert (
        document["result_url"]
        == f"https://abc123.execute-api.us-east-1.amazonaws.com/prod/results/{request_id}"
    )
    assert (document["max_bytes"], document["expires_in"]) == (S3_IMAGE_LIMIT_BYTES, UPLOAD_URL_SECONDS)
    assert call(route_event("POST", "/uploads"))[2]["key"].endswith("/image")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "bad_json"),
        ('["photo.jpg"]', 400, "bad_json"),
        ('{"filename": 12}', 400, "bad_json"),
        ('{"filename": "a.jpg", "size": 3}', 400, "bad_json"),
        ('{"filename": "notes.txt"}', 415, "unsupported_type"),
        ('{"content_type": "application/pdf"}', 415, "unsupported_type"),
        (b"\xff\xd8\xff\xe0 a JPEG sent to the wrong route", 415, "not_json"),
    ],
)
def test_junk_upload_requests_get_their_code(call, body, status, code):
    answer_status, _, document = call(route_event("POST", "/uploads", body))
    assert (answer_status, document["error"]["code"]) == (status, code), document


def test_get_results_answers_done_pending_unknown_and_malformed(call, s3):
    done = mint_time_ordered_id(NOW_MS - 1000, 1)
    s3.put_object(
        Bucket=BUCKET, Key=f"output/{done}/result.json", Body=b'{"status": "ok", "schema_version": 1}'
    )
    assert call(route_event("GET", f"/results/{done}"))[::2] == (200, {"status": "ok", "schema_version": 1})

    pending = mint_time_ordered_id(NOW_MS - 1000, 2)
    status, headers, document = call(route_event("GET", f"/results/{pending}"))
    assert (status, document["status"], headers["Retry-After"]) == (202, "pending", "5")

    status, _, document = call(route_event("GET", f"/results/{uuid.uuid4()}"))
    assert (status, document["status"], document["error"]["code"]) == (404, "unknown", "unknown_request")

    status, _, document = call(route_event("GET", "/results/not-an-id"))
    assert (status, document["error"]["code"]) == (400, "bad_request_id")


def test_an_unknown_route_names_the_routes(call):
    status, _, document = call(route_event("GET", "/uploads"))
    assert (status, document["error"]["code"]) == (404, "not_found")
    assert "POST /uploads" in document["error"]["message"]


def test_the_uploads_function_s_answers_and_errors_carry_cors_for_the_stack_s_origins(call, monkeypatch):
    monkeypatch.setenv(CORS_ORIGINS_ENV, "https://a.example.com,https://viewer.example.com")
    origin = {"Origin": "https://viewer.example.com"}
    for event, expected in (
        (route_event("POST", "/uploads", **origin), 200),
        (route_event("GET", "/results/not-an-id", **origin), 400),
    ):
        status, headers, _ = call(event)
        assert status == expected
        assert headers["Access-Control-Allow-Origin"] == "https://viewer.example.com"
        assert headers["Vary"] == "Origin"
    status, headers, _ = call(route_event("POST", "/uploads", Origin="https://elsewhere.example"))
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_the_root_serves_a_page_without_credentials(s3):
    event = route_event("GET", "/")
    response = uploads_api.resolve(event, Context(), uploads_api.Uploads(SETTINGS, lambda: s3))
    assert response["statusCode"] == 200
    assert response_headers(response)["Content-Type"].startswith("text/html")


def test_the_uploads_handler_imports_nothing_of_the_detector_s_numerical_stack():
    heavy = (
        "numpy",
        "onnxruntime",
        "PIL",
        "mimeparse",
        "boto3",
        "darknet_detector.core.pipeline",
        "darknet_detector.serving.http_api",
    )
    script = (
        "import sys, darknet_detector.serving.uploads_handler; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=CONTAINER, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "", f"the uploads function's cold start imports {loaded}"
