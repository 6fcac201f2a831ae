"""DarknetService: image, bucket, function, S3 trigger and REST API wired together."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields

import pulumi

from .api import DarknetApi, DarknetApiArgs
from .bucket import DarknetBucket, DarknetBucketArgs
from .checks import InvalidArgument
from .function import DarknetFunction, DarknetFunctionArgs, FunctionSettings
from .image import DarknetImage, DarknetImageArgs
from .s3_trigger import DarknetS3Trigger, DarknetS3TriggerArgs


@dataclass(kw_only=True)
class DarknetServiceArgs(FunctionSettings):
    """Everything a stack can choose: the function's settings (engine, model, memory, prefixes, ...)
    and the fields below. Each part is checked by the Args class of the component that uses it, when
    this object is created, so a bad value fails before any resource is registered."""

    # Image
    image_uri: pulumi.Input[str] | None = None
    """An existing image (ECR URI, or a local tag on LocalStack): nothing is built."""
    build_context: str | None = None
    push_to_ecr: bool = True
    keep_images: int = 10
    # Storage
    bucket_name: pulumi.Input[str] | None = None
    """Use this existing bucket (same account) instead of creating one."""
    bucket_versioning: bool = False
    output_expiration_days: int | None = None
    kms_key_arn: pulumi.Input[str] | None = None
    force_destroy: bool = False
    # Entry points
    enable_s3_trigger: bool = True
    enable_http_api: bool = True
    api_stage_name: str = "v1"
    api_throttle_rate_limit: float = 10.0
    api_throttle_burst_limit: int = 20
    api_manage_account_logs_role: bool = False

    def __post_init__(self) -> None:
        if not (self.enable_s3_trigger or self.enable_http_api):
            raise InvalidArgument("enable_http_api", "the S3 trigger and the HTTP API cannot both be off")
        self.image_args()
        self.bucket_args()
        self.function_args(image_uri="", bucket_name="")
        if self.enable_http_api:
            self.api_args(function_name="", function_invoke_arn="")

    def image_args(self) -> DarknetImageArgs:
        with _renamed({"context": "build_context", "force_delete": "force_destroy"}):
            return DarknetImageArgs(
                image_uri=self.image_uri,
                context=self.build_context,
                model=self.model,
                architecture=self.architecture,
                push_to_ecr=self.push_to_ecr,
                keep_images=self.keep_images,
                force_delete=self.force_destroy,
                tags=self.tags,
            )

    def bucket_args(self) -> DarknetBucketArgs:
        with _renamed({"versioning": "bucket_versioning"}):
            return DarknetBucketArgs(
                versioning=self.bucket_versioning,
                output_prefix=self.output_prefix,
                output_expiration_days=self.output_expiration_days,
                kms_key_arn=self.kms_key_arn,
                force_destroy=self.force_destroy,
                tags=self.tags,
            )

    def function_args(
        self, image_uri: pulumi.Input[str], bucket_name: pulumi.Input[str]
    ) -> DarknetFunctionArgs:
        with _renamed({"bucket_kms_key_arn": "kms_key_arn", "allow_self_invoke": "enable_http_api"}):
            return DarknetFunctionArgs(
                image_uri=image_uri,
                bucket_name=bucket_name,
                allow_self_invoke=self.enable_http_api,
                bucket_kms_key_arn=self.kms_key_arn,
                **{setting.name: getattr(self, setting.name) for setting in fields(FunctionSettings)},
            )

    def api_args(
        self, function_name: pulumi.Input[str], function_invoke_arn: pulumi.Input[str]
    ) -> DarknetApiArgs:
        with _renamed(
            {
                "stage_name": "api_stage_name",
                "throttle_rate_limit": "api_throttle_rate_limit",
                "throttle_burst_limit": "api_throttle_burst_limit",
                "manage_account_logs_role": "api_manage_account_logs_role",
            }
        ):
            return DarknetApiArgs(
                function_name=function_name,
                function_invoke_arn=function_invoke_arn,
                stage_name=self.api_stage_name,
                throttle_rate_limit=self.api_throttle_rate_limit,
                throttle_burst_limit=self.api_throttle_burst_limit,
                log_retention_days=self.log_retention_days,
                manage_account_logs_role=self.api_manage_account_logs_role,
                tags=self.tags,
            )


@contextmanager
def _renamed(names: Mapping[str, str]) -> Iterator[None]:
    """Report a component's argument under the name it has in DarknetServiceArgs."""
    try:
        yield
    except InvalidArgument as error:
        raise InvalidArgument(names.get(error.argument, error.argument), error.reason) from None


class DarknetService(pulumi.ComponentResource):
    """The whole detector: either entry path (S3 upload, HTTP POST /detect) can be turned off."""

    bucket_name: pulumi.Output[str]
    input_uri: pulumi.Output[str]
    output_uri: pulumi.Output[str]
    api_url: pulumi.Output[str] | None
    function_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    image_uri: pulumi.Output[str]

    def __init__(self, name: str, args: DarknetServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("darknet:index:DarknetService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        image = DarknetImage(name, args.image_args(), child)
        if args.bucket_name is None:
            bucket_name = DarknetBucket(name, args.bucket_args(), child).bucket_name
        else:
            bucket_name = pulumi.Output.from_input(args.bucket_name)
        function = DarknetFunction(name, args.function_args(image.image_uri, bucket_name), child)

        if args.enable_s3_trigger:
            DarknetS3Trigger(
                name,
                DarknetS3TriggerArgs(
                    bucket_name=bucket_name,
                    function_name=function.function_name,
                    function_arn=function.function_arn,
                    input_prefix=args.input_prefix,
                ),
                child,
            )

        self.api_url = None
        if args.enable_http_api:
            api_args = args.api_args(function.function_name, function.invoke_arn)
            self.api_url = DarknetApi(name, api_args, child).url

        self.bucket_name = bucket_name
        self.input_uri = bucket_name.apply(lambda bucket: f"s3://{bucket}/{args.input_prefix}")
        self.output_uri = bucket_name.apply(lambda bucket: f"s3://{bucket}/{args.output_prefix}")
        self.function_name = function.function_name
        self.log_group_name = function.log_group_name
        self.image_uri = image.image_uri
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "input_uri": self.input_uri,
                "output_uri": self.output_uri,
                "api_url": self.api_url,
                "function_name": self.function_name,
                "log_group_name": self.log_group_name,
                "image_uri": self.image_uri,
            }
        )
