"""S3 events delivered through EventBridge ("Object Created", as the S3 user guide documents the
shape): the same requests as a direct S3 notification of the same object."""

from urllib.parse import quote_plus

import pytest

from darknet_detector.core.requests import BadEvent
from darknet_detector.serving.events import event_kind, parse_s3_event, parse_s3_eventbridge_event


def eventbridge_event(bucket: str, key: str, sequencer: str = "00617F08299329D189", size: int = 1024) -> dict:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2021-11-12T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "sequencer": sequencer,
            },
            "request-id": "57H08PA84AB1JZW0",
            "requester": "123456789012",
            "source-ip-address": "198.51.100.1",
            "reason": "PutObject",
        },
    }


@pytest.mark.parametrize("key", ["input/dog.jpg", "input/my holiday photo.jpg", "input/café/写真 a+b.jpg"])
def test_eventbridge_event_gives_the_same_request_as_the_s3_notification(s3_event, key):
    (via_eventbridge,) = parse_s3_eventbridge_event(
        eventbridge_event("photos", key, sequencer="0055AED6DCD90281E5"), "input/"
    )
    (direct,) = parse_s3_event(
        s3_event("photos", key, sequencer="0055AED6DCD90281E5", etag="b1946ac92492d2347c6235b4d2611184"),
        "input/",
    )
    assert via_eventbridge == direct
    assert via_eventbridge.key == key


def test_eventbridge_object_created_is_its_own_event_kind():
    assert event_kind(eventbridge_event("photos", "input/dog.jpg")) == "s3-eventbridge"
    deleted = {**eventbridge_event("photos", "input/dog.jpg"), "detail-type": "Object Deleted"}
    with pytest.raises(BadEvent, match="Object Created"):
        event_kind(deleted)


def test_malformed_eventbridge_event_is_a_bad_event():
    event = eventbridge_event("photos", "input/dog.jpg")
    del event["detail"]["object"]
    with pytest.raises(BadEvent, match="malformed S3 EventBridge event"):
        parse_s3_eventbridge_event(event, "input/")
