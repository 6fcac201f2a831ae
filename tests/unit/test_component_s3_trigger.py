"""DarknetS3Trigger: only objects created under input/ invoke the function, and only from this bucket."""

import json

import pytest

from darknet_lambda import DarknetS3Trigger, DarknetS3TriggerArgs, InvalidArgument

ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:detector"


def deploy(mocked, **overrides):
    args = DarknetS3TriggerArgs(
        bucket_name="images", function_name="detector", function_arn=FUNCTION_ARN, **overrides
    )
    return mocked.run(lambda: DarknetS3Trigger("images", args))


def test_notification_fires_on_created_objects_under_input_only(mocked):
    notification = deploy(mocked).one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["bucket"] == "images"
    assert notification["lambdaFunctions"] == [
        {
            "lambdaFunctionArn": FUNCTION_ARN,
            "events": ["s3:ObjectCreated:*"],
            "filterPrefix": "input/",
        }
    ]
    assert "queues" not in notification and "topics" not in notification
    prefixes = [target["filterPrefix"] for target in notification["lambdaFunctions"]]
    assert not any("output/".startswith(prefix) for prefix in prefixes), "output/ must never trigger"


def test_permission_is_scoped_to_this_bucket_and_account_and_created_first(mocked):
    deployment = deploy(mocked)
    permission = deployment.one("aws:lambda/permission:Permission")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "detector",
        "principal": "s3.amazonaws.com",
        "sourceArn": "arn:aws:s3:::images",
        "sourceAccount": ACCOUNT,
    }
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification")
    assert permission.urn in notification.dependencies


@pytest.mark.parametrize("prefix", ["", "input"])
def test_prefix_that_could_match_outputs_is_refused(prefix):
    with pytest.raises(InvalidArgument, match="input_prefix"):
        DarknetS3TriggerArgs(
            bucket_name="b", function_name="f", function_arn=FUNCTION_ARN, input_prefix=prefix
        )


def test_eventbridge_delivery_is_a_rule_on_the_input_prefix_and_leaves_the_bucket_alone(mocked):
    deployment = deploy(mocked, delivery="eventbridge", input_prefix="uploads/")
    assert deployment.of_type("aws:s3/bucketNotification:BucketNotification") == [], (
        "other notifications stay"
    )
    rule = deployment.one("aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["images"]}, "object": {"key": [{"prefix": "uploads/"}]}},
    }
    permission = deployment.one("aws:lambda/permission:Permission")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "detector",
        "principal": "events.amazonaws.com",
        "sourceArn": rule.state["arn"],
    }
    target = deployment.one("aws:cloudwatch/eventTarget:EventTarget")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.state["name"], FUNCTION_ARN)
    assert permission.urn in target.dependencies


def test_eventbridge_switch_on_an_owned_bucket_sets_only_eventbridge(mocked):
    deployment = deploy(mocked, delivery="eventbridge", enable_bucket_eventbridge=True)
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification == {"bucket": "images", "eventbridge": True}


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [({"delivery": "sns"}, "delivery"), ({"enable_bucket_eventbridge": True}, "enable_bucket_eventbridge")],
)
def test_bad_delivery_settings_are_refused(overrides, argument):
    with pytest.raises(InvalidArgument) as raised:
        DarknetS3TriggerArgs(bucket_name="b", function_name="f", function_arn=FUNCTION_ARN, **overrides)
    assert raised.value.argument == argument
