"""`darknet-lambda put` on moto's S3: folders with relative names, sniffing, multipart, --wait's summary."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from support.cli import BUCKET, jpeg, png

from darknet_detector.contract import request_id_of_object, result_json_key
from darknet_lambda.cli import batch


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "2024" / "summer").mkdir(parents=True)
    (folder / "dog.jpg").write_bytes(jpeg(seed=1))
    (folder / "2024" / "summer" / "beach.png").write_bytes(png())
    (folder / "notes.txt").write_text("not a picture")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return folder


class FakeDetector:
    """Writes each new input's result.json as the function would (by its request id); `rejects` maps key
    suffixes to error results, `ignores` to none at all."""

    def __init__(self, rejects=(), ignores=()):
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.rejects, self.ignores = tuple(rejects), tuple(ignores)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        done = set()
        while not self.stop.is_set():
            for item in self.s3.list_objects_v2(Bucket=BUCKET, Prefix="input/").get("Contents", []):
                key = item["Key"]
                if key in done or key.endswith(self.ignores):
                    continue
                request_id = request_id_of_object(BUCKET, key, item["ETag"], "input/")
                document = {
                    "request_id": request_id,
                    "status": "ok",
                    "source": {"key": key},
                    "detections": [{"class": "dog", "confidence": 0.5707}],
                    "timings": {"predict_seconds": 0.03},
                }
                if key.endswith(self.rejects):
                    document = {
                        "request_id": request_id,
                        "status": "error",
                        "source": {"key": key},
                        "error": {"code": "corrupt_image", "message": "the JPEG data is corrupt"},
                    }
                self.s3.put_object(
                    Bucket=BUCKET, Key=result_json_key("output/", request_id), Body=json.dumps(document)
                )
                done.add(key)
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def keys(prefix="input/"):
    s3 = boto3.client("s3", region_name="us-east-1")
    return sorted(
        item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )


def test_a_folder_keeps_its_relative_names_and_non_images_are_refused_up_front(cli_stack, photos):
    result = cli_stack.run("put", str(photos))
    assert keys() == ["input/photos/2024/summer/beach.png", "input/photos/dog.jpg"]
    assert result.exit_code == 1, result.output  # notes.txt did not go up
    assert "skipped" in result.stderr and "notes.txt: not an image the detector reads" in result.stderr
    assert "2 uploaded, 1 rejected" in result.stdout
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.head_object(Bucket=BUCKET, Key="input/photos/dog.jpg")["ContentType"] == "image/jpeg"
    assert (
        s3.head_object(Bucket=BUCKET, Key="input/photos/2024/summer/beach.png")["ContentType"] == "image/png"
    )


def test_single_files_go_under_their_own_names_and_exit_0(cli_stack, tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg())
    result = cli_stack.run("put", str(tmp_path / "a.jpg"), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert keys() == ["input/a.jpg"]
    item = document["items"][0]
    etag = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key="input/a.jpg")["ETag"]
    assert item["request_id"] == request_id_of_object(BUCKET, "input/a.jpg", etag, "input/")
    assert item["status"] == "uploaded"


def test_the_stacks_own_input_prefix_is_used(cli_stack, tmp_path):
    cli_stack.write(inputPrefix="incoming/", inputUri=f"s3://{BUCKET}/incoming/")
    (tmp_path / "a.jpg").write_bytes(jpeg())
    assert cli_stack.run("put", str(tmp_path / "a.jpg")).exit_code == 0
    assert keys("incoming/") == ["incoming/a.jpg"]


def test_large_files_go_up_in_parts(cli_stack, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)  # S3's smallest part
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg() + b"\0" * (11 * 1024 * 1024))
    result = cli_stack.run("put", str(big), "--json")
    assert result.exit_code == 0, result.output
    etag = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key="input/big.jpg")["ETag"]
    assert etag.strip('"').endswith("-3")  # a multipart ETag: 3 parts of 5 MiB
    assert json.loads(result.stdout)["items"][0]["bytes"] == big.stat().st_size


def test_wait_prints_darknet_lines_and_a_summary(cli_stack, photos, monkeypatch):
    (photos / "notes.txt").unlink()
    monkeypatch.setattr(batch, "POLL_SECONDS", 0.05)
    with FakeDetector():
        result = cli_stack.run("put", str(photos), "--wait", "--timeout", "20")
    assert result.exit_code == 0, result.output
    assert "input/photos/dog.jpg: Predicted in 0.03 seconds.\ndog: 57%" in result.stdout
    assert "2 done, 0 rejected, 0 failed" in result.stdout


def test_wait_reports_rejected_with_reason_and_failed_and_exits_1(cli_stack, photos, monkeypatch):
    monkeypatch.setattr(batch, "POLL_SECONDS", 0.05)
    (photos / "late.jpg").write_bytes(jpeg(seed=3))
    with FakeDetector(rejects=("beach.png",), ignores=("late.jpg",)):
        result = cli_stack.run("put", str(photos), "--wait", "--timeout", "1.5", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    states = {item["key"]: (item["status"], item.get("reason")) for item in document["items"]}
    assert states == {
        "input/photos/dog.jpg": ("done", None),
        "input/photos/2024/summer/beach.png": ("rejected", "the JPEG data is corrupt"),
        "input/photos/late.jpg": ("failed", "no result within 1.5 s"),
        "input/photos/notes.txt": ("rejected", batch.NOT_AN_IMAGE),
    }
    assert document["summary"] == "1 done, 2 rejected, 1 failed"


def test_a_missing_path_is_a_usage_error(cli_stack, tmp_path):
    result = cli_stack.run("put", str(tmp_path / "nothing.jpg"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
