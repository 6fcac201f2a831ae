"""DarknetS3Trigger: run the function for every object created under the input prefix of a bucket."""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .checks import InvalidArgument, args_from, check_choice
from .contract import prefix_problem

DELIVERIES = ("notification", "eventbridge")


@dataclass(kw_only=True)
class DarknetS3TriggerArgs:
    """A bucket (created here or elsewhere, in the function's account) and the function it triggers."""

    bucket_name: pulumi.Input[str]
    """The bucket whose new objects trigger the function."""
    function_name: pulumi.Input[str]
    """The function to invoke."""
    function_arn: pulumi.Input[str]
    """The function's ARN (it carries the partition and account of the permission)."""
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
        if self.enable_bucket_eventbridge and self.delivery != "eventbridge":
            raise InvalidArgument("enable_bucket_eventbridge", "applies to the eventbridge delivery only")


class DarknetS3Trigger(pulumi.ComponentResource):
    """S3 events of the bucket to the function: `permission` is the Lambda permission; `notification`
    the bucket notification (notification delivery, or the bucket's EventBridge switch), `rule` and
    `target` the EventBridge rule and target (eventbridge delivery)."""

    def __init__(
        self, name: str, args: DarknetS3TriggerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetS3Trigger", name, None, opts)
        args = args_from(DarknetS3TriggerArgs, args)
        self.notification: aws.s3.BucketNotification | None = None
        self.rule: aws.cloudwatch.EventRule | None = None
        self.target: aws.cloudwatch.EventTarget | None = None

        # The function's ARN carries the partition and account, so no lookup call is needed.
        arn_parts = pulumi.Output.from_input(args.function_arn).apply(lambda arn: arn.split(":"))
        if args.delivery == "eventbridge":
            self._eventbridge(name, args)
        else:
            bucket_arn = pulumi.Output.all(arn_parts, args.bucket_name).apply(
                lambda values: f"arn:{values[0][1]}:s3:::{values[1]}"
            )
            self.permission = aws.lambda_.Permission(
                name,
                action="lambda:InvokeFunction",
                function=args.function_name,
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
        self.permission = aws.lambda_.Permission(
            name,
            action="lambda:InvokeFunction",
            function=args.function_name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
            opts=child,
        )
        self.target = aws.cloudwatch.EventTarget(
            name,
            rule=self.rule.name,
            arn=args.function_arn,
            # EventBridge invokes asynchronously: the function's own retries and failure queue apply.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.permission]),
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
