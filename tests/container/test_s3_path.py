"""The S3 path in the built image: an input/ object yields output/REQUEST_ID/ with the three results."""

from __future__ import annotations

import pytest

from darknet_detector.contract import DEFAULT_MODEL, OUTPUT_FILES, RESULT_IMAGE, RESULT_JSON, RESULT_TEXT
from darknet_detector.core.outputs import safe_filename

pytestmark = pytest.mark.docker

OUTPUT_NAMES = set(OUTPUT_FILES)


def process(function, s3, bucket, key, data, make_s3_event, sequencer=None):
    """Upload data to key, deliver S3's notification, return (response, new keys in the bucket)."""
    before = set(_keys(s3, bucket))
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
    event = make_s3_event(bucket, key, size=len(data), sequencer=sequencer, etag=etag)
    response = function.invoke(event)
    assert isinstance(response, dict) and "errorType" not in response, response
    return event, response, set(_keys(s3, bucket)) - before - {key}


def _keys(s3, bucket):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            yield item["Key"]


def output_folder(new_keys: set[str]) -> str:
    folders = {key.rsplit("/", 1)[0] + "/" for key in new_keys}
    assert len(folders) == 1, sorted(new_keys)
    (folder,) = folders
    assert folder.startswith("output/"), folder
    assert {key.rsplit("/", 1)[1] for key in new_keys} == OUTPUT_NAMES, sorted(new_keys)
    return folder


@pytest.mark.parametrize(
    "key",
    ["input/dog.jpg", "input/my dog ü 写真.jpg", "input/a+b & c/100% (1).jpg"],
    ids=["plain", "unicode", "reserved"],
)
def test_s3_upload_writes_the_three_outputs(any_engine, s3, bucket, dog_jpg, s3_event, dog_checks, key):
    engine, function = any_engine
    # One key per engine: the same content under the same key is the same request, whichever engine.
    key = key.replace("input/", f"input/{engine}/", 1)
    event, response, new_keys = process(function, s3, bucket, key, dog_jpg, s3_event)

    folder = output_folder(new_keys)
    request_id = folder.split("/")[1]
    assert response == {"processed": 1, "ignored": 0, "results": [{"request_id": request_id, "status": "ok"}]}
    assert not any(k.startswith("input/") for k in new_keys), new_keys

    png = s3.get_object(Bucket=bucket, Key=folder + RESULT_IMAGE)
    assert png["ContentType"] == "image/png"
    assert dog_checks["png_size"](png["Body"].read()) == dog_checks["size"]

    result_out = s3.get_object(Bucket=bucket, Key=folder + RESULT_TEXT)["Body"].read().decode()
    dog_checks["result_out"](result_out)
    # Darknet names the file it read: the object's own name, not the function's private folder.
    assert result_out.split(": Predicted in ")[0] == safe_filename(key, ".jpg"), result_out.splitlines()[0]

    import json

    document = json.loads(s3.get_object(Bucket=bucket, Key=folder + RESULT_JSON)["Body"].read())
    assert document["status"] == "ok", document
    assert document["request_id"] == request_id
    etag = event["Records"][0]["s3"]["object"]["eTag"]
    assert document["source"] == {"bucket": bucket, "key": key, "etag": etag}
    assert document["engine"] == engine
    assert document["model"] == DEFAULT_MODEL
    assert document["threshold"] == 0.5
    assert document["image"] == {
        "width": 768,
        "height": 576,
        "format": "jpeg",
        "orientation": 1,
        "network_input": {"decoded": "full"},
        "drawn": {"width": 768, "height": 576, "factor": 1},
    }
    dog_checks["detections"](document["detections"])
    assert document["timings"]["predict_seconds"] > 0, document["timings"]
    assert document["outputs"] == {
        "image": f"s3://{bucket}/{folder}image-result.png",
        "text": f"s3://{bucket}/{folder}result.out",
        "json": f"s3://{bucket}/{folder}result.json",
    }


def test_nothing_is_written_under_input(lambda_onnx, s3, bucket, dog_jpg, s3_event, bucket_keys):
    key = "input/only-this.jpg"
    inputs_before = bucket_keys("input/")
    process(lambda_onnx, s3, bucket, key, dog_jpg, s3_event)
    assert bucket_keys("input/") == inputs_before | {key}


def test_duplicate_delivery_rewrites_the_same_single_folder(lambda_onnx, s3, bucket, dog_jpg, s3_event):
    key = "input/delivered-twice.jpg"
    event, first, new_keys = process(lambda_onnx, s3, bucket, key, dog_jpg, s3_event)
    folder = output_folder(new_keys)
    before_second = set(_keys(s3, bucket))

    second = lambda_onnx.invoke(event)

    assert second == first, (first, second)
    assert set(_keys(s3, bucket)) == before_second
    assert first["results"] == [{"request_id": folder.split("/")[1], "status": "ok"}]


def test_object_outside_input_is_ignored(lambda_onnx, s3, bucket, dog_jpg, s3_event):
    _, response, new_keys = process(lambda_onnx, s3, bucket, "elsewhere/dog.jpg", dog_jpg, s3_event)
    assert new_keys == set()
    assert (response["processed"], response["ignored"]) == (0, 1), response


def test_an_output_object_does_not_trigger_more_output(lambda_onnx, s3, bucket, dog_jpg, s3_event):
    """A misconfigured trigger on output/ must not loop: outputs are ignored like any non-input key."""
    _, _, new_keys = process(lambda_onnx, s3, bucket, "output/looping/image-result.png", dog_jpg, s3_event)
    assert new_keys == set()
