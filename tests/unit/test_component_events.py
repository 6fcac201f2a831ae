"""Completion events in the components: the bus created or taken, the function's variables, and a
publish permission on that bus alone; nothing at all when events are off."""

from __future__ import annotations

import pytest

from darknet_detector.contract import EVENT_BUS_ENV, EVENT_SOURCE_ENV, METRIC_EVENTS_NOT_PUBLISHED
from darknet_lambda import DarknetService, DarknetServiceArgs, InvalidArgument

FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUS = "aws:cloudwatch/eventBus:EventBus"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
OTHER_ACCOUNT_BUS = "arn:aws:events:eu-west-1:210987654321:event-bus/shared-results"


def deploy(mocked, events: dict | None):
    seen = {}

    def program():
        args = DarknetServiceArgs(
            image={"image_uri": "repo/detector:1"}, **({"events": events} if events else {})
        )
        service = DarknetService("detector", args)
        seen["bus"] = service.event_bus
        service.event_bus_name.apply(lambda name: seen.update(name=name)) if service.event_bus_name else None

    deployment = mocked.run(program)
    return deployment, seen


def detector(deployment):
    return deployment.one(FUNCTION, "detector")


def publish_statements(deployment) -> list[dict]:
    return [
        statement
        for policy in deployment.of_type(ROLE_POLICY)
        for statement in policy.policy()["Statement"]
        if any("events:" in action for action in statement["Action"])
    ]


def test_a_created_bus_is_the_only_one_the_function_may_publish_to(mocked):
    deployment, seen = deploy(mocked, {"enabled": True, "source": "photos.detector"})
    bus = deployment.one(BUS)
    assert seen["bus"] is not None and bus.parent_type == "darknet:index:DarknetEvents"
    variables = detector(deployment).inputs["environment"]["variables"]
    assert variables[EVENT_BUS_ENV] == bus.state["arn"] == seen["name"]
    assert variables[EVENT_SOURCE_ENV] == "photos.detector"
    (statement,) = publish_statements(deployment)
    assert statement["Action"] == ["events:PutEvents"] and statement["Resource"] == [bus.state["arn"]]
    (policy,) = [p for p in deployment.of_type(ROLE_POLICY) if p.name == "detector-events"]
    assert policy.inputs["role"] == deployment.one("aws:iam/role:Role", "detector").state["name"]


def test_a_bus_taken_by_name_is_scoped_to_the_function_s_account_and_region(mocked):
    deployment, seen = deploy(mocked, {"enabled": True, "bus_name": "default"})
    assert deployment.of_type(BUS) == [] and seen["bus"] is None
    assert detector(deployment).inputs["environment"]["variables"][EVENT_BUS_ENV] == "default"
    (statement,) = publish_statements(deployment)
    assert statement["Resource"] == [f"arn:aws:events:{mocked.region}:{mocked.account}:event-bus/default"]


def test_a_bus_taken_by_arn_keeps_its_account(mocked):
    deployment, _ = deploy(mocked, {"enabled": True, "bus_arn": OTHER_ACCOUNT_BUS})
    assert deployment.of_type(BUS) == []
    assert detector(deployment).inputs["environment"]["variables"][EVENT_BUS_ENV] == OTHER_ACCOUNT_BUS
    (statement,) = publish_statements(deployment)
    assert statement["Resource"] == [OTHER_ACCOUNT_BUS]


def test_events_off_means_no_bus_no_variables_no_permission_no_alarm(mocked):
    deployment, seen = deploy(mocked, None)
    variables = detector(deployment).inputs["environment"]["variables"]
    assert EVENT_BUS_ENV not in variables and EVENT_SOURCE_ENV not in variables
    assert deployment.of_type(BUS) == [] and publish_statements(deployment) == [] and seen == {"bus": None}
    assert all(
        alarm.inputs["metricName"] != METRIC_EVENTS_NOT_PUBLISHED for alarm in deployment.of_type(ALARM)
    )


def test_the_publish_failure_metric_is_alarmed_when_events_are_on(mocked):
    deployment, _ = deploy(mocked, {"enabled": True})
    (alarm,) = [a for a in deployment.of_type(ALARM) if a.inputs["metricName"] == METRIC_EVENTS_NOT_PUBLISHED]
    assert alarm.name == "detector-events-not-published"
    assert alarm.inputs["dimensions"] == {"service": "darknet-lambda"}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("GreaterThanThreshold", 0)


@pytest.mark.parametrize(
    ("events", "argument"),
    [
        ({"bus_name": "mine", "bus_arn": OTHER_ACCOUNT_BUS}, "bus_arn"),
        ({"bus_name": "no spaces"}, "bus_name"),
        ({"bus_arn": "arn:aws:sqs:us-east-1:123456789012:queue"}, "bus_arn"),
        ({"source": "aws.detector"}, "source"),
    ],
)
def test_bad_events_settings_are_refused_under_their_path(events, argument):
    with pytest.raises(InvalidArgument) as raised:
        DarknetServiceArgs(events={"enabled": True, **events})
    assert raised.value.argument == f"events.{argument}"


def test_the_function_s_bus_and_source_are_the_service_s_to_set():
    with pytest.raises(
        InvalidArgument, match=r"function\.event_source: is set by the service from events\.source"
    ):
        DarknetServiceArgs(function={"event_source": "elsewhere"})
