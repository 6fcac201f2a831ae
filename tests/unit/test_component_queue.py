"""DarknetQueue and the queue ingestion of the service: what AWS enforces and LocalStack does not
(maximum concurrency, the consumer's least privilege, the queue policy's source) is checked here."""

import json

import pytest

from darknet_lambda import (
    DarknetQueue,
    DarknetQueueArgs,
    DarknetS3Trigger,
    DarknetS3TriggerArgs,
    DarknetService,
    DarknetServiceArgs,
    InvalidArgument,
)

ACCOUNT = "123456789012"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:darknet-images"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/darknet-images"


def deploy_queue(mocked, **overrides):
    args = DarknetQueueArgs(
        function_name="detector", role_name="detector-role", function_timeout=60, **overrides
    )
    return mocked.run(lambda: DarknetQueue("images", args))


def test_batches_report_item_failures_at_a_capped_concurrency(mocked):
    deployment = deploy_queue(mocked, batch_size=5, maximum_concurrency=4)
    mapping = deployment.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    queue = deployment.one("aws:sqs/queue:Queue", "images-images")
    assert mapping.inputs["eventSourceArn"] == queue.state["arn"]
    assert mapping.inputs["functionName"] == "detector"
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 4}
    assert (mapping.inputs["batchSize"], mapping.inputs["maximumBatchingWindowInSeconds"]) == (5, 0)
    policy = deployment.one("aws:iam/rolePolicy:RolePolicy")
    assert policy.urn in mapping.dependencies, "Lambda checks the role's access when creating the mapping"


def test_visibility_timeout_is_six_function_timeouts_plus_the_window_and_failures_redrive(mocked):
    deployment = deploy_queue(mocked, batching_window_seconds=5, max_receive_count=4)
    queue = deployment.one("aws:sqs/queue:Queue", "images-images").inputs
    dead_letters = deployment.one("aws:sqs/queue:Queue", "images-dead-letters")
    assert queue["visibilityTimeoutSeconds"] == 6 * 60 + 5
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters.state["arn"],
        "maxReceiveCount": 4,
    }
    assert queue["sqsManagedSseEnabled"] and dead_letters.inputs["sqsManagedSseEnabled"]
    assert dead_letters.inputs["messageRetentionSeconds"] > queue["messageRetentionSeconds"]


def test_the_consumer_may_only_receive_delete_and_read_attributes_of_this_queue(mocked):
    deployment = deploy_queue(mocked)
    queue_arn = deployment.one("aws:sqs/queue:Queue", "images-images").state["arn"]
    policy = deployment.one("aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == "detector-role"
    assert policy.policy()["Statement"] == [
        {
            "Sid": "ConsumeImageQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": [queue_arn],
        }
    ]


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"maximum_concurrency": 1}, "maximum_concurrency"),
        ({"maximum_concurrency": 1001}, "maximum_concurrency"),
        ({"batch_size": 11}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"batching_window_seconds": 301}, "batching_window_seconds"),
        ({"max_receive_count": 0}, "max_receive_count"),
        ({"visibility_timeout_seconds": 59}, "visibility_timeout_seconds"),
    ],
)
def test_settings_aws_refuses_are_refused_before_deploying(overrides, argument):
    with pytest.raises(InvalidArgument, match=argument):
        DarknetQueueArgs(function_name="f", role_name="r", function_timeout=60, **overrides)


def test_a_large_batch_needs_a_window():
    assert DarknetQueueArgs(batch_size=100, batching_window_seconds=1).batch_size == 100


def test_s3_notification_to_the_queue_is_allowed_from_this_bucket_and_account_only(mocked):
    args = DarknetS3TriggerArgs(bucket_name="images", queue_arn=QUEUE_ARN, queue_url=QUEUE_URL)
    deployment = mocked.run(lambda: DarknetS3Trigger("images", args))
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["queues"] == [
        {"queueArn": QUEUE_ARN, "events": ["s3:ObjectCreated:*"], "filterPrefix": "input/"}
    ]
    assert "lambdaFunctions" not in notification.inputs
    assert deployment.of_type("aws:lambda/permission:Permission") == []
    policy = deployment.one("aws:sqs/queuePolicy:QueuePolicy")
    assert policy.urn in notification.dependencies, "S3 sends a test message when saving"
    assert policy.inputs["queueUrl"] == QUEUE_URL
    (statement,) = policy.policy()["Statement"]
    assert statement == {
        "Sid": "AcceptImageEvents",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
        "Condition": {
            "ArnEquals": {"aws:SourceArn": "arn:aws:s3:::images"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
    }


def test_a_trigger_goes_to_the_function_or_the_queue_not_both():
    with pytest.raises(InvalidArgument, match="either"):
        DarknetS3TriggerArgs(
            bucket_name="b",
            function_name="f",
            function_arn="arn:aws:lambda:us-east-1:1:function:f",
            queue_arn=QUEUE_ARN,
            queue_url=QUEUE_URL,
        )
    with pytest.raises(InvalidArgument, match="queue_url"):
        DarknetS3TriggerArgs(bucket_name="b", queue_arn=QUEUE_ARN)


def service(mocked, **overrides):
    args = DarknetServiceArgs(image={"image_uri": "repo/darknet:tag"}, enable_http_api=False, **overrides)
    return mocked.run(lambda: DarknetService("darknet", args))


def test_the_service_ingests_through_the_queue_by_default(mocked):
    deployment = service(mocked, function={"timeout": 30}, queue={"maximum_concurrency": 5})
    function = deployment.one("aws:lambda/function:Function")
    mapping = deployment.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert mapping["functionName"] == function.state["name"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 5}
    queue = deployment.one("aws:sqs/queue:Queue", "darknet-images").inputs
    assert queue["visibilityTimeoutSeconds"] == 180
    consume = deployment.one("aws:iam/rolePolicy:RolePolicy", "darknet-consume")
    assert consume.inputs["role"] == deployment.one("aws:iam/role:Role").state["name"]
    assert deployment.one("aws:s3/bucketNotification:BucketNotification").inputs["queues"]


def test_direct_ingestion_keeps_the_asynchronous_invocation(mocked):
    deployment = service(mocked, ingestion="direct")
    assert deployment.of_type("aws:lambda/eventSourceMapping:EventSourceMapping") == []
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["lambdaFunctions"] and "queues" not in notification


def test_the_service_wires_the_queue_itself():
    with pytest.raises(InvalidArgument, match=r"queue\.function_timeout: is set by the service"):
        DarknetServiceArgs(queue={"function_timeout": 10})
    with pytest.raises(InvalidArgument, match="ingestion"):
        DarknetServiceArgs(ingestion="kinesis")


def test_tracing_turns_on_active_xray_and_lets_the_role_send_traces(mocked):
    deployment = service(mocked, function={"tracing": True})
    assert deployment.one("aws:lambda/function:Function").inputs["tracingConfig"] == {"mode": "Active"}
    statements = deployment.one("aws:iam/rolePolicy:RolePolicy", "darknet-access").policy()["Statement"]
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} == {
        action for s in statements if s["Sid"] == "SendTraces" for action in s["Action"]
    }
    untraced = service(mocked)
    assert "tracingConfig" not in untraced.one("aws:lambda/function:Function").inputs


def test_the_queue_may_not_drive_more_than_the_reserved_concurrency():
    with pytest.raises(InvalidArgument, match=r"queue\.maximum_concurrency: 30 is above function\.reserved"):
        DarknetServiceArgs(function={"reserved_concurrency": 20}, queue={"maximum_concurrency": 30})
    assert DarknetServiceArgs(
        function={"reserved_concurrency": 20}, ingestion="direct", queue={"maximum_concurrency": 30}
    )
