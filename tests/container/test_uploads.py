"""The uploads function as Lambda runs it: the built image with the uploads handler as its command,
under AWS's emulator, S3 on moto. The form it signs takes a real multipart POST; results are answered
as written, pending before."""

from __future__ import annotations

import json

import pytest
import requests
from lambda_events import make_api_event
from local_lambda import LocalLambda

from darknet_detector.contract import RESULT_WINDOW_ENV, UPLOADS_HANDLER


@pytest.fixture(scope="module")
def uploads_function(detector_image: str, lambda_env: dict[str, str]):
    function = _running_uploads(detector_image, {**lambda_env, RESULT_WINDOW_ENV: "1800"})
    yield function
    function.stop()


def _running_uploads(image: str, env: dict[str, str]) -> LocalLambda:
    function = LocalLambda(image=image, env=env, handler=UPLOADS_HANDLER, memory_mb=256)
    function.start()
    function.wait_ready(timeout=60)
    return function


def route(method: str, path: str, body: str | None = None) -> dict:
    event = make_api_event(b"", {"Content-Type": "application/json"}, base64_encoded=False)
    resource = "/results/{request_id}" if path.startswith("/results/") else path
    event.update(resource=resource, path=path, httpMethod=method, body=body)
    event["requestContext"].update(httpMethod=method, resourcePath=resource, path=f"/prod{path}")
    if path.startswith("/results/"):
        event["pathParameters"] = {"request_id": path.removeprefix("/results/")}
    return event


def answer(function: LocalLambda, event: dict) -> tuple[int, dict, dict]:
    response = function.invoke(event)
    return response["statusCode"], response.get("multiValueHeaders") or {}, json.loads(response["body"])


def test_the_form_takes_an_upload_and_the_result_is_answered_once_written(
    uploads_function, s3, bucket, dog_jpg
):
    status, _, form = answer(uploads_function, route("POST", "/uploads", '{"filename": "dog.jpg"}'))
    assert status == 200, form
    request_id = form["request_id"]

    status, headers, pending = answer(uploads_function, route("GET", f"/results/{request_id}"))
    assert (status, pending["status"], headers["Retry-After"]) == (202, "pending", ["5"])

    upload = requests.post(
        form["upload"]["url"], data=form["upload"]["fields"], files={"file": ("dog.jpg", dog_jpg)}, timeout=60
    )
    assert upload.status_code in (200, 204), upload.text
    stored = s3.get_object(Bucket=bucket, Key=form["key"])
    assert stored["Body"].read() == dog_jpg and stored["ContentType"] == "image/jpeg"

    document = {"schema_version": 1, "request_id": request_id, "status": "ok", "detections": []}
    s3.put_object(Bucket=bucket, Key=f"output/{request_id}/result.json", Body=json.dumps(document).encode())
    assert answer(uploads_function, route("GET", f"/results/{request_id}"))[::2] == (200, document)


def test_junk_and_unknown_ids_get_their_codes(uploads_function):
    status, _, document = answer(uploads_function, route("POST", "/uploads", "{junk"))
    assert (status, document["error"]["code"]) == (400, "bad_json")
    status, _, document = answer(uploads_function, route("GET", "/results/0000-not-an-id"))
    assert (status, document["error"]["code"]) == (400, "bad_request_id")
    old = "00000000-0000-7000-8000-000000000000"  # minted in 1970
    status, _, document = answer(uploads_function, route("GET", f"/results/{old}"))
    assert (status, document["status"], document["error"]["code"]) == (404, "unknown", "unknown_request")


def test_a_missing_setting_fails_the_cold_start_loudly(detector_image, lambda_env):
    function = _running_uploads(detector_image, {k: v for k, v in lambda_env.items() if k != "OUTPUT_BUCKET"})
    try:
        with pytest.raises(Exception, match="OUTPUT_BUCKET"):
            function.invoke(route("POST", "/uploads"))
    finally:
        function.stop()
