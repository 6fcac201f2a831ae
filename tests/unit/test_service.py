"""The service functions behind the handler, on moto's in-process S3 and a stand-in engine.

The stand-in engine reports one fixed box: these tests prove the plumbing (keys,
order of writes, error records, HTTP answers), while tests/container proves the real engines.
"""

from __future__ import annotations

import dataclasses
import io
import stat
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from support.stand_in import StandInEngine

from darknet_detector.contract import RESULT_IMAGE, RESULT_JSON, RESULT_TEXT, TILE_TAIL_SECONDS, TileSpec
from darknet_detector.core import pipeline as service_module
from darknet_detector.core.detection import DetectionRun, DetectOptions, Tiling, make_workdir
from darknet_detector.core.images import ImageTooLarge
from darknet_detector.core.pipeline import (
    WORKDIR_PREFIX,
    AnswerTooLarge,
    AsyncUnavailable,
    InvalidOption,
    check_options,
    detect_archive,
    detect_document,
    process_job,
    process_s3_object,
    remove_stale_workdirs,
    submit_job,
)
from darknet_detector.core.requests import S3ObjectRequest, parse_async_job
from darknet_detector.core.settings import Settings
from darknet_detector.core.source import SourceImage
from darknet_detector.serving import handler

BUCKET = "detector-bucket"
REQUEST_ID = "6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21"


class RecordingS3:
    """Passes calls to a real (moto) client and remembers the order of the keys written."""

    def __init__(self, client) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.written: list[str] = []

    def put_object(self, **kwargs):
        self.written.append(kwargs["Key"])
        return self._client.put_object(**kwargs)

    def get_object(self, **kwargs):
        return self._client.get_object(**kwargs)

    def generate_presigned_url(self, *args, **kwargs):
        return self._client.generate_presigned_url(*args, **kwargs)


@pytest.fixture
def s3(tmp_path):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=BUCKET)
        yield RecordingS3(client)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(output_bucket=BUCKET, work_root=tmp_path)


def request_for(key: str, size: int | None = None) -> S3ObjectRequest:
    return S3ObjectRequest(bucket=BUCKET, key=key, size=size, request_id=REQUEST_ID)


def test_s3_object_yields_three_outputs_with_result_json_last(s3, settings, small_jpeg):
    s3.put_object(Bucket=BUCKET, Key="input/my dog.jpg", Body=small_jpeg)
    engine = StandInEngine()
    document = process_s3_object(request_for("input/my dog.jpg"), s3, engine, settings)
    assert engine.annotated == [True]

    folder = f"output/{REQUEST_ID}/"
    assert s3.written[1:] == [folder + RESULT_IMAGE, folder + RESULT_TEXT, folder + RESULT_JSON]
    assert document["status"] == "ok"
    assert document["detections"][0]["class"] == "dog"
    result_out = s3.get_object(Bucket=BUCKET, Key=folder + RESULT_TEXT)["Body"].read().decode()
    assert result_out.startswith("my_dog.jpg: Predicted in ")  # the file's name, not the private folder


def test_bad_object_yields_only_an_error_record(s3, settings):
    s3.put_object(Bucket=BUCKET, Key="input/notes.jpg", Body=b"plain text")
    engine = StandInEngine()
    document = process_s3_object(request_for("input/notes.jpg"), s3, engine, settings)

    assert engine.calls == []
    assert (document["status"], document["error"]["code"]) == ("error", "not_an_image")
    assert s3.written[1:] == [f"output/{REQUEST_ID}/result.json"]
    assert list(document["outputs"]) == ["json"]


def test_oversized_object_is_recorded_without_being_read(s3, settings):
    document = process_s3_object(request_for("input/huge.jpg", size=10**9), s3, StandInEngine(), settings)
    assert document["error"]["code"] == "too_large"
    assert s3.written == [f"output/{REQUEST_ID}/result.json"]


def test_objects_outside_input_and_deleted_objects_write_nothing(s3, settings):
    assert (
        process_s3_object(request_for("output/x/image-result.png"), s3, StandInEngine(), settings)["status"]
        == "ignored"
    )
    assert process_s3_object(request_for("input/gone.jpg"), s3, StandInEngine(), settings)["status"] == "gone"
    assert s3.written == []


def refuse_async(payload: dict) -> None:
    raise AssertionError("a synchronous request must not invoke the function again")


def refuse_s3():
    raise AssertionError("an answer that fits Lambda's response must not touch S3")


def test_an_archive_over_lambda_s_response_limit_is_stored_and_linked(s3, settings, small_jpeg, monkeypatch):
    monkeypatch.setattr(service_module, "SYNC_ANSWER_LIMIT_BYTES", 10)
    stored = detect_archive(small_jpeg, REQUEST_ID, StandInEngine(), settings, lambda: s3)
    folder = f"output/{REQUEST_ID}/"
    assert s3.written == [folder + RESULT_IMAGE, folder + RESULT_TEXT, folder + RESULT_JSON]
    assert set(stored.links) == {"image", "text", "json"}
    assert stored.expires_in == 3600 and stored.size > 10
    for name, key in (("image", RESULT_IMAGE), ("json", RESULT_JSON)):
        assert f"/{folder}{key}" in stored.links[name] and "X-Amz-Signature=" in stored.links[name]


def test_an_archive_over_the_limit_without_a_bucket_is_refused(tmp_path, small_jpeg, monkeypatch):
    monkeypatch.setattr(service_module, "SYNC_ANSWER_LIMIT_BYTES", 10)
    with pytest.raises(AnswerTooLarge):
        detect_archive(small_jpeg, REQUEST_ID, StandInEngine(), Settings(work_root=tmp_path), refuse_s3)


def test_the_document_and_the_archive_and_only_the_archive_asks_for_the_drawn_image(settings, small_jpeg):
    engine = StandInEngine()
    document = detect_document(small_jpeg, REQUEST_ID, engine, settings)
    assert (document["schema_version"], document["request_id"]) == (1, REQUEST_ID)
    assert document["detections"][0]["class"] == "dog"
    assert "dog: 57%" in document["result_out"]

    archive = detect_archive(small_jpeg, REQUEST_ID, engine, settings, refuse_s3)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as opened:
        assert sorted(opened.getnames()) == sorted([RESULT_IMAGE, RESULT_TEXT])
    assert engine.annotated == [False, True]


def test_a_submitted_job_writes_where_the_acceptance_says(s3, settings, small_jpeg):
    sent: list[dict] = []
    accepted = submit_job(small_jpeg, REQUEST_ID, settings, sent.append)
    assert accepted.folder == f"s3://{BUCKET}/output/{REQUEST_ID}/"

    (payload,) = sent
    document = process_job(parse_async_job(payload), s3, StandInEngine(), settings)
    assert document["outputs"]["json"] == accepted.result


def test_a_job_s_options_decide_its_stored_result(s3, settings, small_jpeg):
    sent: list[dict] = []
    options = DetectOptions(threshold=0.2, classes=frozenset({"person"}))
    submit_job(small_jpeg, REQUEST_ID, settings, sent.append, options)
    document = process_job(parse_async_job(sent[0]), s3, StandInEngine(), settings)
    assert [d["class"] for d in document["detections"]] == ["person"]
    assert document["options"] == {"threshold": 0.2, "classes": ["person"], "tiles": "off"}
    assert document["threshold"] == 0.2
    text = s3.get_object(Bucket=BUCKET, Key=f"output/{REQUEST_ID}/result.out")["Body"].read().decode()
    assert "person: 30%" in text and "dog" not in text


@pytest.mark.parametrize(
    ("threshold", "classes", "code"),
    [
        (0.0, [], "bad_threshold"),
        (1.0, [], "bad_threshold"),
        ("0.3", [], "bad_threshold"),
        (None, ["dog", "dragon"], "unknown_class"),
    ],
)
def test_options_are_checked_by_the_stack_s_rule_and_the_model_s_names(threshold, classes, code):
    with pytest.raises(InvalidOption) as raised:
        check_options(threshold, classes, StandInEngine)
    assert raised.value.code == code


def test_options_without_a_class_filter_never_load_the_engine():
    def no_engine():
        raise AssertionError("the engine was loaded")

    assert check_options(0.3, [], no_engine) == DetectOptions(threshold=0.3)
    assert check_options(None, ["DOG"], StandInEngine).classes == {"dog"}


def test_a_job_without_an_output_bucket_is_refused(tmp_path, small_jpeg):
    with pytest.raises(AsyncUnavailable):
        submit_job(small_jpeg, REQUEST_ID, Settings(work_root=tmp_path), refuse_async)


def test_an_image_over_the_byte_limit_is_too_large_naming_the_limit(settings, small_jpeg):
    small_limit = Settings(output_bucket=BUCKET, work_root=settings.work_root, max_http_image_bytes=100)
    with pytest.raises(ImageTooLarge) as raised:
        detect_document(small_jpeg, REQUEST_ID, StandInEngine(), small_limit)
    assert (raised.value.code, raised.value.limit_bytes) == ("too_large", 100)
    assert "100 bytes" in str(raised.value)


def test_folder_markers_are_ignored_not_recorded_as_errors(s3, settings):
    s3.put_object(Bucket=BUCKET, Key="input/holiday/", Body=b"")
    engine = StandInEngine()
    document = process_s3_object(request_for("input/holiday/", size=0), s3, engine, settings)
    assert document["status"] == "ignored"
    assert engine.calls == [] and s3.written[1:] == []


class ExhaustedEngine(StandInEngine):
    """Runs out of memory half-way, as a decoder that cannot allocate its buffer does."""

    def detect(self, source: SourceImage, workdir: Path, **options) -> DetectionRun:
        (make_workdir(workdir) / "half-written.png").write_bytes(b"partial")
        raise MemoryError


def test_running_out_of_memory_ends_in_an_error_record_and_leaves_no_files(s3, settings, small_jpeg):
    s3.put_object(Bucket=BUCKET, Key="input/big.jpg", Body=small_jpeg)
    document = process_s3_object(request_for("input/big.jpg"), s3, ExhaustedEngine(), settings)
    assert (document["status"], document["error"]["code"]) == ("error", "too_large")
    assert "memory" in document["error"]["message"]
    assert s3.written[1:] == [f"output/{REQUEST_ID}/result.json"]
    assert list(settings.work_root.iterdir()) == []


class FolderWatchingEngine(StandInEngine):
    """Records whether its work folder existed when it was called, and the folder's mode once made."""

    def detect(self, source: SourceImage, workdir: Path, **options) -> DetectionRun:
        self.existed = workdir.exists()
        run = super().detect(source, workdir, **options)
        self.mode = stat.S_IMODE(workdir.stat().st_mode) if workdir.exists() else None
        return run


def test_only_a_detection_that_writes_files_makes_a_work_folder_and_it_is_private(settings, small_jpeg):
    answer_only = FolderWatchingEngine()
    detect_document(small_jpeg, REQUEST_ID, answer_only, settings)
    assert (answer_only.existed, answer_only.mode) == (False, None)

    drawing = FolderWatchingEngine()
    detect_archive(small_jpeg, REQUEST_ID, drawing, settings, refuse_s3)
    assert (drawing.existed, drawing.mode) == (False, 0o700)
    assert list(settings.work_root.iterdir()) == []


def test_work_folders_of_a_killed_run_are_removed_and_a_run_leaves_none(s3, settings, small_jpeg):
    stale = settings.work_root / f"{WORKDIR_PREFIX}killed"
    stale.mkdir()
    (stale / "request.jpg").write_bytes(small_jpeg)
    keep = settings.work_root / "other-tool"
    keep.mkdir()

    assert remove_stale_workdirs(settings.work_root) == 1
    s3.put_object(Bucket=BUCKET, Key="input/dog.jpg", Body=small_jpeg)
    process_s3_object(request_for("input/dog.jpg"), s3, StandInEngine(), settings)

    assert list(settings.work_root.iterdir()) == [keep]


def test_the_engine_gets_the_upright_size_and_a_name_without_folders(settings, small_jpeg):
    engine = StandInEngine()
    detect_document(small_jpeg, REQUEST_ID, engine, settings)
    (source,) = engine.calls
    assert (source.name, source.large, source.info.kind) == ("request.jpg", False, "jpeg")
    assert source.data == small_jpeg


def test_the_stack_s_tiles_and_the_invocation_s_deadline_reach_the_engine(s3, settings, small_jpeg):
    """A job without tiles runs the stack's, bounded by the deadline the handler computed."""
    engine, sent = StandInEngine(), []
    stack = dataclasses.replace(settings, tiles="auto:0.3", max_tiles=9)
    submit_job(small_jpeg, REQUEST_ID, stack, sent.append, DetectOptions(threshold=0.4))
    document = process_job(parse_async_job(sent[0]), s3, engine, stack, deadline=123.0)
    assert engine.tilings == [Tiling(TileSpec(overlap=0.3), 9, 123.0)]
    assert document["options"]["tiles"] == "auto:0.3"


def test_the_handler_s_deadline_keeps_the_tail_for_the_outputs():
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 10_000)
    before = time.monotonic()
    bound = handler.deadline(context)
    assert before + 10 - TILE_TAIL_SECONDS <= bound <= time.monotonic() + 10 - TILE_TAIL_SECONDS
