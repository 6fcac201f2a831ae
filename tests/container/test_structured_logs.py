"""Logs of the built image are JSON lines carrying Lambda's request id (Powertools Logger)."""

from __future__ import annotations

import json
import time

import pytest
from lambda_events import response_headers

pytestmark = pytest.mark.docker


def json_lines(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def test_invocation_logs_json_lines_with_the_request_id(lambda_onnx, dog_jpg, api_event):
    response = lambda_onnx.invoke(api_event(dog_jpg))
    request_id = response_headers(response)["X-Request-Id"]

    deadline = time.monotonic() + 10
    while True:
        mine = [r for r in json_lines(lambda_onnx.logs()) if r.get("function_request_id") == request_id]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert mine, f"no JSON log line carries {request_id}:\n{lambda_onnx.logs()[-4000:]}"
    for record in mine:
        assert {"level", "message", "timestamp", "service"} <= set(record), record
        assert record["service"] == "darknet-lambda"
    answered = [r for r in mine if r["message"] == "http request answered"]
    assert answered and answered[0]["status"] == 200, mine


def test_s3_invocation_logs_the_object_and_its_result_folder(lambda_onnx, s3, bucket, dog_jpg, s3_event):
    key = "input/logged.jpg"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=dog_jpg)["ETag"].strip('"')
    response = lambda_onnx.invoke(s3_event(bucket, key, size=len(dog_jpg), etag=etag))
    (request_id,) = [result["request_id"] for result in response["results"]]

    deadline = time.monotonic() + 10
    while True:
        processed = [
            r
            for r in json_lines(lambda_onnx.logs())
            if r.get("message") == "object processed" and r.get("result", {}).get("request_id") == request_id
        ]
        if processed or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert processed, lambda_onnx.logs()[-4000:]
    (record,) = processed
    assert record["source"] == {"bucket": bucket, "key": key, "etag": etag}
    assert record["result"]["status"] == "ok"
    assert record["event_kind"] == "s3"
    assert record["function_request_id"], record
