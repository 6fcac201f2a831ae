"""DarknetS3Trigger: run the function for every object created under the input prefix of a bucket."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .checks import InvalidArgument, args_from
from .contract import prefix_problem


@dataclass(kw_only=True)
class DarknetS3TriggerArgs:
    """A bucket (created here or elsewhere) and the function it triggers.

    The bucket must be in the function's account. S3 keeps one notification configuration per
    bucket: this replaces any other notification set on an existing bucket.
    """

    bucket_name: pulumi.Input[str]
    """The bucket whose new objects trigger the function."""
    function_name: pulumi.Input[str]
    """The function to invoke."""
    function_arn: pulumi.Input[str]
    """The function's ARN (it carries the partition and account of the permission)."""
    input_prefix: str = "input/"
    """Only objects created under this key prefix trigger the function."""

    def __post_init__(self) -> None:
        # An empty prefix would also fire on the results the function writes.
        problem = prefix_problem(self.input_prefix)
        if problem:
            raise InvalidArgument("input_prefix", problem)


class DarknetS3Trigger(pulumi.ComponentResource):
    """S3 event notification of the bucket to the function; `permission` and `notification` are the
    Lambda permission and the bucket notification resources."""

    def __init__(
        self, name: str, args: DarknetS3TriggerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetS3Trigger", name, None, opts)
        args = args_from(DarknetS3TriggerArgs, args)

        # The function's ARN carries the partition and account, so no lookup call is needed.
        arn_parts = pulumi.Output.from_input(args.function_arn).apply(lambda arn: arn.split(":"))
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
