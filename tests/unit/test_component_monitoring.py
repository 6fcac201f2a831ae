"""DarknetMonitoring: alarms on what goes wrong at volume, a dashboard, an optional topic; each can be off.
LocalStack stores alarms without evaluating them as CloudWatch does, so their settings are checked here."""

import json

import pytest

from darknet_detector.contract import METRICS_NAMESPACE
from darknet_lambda import (
    DarknetMonitoring,
    DarknetMonitoringArgs,
    DarknetService,
    DarknetServiceArgs,
    InvalidArgument,
)

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:detector"


def deploy(mocked, **overrides):
    args = DarknetMonitoringArgs(
        function_name="detector",
        function_arn=FUNCTION_ARN,
        function_timeout=60,
        queue_name="images",
        dead_letter_queue_name="dead-letters",
        failure_queue_name="failures",
        **overrides,
    )
    return mocked.run(lambda: DarknetMonitoring("darknet", args))


def alarms(deployment) -> dict[str, dict]:
    return {
        a.name.removeprefix("darknet-"): a.inputs
        for a in deployment.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def test_alarms_watch_dead_letters_errors_throttles_queue_age_and_duration(mocked):
    found = alarms(deploy(mocked, max_queue_age_seconds=600, duration_alarm_ratio=0.9))
    assert set(found) == {"errors", "throttles", "duration", "dead-letters", "failures", "queue-age"}
    assert found["dead-letters"]["dimensions"] == {"QueueName": "dead-letters"}
    assert found["dead-letters"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert (found["dead-letters"]["comparisonOperator"], found["dead-letters"]["threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    assert found["queue-age"]["metricName"] == "ApproximateAgeOfOldestMessage"
    assert found["queue-age"]["threshold"] == 600
    assert found["duration"]["extendedStatistic"] == "p99"
    assert found["duration"]["threshold"] == 54000, "90% of a 60 s timeout, in ms"
    assert found["errors"]["dimensions"] == {"FunctionName": "detector"}
    assert all(alarm["treatMissingData"] == "notBreaching" for alarm in found.values())
    assert all(not alarm.get("alarmActions") for alarm in found.values()), "no topic, no action"


def test_a_created_topic_is_notified_on_alarm_and_recovery(mocked):
    deployment = deploy(mocked, create_alarm_topic=True)
    topic = deployment.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    for alarm in alarms(deployment).values():
        assert alarm["alarmActions"] == alarm["okActions"] == [topic.state["arn"]]


def test_dashboard_graphs_the_functions_own_metrics_in_its_region(mocked):
    body = json.loads(deploy(mocked).one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    metrics = [metric for widget in body["widgets"] for metric in widget["properties"]["metrics"]]
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {"eu-west-1"}
    own = {metric[3] for metric in metrics if metric[0] == METRICS_NAMESPACE}
    assert {"ImagesProcessed", "ImagesRejected", "ImagesFailed", "Detections", "ImageMegapixels"} <= own
    assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "dead-letters"] in metrics


def test_each_part_can_be_turned_off(mocked):
    deployment = deploy(mocked, enable_alarms=False)
    assert deployment.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []
    assert deployment.one("aws:cloudwatch/dashboard:Dashboard")
    deployment = deploy(mocked, enable_dashboard=False)
    assert deployment.of_type("aws:cloudwatch/dashboard:Dashboard") == []


def test_a_topic_is_given_or_created_not_both():
    with pytest.raises(InvalidArgument, match="create_alarm_topic"):
        DarknetMonitoringArgs(create_alarm_topic=True, alarm_topic_arn="arn:aws:sns:us-east-1:1:t")


def test_the_service_without_monitoring_creates_none(mocked):
    args = DarknetServiceArgs(
        image={"image_uri": "repo/darknet:tag"},
        monitoring={"enable_alarms": False, "enable_dashboard": False},
    )
    deployment = mocked.run(lambda: DarknetService("darknet", args))
    assert not {
        t
        for t in deployment.types
        if t.startswith("aws:cloudwatch/") and t != "aws:cloudwatch/logGroup:LogGroup"
    }


def test_the_service_alarms_on_its_queues(mocked):
    args = DarknetServiceArgs(image={"image_uri": "repo/darknet:tag"})
    deployment = mocked.run(lambda: DarknetService("darknet", args))
    found = alarms(deployment)
    dead_letters = deployment.one("aws:sqs/queue:Queue", "darknet-dead-letters").state["name"]
    failures = deployment.one("aws:sqs/queue:Queue", "darknet-failures").state["name"]
    assert found["dead-letters"]["dimensions"] == {"QueueName": dead_letters}
    assert found["failures"]["dimensions"] == {"QueueName": failures}
