"""Event parsing: S3 keys decoded as S3 encodes them, ids stable per object, detection jobs."""

import base64

import pytest

from darknet_detector.contract import object_request_id
from darknet_detector.core.detection import DetectOptions
from darknet_detector.core.requests import BadEvent, make_async_job, parse_async_job
from darknet_detector.serving.events import event_kind, parse_s3_event


@pytest.mark.parametrize(
    "key",
    ["input/dog.jpg", "input/my holiday photo.jpg", "input/café/Ünïcødé 写真.jpg", "input/a+b=c&d.jpg"],
)
def test_s3_keys_are_url_decoded(s3_event, key):
    (request,) = parse_s3_event(s3_event("bucket", key), "input/")
    assert request.key == key
    assert request.bucket == "bucket"


def test_duplicate_delivery_keeps_the_request_id_and_new_content_changes_it(s3_event):
    first = s3_event("bucket", "input/dog.jpg", etag="0f343b0931126a20f133d67c2b018a3b")
    (a,) = parse_s3_event(first, "input/")
    (b,) = parse_s3_event(first, "input/")
    (c,) = parse_s3_event(
        s3_event("bucket", "input/dog.jpg", etag="1f343b0931126a20f133d67c2b018a3b"), "input/"
    )
    assert a.request_id == b.request_id
    assert a.request_id != c.request_id


def test_the_request_id_follows_the_content_not_the_sequencer(s3_event):
    """LocalStack gives every notification the same sequencer; two deliveries of one object may differ
    in theirs. The ETag, which the listing of `make backfill` also has (quoted), is what counts."""
    etag = "0f343b0931126a20f133d67c2b018a3b"
    (a,) = parse_s3_event(
        s3_event("bucket", "input/dog.jpg", etag=etag, sequencer="0055AED6DCD90281E5"), "input/"
    )
    (b,) = parse_s3_event(
        s3_event("bucket", "input/dog.jpg", etag=etag, sequencer="0055AED6DCD90281E6"), "input/"
    )
    assert a.request_id == b.request_id == object_request_id("bucket", "input/dog.jpg", f'"{etag}"')
    assert a.source() == {"bucket": "bucket", "key": "input/dog.jpg", "etag": etag}


def test_an_event_without_etag_is_refused(s3_event):
    event = s3_event("bucket", "input/dog.jpg")
    del event["Records"][0]["s3"]["object"]["eTag"]
    with pytest.raises(BadEvent, match="no ETag"):
        parse_s3_event(event, "input/")


def test_several_records_each_get_their_own_request(s3_event):
    event = s3_event("bucket", "input/a.jpg")
    event["Records"] += s3_event("bucket", "input/b.jpg")["Records"]
    requests = parse_s3_event(event, "input/")
    assert [r.key for r in requests] == ["input/a.jpg", "input/b.jpg"]
    assert len({r.request_id for r in requests}) == 2


def test_non_create_records_are_ignored(s3_event):
    assert (
        parse_s3_event(s3_event("bucket", "input/a.jpg", event_name="ObjectRemoved:Delete"), "input/") == []
    )


def test_event_kinds(s3_event, api_event):
    assert event_kind(s3_event("b", "input/x.jpg")) == "s3"
    assert event_kind(api_event(b"x")) == "http"
    assert event_kind(make_async_job("6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21", "b", b"x", "x.jpg")) == "job"
    with pytest.raises(BadEvent):
        event_kind({"hello": "world"})


def test_async_job_round_trip():
    job = parse_async_job(
        make_async_job("6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21", "bucket", b"\xff\xd8data", "r.jpg")
    )
    assert (job.bucket, job.image, job.filename) == ("bucket", b"\xff\xd8data", "r.jpg")
    broken = make_async_job("6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21", "bucket", b"x", "r.jpg")
    broken["darknet_job"]["image_base64"] = base64.b64encode(b"x").decode() + "!"
    with pytest.raises(BadEvent):
        parse_async_job(broken)


def test_an_async_job_carries_the_request_s_options_and_one_without_them_keeps_the_defaults():
    options = DetectOptions(threshold=0.25, classes=frozenset({"dog", "person"}), tiles="3x2")
    payload = make_async_job("6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21", "bucket", b"x", "r.jpg", options)
    assert payload["darknet_job"]["options"] == {
        "threshold": 0.25,
        "classes": ["dog", "person"],
        "tiles": "3x2",
    }
    assert parse_async_job(payload).options == options
    del payload["darknet_job"]["options"]
    assert parse_async_job(payload).options == DetectOptions()
    payload["darknet_job"]["options"] = {"threshold": "high"}
    with pytest.raises(BadEvent):
        parse_async_job(payload)


def test_async_reinvocation_keeps_the_alias_or_version():
    from darknet_detector.serving.handler import function_qualifier

    assert function_qualifier("arn:aws:lambda:us-east-1:123456789012:function:detector") == {}
    assert function_qualifier("arn:aws:lambda:us-east-1:123456789012:function:detector:live") == {
        "Qualifier": "live"
    }
