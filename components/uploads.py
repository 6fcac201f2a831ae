"""DarknetUploads: the function behind POST /uploads and GET /results/{request_id}, and its own role.

It runs the detector's image with another command (a small handler that never loads the model) and
may only sign uploads under `<input_prefix>uploads/` and read `<output_prefix>*/result.json`: a
presigned form or link works with its signer's rights, so those rights are all a client can get.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import (
    DEFAULT_LOG_RETENTION_DAYS,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
    OUTPUT_BUCKET_ENV,
    RESULT_JSON,
    RESULT_WINDOW_ENV,
    UPLOAD_URL_SECONDS,
    UPLOADS_FOLDER,
    UPLOADS_HANDLER,
    DetectorConfig,
)

from .checks import (
    LOG_RETENTION_DAYS,
    InvalidArgument,
    args_from,
    check_choice,
    check_cors_origins,
    check_range,
    contract_checked,
    cors_environment,
)
from .container_function import ContainerFunction, ContainerFunctionArgs
from .function import ARCHITECTURES


@dataclass(kw_only=True)
class DarknetUploadsArgs:
    """The uploads function: the image and bucket it shares with the detector, and its own size.

    Inside DarknetServiceArgs (as `uploads`) the service hands down what it decides once or creates
    (image_uri, the function's prefixes, ...: service.HANDED) and refuses them here."""

    image_uri: pulumi.Input[str] | None = None
    """The detector's container image; this function runs its uploads handler (required when used alone)."""
    bucket_name: pulumi.Input[str] | None = None
    """The bucket uploads go to and results are read from (required when used alone)."""
    input_prefix: str | None = None
    """The detector's input prefix (default input/); uploads go under its `uploads/` folder."""
    output_prefix: str | None = None
    """The detector's output prefix (default output/), where result.json files are read."""
    architecture: str | None = None
    """x86_64 or arm64, as the image was built (default x86_64)."""
    bucket_kms_key_arn: pulumi.Input[str] | None = None
    """Set when the bucket is encrypted with a customer KMS key: uploads and reads need it."""
    result_window_seconds: int | None = None
    """How long after an id is given out a missing result is answered as pending rather than unknown:
    the upload form's life plus how long the detector may take, retries included (required alone)."""
    cors_allowed_origins: list[str] | None = None
    """Origins whose pages may read the function's answers (CORS_ALLOWED_ORIGINS; see
    DarknetApiArgs.cors_allowed_origins; in DarknetServiceArgs leave it unset: the API's is used)."""
    memory_size: int = 256
    """MB, 128..10240: signing and reading a small JSON need little (CPU follows memory)."""
    timeout: int = 10
    """Seconds, 1..29 (API Gateway's integration timeout)."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING or ERROR."""
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    """Days the function's logs are kept (a value CloudWatch Logs accepts)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_range("memory_size", self.memory_size, LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB, "MB")
        check_range("timeout", self.timeout, 1, 29, "seconds")
        check_cors_origins("cors_allowed_origins", self.cors_allowed_origins)
        check_choice("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        if self.architecture is not None:
            check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.result_window_seconds is not None:
            check_range("result_window_seconds", self.result_window_seconds, UPLOAD_URL_SECONDS, 14 * 86400)
        self.detector_config()

    def detector_config(self) -> DetectorConfig:
        """The prefixes and log level, checked by the contract the detector's settings follow."""
        defaults = DetectorConfig()
        return contract_checked(
            lambda: DetectorConfig(
                input_prefix=self.input_prefix or defaults.input_prefix,
                output_prefix=self.output_prefix or defaults.output_prefix,
                log_level=self.log_level,
            )
        )


class DarknetUploads(pulumi.ComponentResource):
    """The uploads function with a role that may sign uploads and read results, nothing more.

    `function`, `role` and `log_group` are the AWS resources (outputs in every language)."""

    function_name: pulumi.Output[str]
    """The function's name."""
    function_arn: pulumi.Output[str]
    """The function's ARN."""
    invoke_arn: pulumi.Output[str]
    """The ARN API Gateway invokes."""
    role_name: pulumi.Output[str]
    """The function's IAM role."""
    log_group_name: pulumi.Output[str]
    """The function's CloudWatch log group."""
    function: aws.lambda_.Function
    """The Lambda function."""
    role: aws.iam.Role
    """The function's IAM role."""
    log_group: aws.cloudwatch.LogGroup
    """The function's CloudWatch log group."""

    def __init__(
        self, name: str, args: DarknetUploadsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetUploads", name, None, opts)
        args = args_from(DarknetUploadsArgs, args)
        image_uri, bucket_name, window = args.image_uri, args.bucket_name, args.result_window_seconds
        if image_uri is None or bucket_name is None or window is None:
            missing = (
                "image_uri"
                if image_uri is None
                else "bucket_name"
                if bucket_name is None
                else "result_window_seconds"
            )
            raise InvalidArgument(missing, "is required")
        config = args.detector_config()
        container = ContainerFunction(
            name,
            ContainerFunctionArgs(
                image_uri=image_uri,
                command=UPLOADS_HANDLER,
                architecture=args.architecture or ARCHITECTURES[0],
                memory_size=args.memory_size,
                timeout=args.timeout,
                environment={
                    **config.shared_environment(),
                    OUTPUT_BUCKET_ENV: bucket_name,
                    RESULT_WINDOW_ENV: str(window),
                    **cors_environment(args.cors_allowed_origins),
                },
                access=lambda partition: pulumi.Output.from_input(bucket_name).apply(
                    lambda bucket: uploads_statements(
                        partition, bucket, config.input_prefix, config.output_prefix
                    )
                ),
                bucket_kms_key_arn=args.bucket_kms_key_arn,
                log_retention_days=args.log_retention_days,
                tags=args.tags,
            ),
            parent=self,
        )
        self.function, self.role, self.log_group = container.function, container.role, container.log_group

        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.role_name = self.role.name
        self.log_group_name = self.log_group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "invoke_arn": self.invoke_arn,
                "role_name": self.role_name,
                "log_group_name": self.log_group_name,
                "function": self.function,
                "role": self.role,
                "log_group": self.log_group,
            }
        )


def uploads_statements(partition: str, bucket: str, input_prefix: str, output_prefix: str) -> list[dict]:
    """What the uploads function's role may do with the bucket."""
    return [
        {
            # A presigned POST works with its signer's rights: these are all an upload form can have.
            "Sid": "SignUploads",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"arn:{partition}:s3:::{bucket}/{input_prefix}{UPLOADS_FOLDER}*"],
        },
        {
            "Sid": "ReadResults",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:{partition}:s3:::{bucket}/{output_prefix}*/{RESULT_JSON}"],
        },
    ]
