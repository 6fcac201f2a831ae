"""`ls`, `get` and `status` on moto: newest first, filters, a result's files, downloads, queue depths."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from support.cli import BUCKET, FUNCTION

from darknet_detector.contract import DEFAULT_MODEL, RESULT_IMAGE, RESULT_JSON

IDS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(4)]


@pytest.fixture
def results(cli_stack):
    s3 = boto3.client("s3", region_name="us-east-1")
    documents = [
        {
            "status": "ok",
            "source": {"key": "input/a/dog.jpg"},
            "created_at": "2026-12-01T10:00:00Z",
            "detections": [{"class": "dog", "confidence": 0.57}, {"class": "car", "confidence": 0.52}],
        },
        {
            "status": "error",
            "source": {"key": "input/b/notes.jpg"},
            "created_at": "2026-12-01T10:00:01Z",
            "error": {"code": "not_an_image", "message": "the bytes are not an image"},
        },
        {
            "status": "ok",
            "source": {"http": "request"},
            "created_at": "2026-12-01T10:00:02Z",
            "detections": [],
        },
        {
            "status": "ok",
            "source": {"key": "input/a/cat.jpg"},
            "created_at": "2026-12-01T10:00:03Z",
            "detections": [{"class": "cat", "confidence": 0.9}],
        },
    ]
    for request_id, document in zip(IDS, documents, strict=True):
        if document["status"] == "ok":
            s3.put_object(Bucket=BUCKET, Key=f"output/{request_id}/image-result.png", Body=b"png" * 100)
        s3.put_object(Bucket=BUCKET, Key=f"output/{request_id}/result.json", Body=json.dumps(document))
        time.sleep(1.05)  # S3's LastModified has one-second resolution: the order of writing
    return cli_stack


def test_ls_lists_newest_first_with_detections_in_short(results):
    result = results.run("ls", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["request_id"] for row in rows] == IDS[::-1]
    assert rows[3]["detections"] == "dog 57%, car 52%"
    assert rows[2]["error"] == "the bytes are not an image" and rows[2]["source"] == "input/b/notes.jpg"
    assert rows[1]["source"] == "http"
    table = results.run("ls").stdout
    assert table.index(IDS[3]) < table.index(IDS[0]) and "dog 57%, car 52%" in table


def test_ls_filters_by_status_prefix_and_limit(results):
    assert [r["request_id"] for r in json.loads(results.run("ls", "--status", "error", "--json").stdout)] == [
        IDS[1]
    ]
    by_prefix = json.loads(results.run("ls", "--prefix", "a/", "--json").stdout)
    assert [r["request_id"] for r in by_prefix] == [IDS[3], IDS[0]]  # under the input prefix too
    assert len(json.loads(results.run("ls", "--limit", "2", "--json").stdout)) == 2


def test_ls_of_a_request_lists_its_files_and_an_unknown_one_exits_1(results):
    files = json.loads(results.run("ls", IDS[0], "--json").stdout)
    assert sorted(f["name"] for f in files) == sorted([RESULT_IMAGE, RESULT_JSON])
    missing = results.run("ls", "11111111-1111-4111-8111-111111111111")
    assert missing.exit_code == 1 and "no result folder output/11111111" in missing.stderr


def test_get_downloads_folders_and_all(results, tmp_path):
    target = tmp_path / "got"
    result = results.run("get", IDS[0], "--dir", str(target))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (target / IDS[0]).iterdir()) == sorted([RESULT_IMAGE, RESULT_JSON])
    assert json.loads((target / IDS[0] / RESULT_JSON).read_text())["source"]["key"] == "input/a/dog.jpg"
    everything = results.run("get", "--all", "--dir", str(tmp_path / "all"), "--json")
    assert len(json.loads(everything.stdout)["files"]) == 7
    unknown = results.run("get", IDS[0], "11111111-1111-4111-8111-111111111111", "--dir", str(target))
    assert unknown.exit_code == 1 and "no result folder" in unknown.stderr
    assert results.run("get").exit_code == 2  # neither ids nor --all


def test_status_shows_function_settings_queue_depths_and_own_alarms(cli_stack):
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="darknet-images")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="darknet-images-dlq")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=str(n))
    sqs.send_message(QueueUrl=dlq, MessageBody="dead")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    for name, dimension in (("darknet-dlq-not-empty", "darknet-images-dlq"), ("someone-else", "other-queue")):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="ApproximateNumberOfMessagesVisible",
            Namespace="AWS/SQS",
            Dimensions=[{"Name": "QueueName", "Value": dimension}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="1 message")
    cli_stack.write(queueUrl=queue, deadLetterQueueUrl=dlq)
    result = cli_stack.run("status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queue"]["waiting"] == 3 and report["dead_letter_queue"]["waiting"] == 1
    assert [alarm["name"] for alarm in report["alarms"]] == ["darknet-dlq-not-empty"]
    # moto has no such function: that part says why, the rest is shown
    assert "unavailable" in report["function"]
    text = cli_stack.run("status").stdout
    assert "queue: 3 waiting, 0 in flight" in text and "darknet-dlq-not-empty" in text


def test_status_reads_the_functions_settings(cli_stack, monkeypatch):

    class Lambda:
        def get_function_configuration(self, FunctionName):
            assert FunctionName == FUNCTION
            return {
                "MemorySize": 1769,
                "Timeout": 60,
                "State": "Active",
                "Environment": {
                    "Variables": {
                        "DETECTOR_MODEL": DEFAULT_MODEL,
                        "DETECTOR_ENGINE": "onnx",
                        "DARKNET_LAMBDA_VERSION": "0.2.0",
                        "DETECTOR_THRESHOLD": "0.5",
                    }
                },
            }

    from darknet_lambda.cli.stack import Stack

    real = Stack.client
    monkeypatch.setattr(Stack, "client", lambda self, s: Lambda() if s == "lambda" else real(self, s))
    report = json.loads(cli_stack.run("status", "--json").stdout)
    assert report["function"] | {} == {
        **report["function"],
        "memory_mb": 1769,
        "model": DEFAULT_MODEL,
        "engine": "onnx",
        "version": "0.2.0",
    }
