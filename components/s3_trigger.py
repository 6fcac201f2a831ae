"""DarknetS3Trigger: run the function, or fill its queue, for every object created under the input prefix."""

import json
import typing
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import prefix_problem

from .checks import InvalidArgument, args_from, check_choice

DELIVERIES = ("notification", "eventbridge")


@dataclass(kw_only=True)
class DarknetS3TriggerArgs:
    """A bucket (created here or elsewhere, in the function's account) and where its events go: the
    function itself, or the queue the function consumes (give either the function or the queue)."""

    bucket_name: pulumi.Input[str]
    """The bucket whose new objects trigger the function."""
    function_name: pulumi.Input[str] | None = None
    """The function to invoke directly."""
    function_arn: pulumi.Input[str] | None = None
    """The function's ARN (it carries the partition and account of the permission)."""
    queue_arn: pulumi.Input[str] | None = None
    """Instead of the function: the SQS queue that receives the events (DarknetQueue)."""
    queue_url: pulumi.Input[str] | None = None
    """The queue's URL, for its policy letting S3 or EventBridge send to it (with queue_arn)."""
    input_prefix: str = "input/"
    """Only objects created under this key prefix trigger the function."""
    delivery: str = "notification"
    """notification: the bucket's S3 event notification, which replaces the bucket's whole notification
    configuration (for a bucket this stack owns). eventbridge: an EventBridge rule on the input prefix,
    which leaves the bucket's other notifications alone (for a shared bucket); the bucket must send its
    events to EventBridge."""
    enable_bucket_eventbridge: bool = False
    """With eventbridge delivery, also switch the bucket's EventBridge delivery on. That writes the
    bucket's notification configuration, so only for a bucket this stack owns; on a shared bucket its
    owner switches it on."""

    def __post_init__(self) -> None:
        # An empty prefix would also fire on the results the function writes.
        problem = prefix_problem(self.input_prefix)
        if problem:
            raise InvalidArgument("input_prefix", problem)
        check_choice("delivery", self.delivery, DELIVERIES)
        to_function = self.function_name is not None or self.function_arn is not None
        to_queue = self.queue_arn is not None or self.queue_url is not None
        if to_function == to_queue:
            raise InvalidArgument(
                "queue_arn", "give either function_name and function_arn, or queue_arn and queue_url"
            )
        missing = [
            name
            for name in (("function_name", "function_arn") if to_function else ("queue_arn", "queue_url"))
            if getattr(self, name) is None
        ]
        if missing:
            raise InvalidArgument(missing[0], "is required")
        if self.enable_bucket_eventbridge and self.delivery != "eventbridge":
            raise InvalidArgument("enable_bucket_eventbridge", "applies to the eventbridge delivery only")


class DarknetS3Trigger(pulumi.ComponentResource):
    """S3 events of the bucket to the function or its queue: `permission` is the Lambda permission (or
    `queue_policy`, the queue's policy, when events go to a queue); `notification` the bucket
    notification (notification delivery, or the bucket's EventBridge switch), `rule` and `target` the
    EventBridge rule and target (eventbridge delivery)."""

    def __init__(
        self, name: str, args: DarknetS3TriggerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetS3Trigger", name, None, opts)
        args = args_from(DarknetS3TriggerArgs, args)
        self.notification: aws.s3.BucketNotification | None = None
        self.rule: aws.cloudwatch.EventRule | None = None
        self.target: aws.cloudwatch.EventTarget | None = None
        self.permission: aws.lambda_.Permission | None = None
        self.queue_policy: aws.sqs.QueuePolicy | None = None

        # The function's (or queue's) ARN carries the partition and account: no lookup call is needed.
        target_arn = typing.cast(
            pulumi.Input[str], args.queue_arn if args.queue_arn is not None else args.function_arn
        )
        arn_parts = pulumi.Output.from_input(target_arn).apply(lambda arn: arn.split(":"))
        if args.delivery == "eventbridge":
            self._eventbridge(name, args)
        else:
            bucket_arn = pulumi.Output.all(arn_parts, args.bucket_name).apply(
                lambda values: f"arn:{values[0][1]}:s3:::{values[1]}"
            )
            if args.queue_arn is not None:
                self._notify_queue(name, args, bucket_arn, arn_parts.apply(lambda parts: parts[4]))
                self.register_outputs({})
                return
            self.permission = aws.lambda_.Permission(
                name,
                action="lambda:InvokeFunction",
                function=typing.cast(pulumi.Input[str], args.function_name),
                principal="s3.amazonaws.com",
                source_arn=bucket_arn,
                source_account=arn_parts.apply(lambda parts: parts[4]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.notification = aws.s3.BucketNotification(
                name,
                bucket=args.bucket_name,
                lambda_functions=[
                    {
                        "lambda_function_arn": args.function_arn,
                        "events": ["s3:ObjectCreated:*"],
                        "filter_prefix": args.input_prefix,
                    }
                ],
                # S3 tests the destination when saving the notification: the permission must exist first.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.permission]),
            )
        self.register_outputs({})

    def _notify_queue(
        self,
        name: str,
        args: DarknetS3TriggerArgs,
        bucket_arn: pulumi.Output[str],
        account: pulumi.Output[str],
    ) -> None:
        self.queue_policy = self._allow_send(
            name, args, "s3.amazonaws.com", bucket_arn, source_account=account
        )
        self.notification = aws.s3.BucketNotification(
            name,
            bucket=args.bucket_name,
            queues=[
                aws.s3.BucketNotificationQueueArgs(
                    queue_arn=typing.cast(pulumi.Input[str], args.queue_arn),
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=args.input_prefix,
                )
            ],
            # S3 sends a test message when saving the notification: the queue must accept it first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.queue_policy]),
        )

    def _allow_send(
        self,
        name: str,
        args: DarknetS3TriggerArgs,
        principal: str,
        source_arn: pulumi.Input[str],
        source_account: pulumi.Input[str] | None = None,
    ) -> aws.sqs.QueuePolicy:
        """The queue's policy: only this bucket (or rule), through its service, may send to it."""
        return aws.sqs.QueuePolicy(
            name,
            queue_url=typing.cast(pulumi.Input[str], args.queue_url),
            policy=pulumi.Output.all(args.queue_arn, source_arn, source_account).apply(
                lambda values: _queue_send_policy(principal, values[0], values[1], values[2])
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _eventbridge(self, name: str, args: DarknetS3TriggerArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        if args.enable_bucket_eventbridge:
            self.notification = aws.s3.BucketNotification(
                name, bucket=args.bucket_name, eventbridge=True, opts=child
            )
        self.rule = aws.cloudwatch.EventRule(
            name,
            description="New objects under the input prefix, for the detector",
            event_pattern=pulumi.Output.from_input(args.bucket_name).apply(
                lambda bucket: object_created_pattern(bucket, args.input_prefix)
            ),
            opts=child,
        )
        allowed: pulumi.Resource
        if args.queue_arn is not None:
            allowed = self.queue_policy = self._allow_send(name, args, "events.amazonaws.com", self.rule.arn)
        else:
            allowed = self.permission = aws.lambda_.Permission(
                name,
                action="lambda:InvokeFunction",
                function=typing.cast(pulumi.Input[str], args.function_name),
                principal="events.amazonaws.com",
                source_arn=self.rule.arn,
                opts=child,
            )
        self.target = aws.cloudwatch.EventTarget(
            name,
            rule=self.rule.name,
            arn=typing.cast(
                pulumi.Input[str], args.queue_arn if args.queue_arn is not None else args.function_arn
            ),
            # To the function, EventBridge invokes asynchronously: its retries and failure queue apply.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[allowed]),
        )


def _queue_send_policy(principal: str, queue_arn: str, source_arn: str, source_account: str | None) -> str:
    condition: dict = {"ArnEquals": {"aws:SourceArn": source_arn}}
    if source_account:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AcceptImageEvents",
                    "Effect": "Allow",
                    "Principal": {"Service": principal},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": condition,
                }
            ],
        }
    )


def object_created_pattern(bucket: str, input_prefix: str) -> str:
    """The EventBridge pattern of S3's 'Object Created' events of one bucket under one prefix."""
    return json.dumps(
        {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": input_prefix}]}},
        }
    )
