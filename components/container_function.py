"""ContainerFunction: a Lambda function running a container image, with its own log group, role and
access policy; the block the detector (DarknetFunction) and the uploads function (DarknetUploads)
share."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .policies import assume_role_policy, bucket_key_statement, own_logs_statement, policy_document


@dataclass(kw_only=True)
class ContainerFunctionArgs:
    """What differs between the functions that run the detector's image."""

    image_uri: pulumi.Input[str]
    """The container image the function runs."""
    command: str | None = None
    """The image's command to run instead of its own (the handler, module.function)."""
    architecture: str
    """x86_64 or arm64, as the image was built."""
    memory_size: int
    """MB; Lambda sizes the CPU share by it."""
    timeout: int
    """Seconds."""
    environment: dict[str, pulumi.Input[str]]
    """The function's environment variables."""
    access: Callable[[str], pulumi.Input[list[dict]]]
    """The role's own statements (what it may do with the bucket, ...), given the partition the function
    lives in (aws, aws-cn, ...); writing its logs, sending traces and using the bucket's key are added."""
    bucket_kms_key_arn: pulumi.Input[str] | None = None
    """The bucket's customer KMS key, when it has one: reading and writing its objects needs it."""
    log_retention_days: int
    """Days the function's logs are kept."""
    ephemeral_storage: int | None = None
    """MB of /tmp (Lambda's default 512 when None)."""
    reserved_concurrency: int | None = None
    """Cap on concurrent runs (none when None)."""
    tracing: bool = False
    """X-Ray active tracing of each invocation; the role may then send trace segments."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""


class ContainerFunction:
    """The function, its log group, its role and the role's access policy, created as children of the
    component that owns the function (`parent`), under that component's name: a helper rather than a
    component of its own, so that the resources keep the names and parents they had before it existed.

    `function`, `role`, `log_group` and `access_policy` are the AWS resources; anything that must wait
    for the role's rights (an event invoke config, an event source mapping) depends on
    `access_policy`."""

    def __init__(self, name: str, args: ContainerFunctionArgs, parent: pulumi.Resource) -> None:
        child = pulumi.ResourceOptions(parent=parent)
        self.log_group = aws.cloudwatch.LogGroup(
            name,
            name_prefix=f"/aws/lambda/{name}-",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            name, assume_role_policy=assume_role_policy("lambda.amazonaws.com"), tags=args.tags, opts=child
        )
        statements = self.log_group.arn.apply(lambda arn: args.access(arn.split(":")[1]))
        self.access_policy = aws.iam.RolePolicy(
            f"{name}-access",
            role=self.role.id,
            policy=pulumi.Output.all(self.log_group.arn, statements, args.bucket_kms_key_arn).apply(
                lambda values: policy_document(
                    own_logs_statement(values[0]),
                    *values[1],
                    *([SEND_TRACES] if args.tracing else []),
                    *([bucket_key_statement(values[2])] if values[2] else []),
                )
            ),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            name,
            package_type="Image",
            image_uri=args.image_uri,
            image_config={"commands": [args.command]} if args.command else None,
            role=self.role.arn,
            architectures=[args.architecture],
            memory_size=args.memory_size,
            timeout=args.timeout,
            ephemeral_storage={"size": args.ephemeral_storage} if args.ephemeral_storage else None,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment={"variables": args.environment},
            logging_config={"log_format": "Text", "log_group": self.log_group.name},
            tracing_config={"mode": "Active"} if args.tracing else None,
            tags=args.tags,
            # The role must be able to write logs and read input before the first event arrives.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.access_policy]),
        )


# X-Ray's trace APIs take no resource-level permissions (AWSXRayDaemonWriteAccess uses "*" too).
SEND_TRACES = {
    "Sid": "SendTraces",
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": ["*"],
}
