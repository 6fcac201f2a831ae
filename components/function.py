"""DarknetFunction: the detector Lambda, its least-privilege role, logs and failure queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .checks import (
    LOG_RETENTION_DAYS,
    check_choice,
    check_memory,
    check_prefixes,
    check_range,
)
from .policies import assume_role_policy, policy_document

ENGINES = ("onnx", "darknet")
ARCHITECTURES = ("x86_64", "arm64")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(kw_only=True)
class FunctionSettings:
    """The function's runtime settings, also offered flat by DarknetServiceArgs."""

    input_prefix: str = "input/"
    output_prefix: str = "output/"
    engine: str = "onnx"
    """onnx (default) or darknet, the reference engine kept in the image."""
    model: str = "yolov3-tiny"
    threshold: float = 0.5
    memory_size: int = 2048
    timeout: int = 60
    ephemeral_storage: int = 512
    architecture: str = "x86_64"
    reserved_concurrency: int | None = None
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra variables; they override the defaults the component sets."""
    log_level: str = "INFO"
    log_retention_days: int = 14
    max_retry_attempts: int = 2
    max_event_age_seconds: int = 3600
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class DarknetFunctionArgs(FunctionSettings):
    """The function's image, the bucket it reads and writes, and its runtime settings."""

    image_uri: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    allow_self_invoke: bool = False
    """Let the function invoke itself asynchronously (the HTTP path's 202 answer needs it)."""
    bucket_kms_key_arn: pulumi.Input[str] | None = None
    """Set when the bucket is encrypted with a customer KMS key, so the function can read and write it."""

    def __post_init__(self) -> None:
        check_memory("memory_size", self.memory_size)
        check_range("timeout", self.timeout, 1, 900, "seconds")
        check_range("ephemeral_storage", self.ephemeral_storage, 512, 10240, "MB")
        check_range("threshold", self.threshold, 0.01, 1.0)
        check_choice("engine", self.engine, ENGINES)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_choice("log_level", self.log_level, LOG_LEVELS)
        check_choice("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        check_range("max_retry_attempts", self.max_retry_attempts, 0, 2)
        check_range("max_event_age_seconds", self.max_event_age_seconds, 60, 21600, "seconds")
        if self.reserved_concurrency is not None:
            check_range("reserved_concurrency", self.reserved_concurrency, 0, 10000)
        check_prefixes("input_prefix", self.input_prefix, "output_prefix", self.output_prefix)


class DarknetFunction(pulumi.ComponentResource):
    """A container-image Lambda that may only read input/, write output/, log, and report failures."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    failure_queue_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DarknetFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("darknet:index:DarknetFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            name,
            name_prefix=f"/aws/lambda/{name}-",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        failure_queue = aws.sqs.Queue(
            f"{name}-failures",
            message_retention_seconds=14 * 24 * 3600,
            sqs_managed_sse_enabled=True,
            tags=args.tags,
            opts=child,
        )
        role = aws.iam.Role(
            name,
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=args.tags,
            opts=child,
        )
        access = aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(
                log_group.arn, args.bucket_name, failure_queue.arn, args.bucket_kms_key_arn
            ).apply(lambda values: _access_policy(*values, args.input_prefix, args.output_prefix)),
            opts=child,
        )

        environment = {
            "DETECTOR_ENGINE": args.engine,
            "DETECTOR_MODEL": args.model,
            "DETECTOR_THRESHOLD": str(args.threshold),
            "INPUT_PREFIX": args.input_prefix,
            "OUTPUT_PREFIX": args.output_prefix,
            "OUTPUT_BUCKET": args.bucket_name,
            "POWERTOOLS_SERVICE_NAME": "darknet-lambda",
            "POWERTOOLS_LOG_LEVEL": args.log_level,
            "LOG_LEVEL": args.log_level,
            **args.environment,
        }
        function = aws.lambda_.Function(
            name,
            package_type="Image",
            image_uri=args.image_uri,
            role=role.arn,
            architectures=[args.architecture],
            memory_size=args.memory_size,
            timeout=args.timeout,
            ephemeral_storage={"size": args.ephemeral_storage},
            reserved_concurrent_executions=args.reserved_concurrency,
            environment={"variables": environment},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=args.tags,
            # The role must be able to write logs and read input before the first event arrives.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            name,
            function_name=function.name,
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_event_age_in_seconds=args.max_event_age_seconds,
            destination_config={"on_failure": {"destination": failure_queue.arn}},
            # AWS checks that the role may send to the destination when the config is saved.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]),
        )
        if args.allow_self_invoke:
            # A separate policy created after the function: its ARN is not known before, and putting it
            # in the role's first policy would make the role depend on the function that depends on it.
            aws.iam.RolePolicy(
                f"{name}-self-invoke",
                role=role.id,
                policy=function.arn.apply(_self_invoke_policy),
                opts=child,
            )

        self.function_name = function.name
        self.function_arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.log_group_name = log_group.name
        self.failure_queue_arn = failure_queue.arn
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "log_group_name": self.log_group_name,
                "failure_queue_arn": self.failure_queue_arn,
            }
        )


def _access_policy(
    log_group_arn: str,
    bucket: str,
    failure_queue_arn: str,
    kms_key_arn: str | None,
    input_prefix: str,
    output_prefix: str,
) -> str:
    partition = log_group_arn.split(":")[1]
    statements = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group_arn}:*"],
        },
        {
            "Sid": "ReadInput",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:{partition}:s3:::{bucket}/{input_prefix}*"],
        },
        {
            "Sid": "WriteOutput",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"arn:{partition}:s3:::{bucket}/{output_prefix}*"],
        },
        {
            "Sid": "ReportFailedEvents",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [failure_queue_arn],
        },
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "UseBucketKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [kms_key_arn],
            }
        )
    return policy_document(*statements)


def _self_invoke_policy(function_arn: str) -> str:
    return policy_document(
        {
            "Sid": "InvokeSelfAsynchronously",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function_arn],
        }
    )
