"""DarknetFunction: the detector Lambda, its least-privilege role, logs and failure queue."""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import (
    DEFAULT_EVENT_SOURCE,
    DEFAULT_LOG_RETENTION_DAYS,
    DEFAULT_MAX_TILES,
    EVENT_BUS_ENV,
    EVENT_SOURCE_ENV,
    LAMBDA_MAX_EPHEMERAL_MB,
    LAMBDA_MAX_TIMEOUT_SECONDS,
    LAMBDA_MB_PER_VCPU,
    LAMBDA_MIN_EPHEMERAL_MB,
    OUTPUT_BUCKET_ENV,
    RESERVED_VARIABLES,
    SQS_MAX_RETENTION_SECONDS,
    TILES_OFF,
    DetectorConfig,
    event_source_problem,
)

from .checks import (
    LOG_RETENTION_DAYS,
    InvalidArgument,
    args_from,
    check_choice,
    check_cors_origins,
    check_engine_memory,
    check_memory,
    check_range,
    contract_checked,
    cors_environment,
)
from .container_function import ContainerFunction, ContainerFunctionArgs
from .events import bus_arn, publish_statement
from .policies import policy_document

# Lambda's architectures (the default first) and Docker's platform for each: the image is built for the
# architecture the function declares.
ARCHITECTURE_PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
ARCHITECTURES = tuple(ARCHITECTURE_PLATFORMS)


@dataclass(kw_only=True)
class DarknetFunctionArgs:
    """The function's image, the bucket it reads and writes, and its runtime settings.

    Inside DarknetServiceArgs (as `function`) the service hands down what it decides once or creates
    (image_uri, the image's model and architecture, ...: service.HANDED) and refuses them here.
    """

    image_uri: pulumi.Input[str] | None = None
    """The container image the function runs (required when used alone)."""
    bucket_name: pulumi.Input[str] | None = None
    """The bucket the function reads input from and writes results to (required when used alone)."""
    model: str | None = None
    """The model built into the image (default yolov3-tiny)."""
    architecture: str | None = None
    """x86_64 or arm64, as the image was built (default x86_64)."""
    engine: str = "onnx"
    """onnx (default) or darknet, the reference engine kept in the image."""
    threshold: float = 0.5
    """Detection threshold, above 0 and below 1 (Darknet's default 0.5)."""
    tiles: str = TILES_OFF
    """Sliced inference for requests that do not choose: off (default), auto, a grid COLUMNSxROWS or a
    tile side in photo pixels, optionally :OVERLAP (docs/http-api.md, "Small objects: tiles")."""
    max_tiles: int = DEFAULT_MAX_TILES
    """The most tiles one photo is cut into, 1..1024; each costs about one detection's time."""
    input_prefix: str = "input/"
    """Objects created under this key prefix are processed."""
    output_prefix: str = "output/"
    """Results are written under this key prefix; it must not overlap the input prefix."""
    memory_size: int = LAMBDA_MB_PER_VCPU
    """MB, 1024..10240. Lambda sizes the CPU share by memory (1769 MB is one vCPU); 1769 MB is
    `make tune`'s balanced choice for yolov3-tiny (within 10% of the cheapest cost, faster). Every photo
    is decoded whole, so the darknet engine needs at least 1536 MB (contract.ENGINE_MIN_MEMORY_MB)."""
    timeout: int = 60
    """Seconds, 1..900."""
    ephemeral_storage: int = LAMBDA_MIN_EPHEMERAL_MB
    """MB of /tmp, 512..10240."""
    reserved_concurrency: int | None = None
    """Cap on concurrent runs (none by default)."""
    environment: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra environment variables; the detector's own settings are set by the fields above."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING or ERROR."""
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    """Days the function's logs are kept (a value CloudWatch Logs accepts)."""
    max_retry_attempts: int = 2
    """Retries of a failed asynchronous invocation, 0..2."""
    max_event_age_seconds: int = 3600
    """How long an asynchronous event may wait, 60..21600 seconds."""
    allow_self_invoke: bool = False
    """Let the function invoke itself asynchronously (the HTTP path's 202 answer needs it) and read its
    outputs, so that it can link an answer too large for Lambda's response to them."""
    bucket_kms_key_arn: pulumi.Input[str] | None = None
    """Set when the bucket is encrypted with a customer KMS key, so the function can read and write it."""
    cors_allowed_origins: list[str] | None = None
    """Origins whose pages may read the function's HTTP answers (CORS_ALLOWED_ORIGINS; see
    DarknetApiArgs.cors_allowed_origins). Inside DarknetServiceArgs leave it unset: the API's is used."""
    tracing: bool = False
    """X-Ray active tracing of each invocation (the role may then send trace segments)."""
    event_bus: pulumi.Input[str] | None = None
    """The EventBridge bus (name or ARN) the function publishes a completion event to for every result it
    writes; it may put events on that bus only. None: no events. Inside DarknetServiceArgs leave it
    unset: `events` decides."""
    event_source: str = DEFAULT_EVENT_SOURCE
    """The completion events' `source` (with event_bus). Inside DarknetServiceArgs: events.source."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_memory("memory_size", self.memory_size)
        check_range("timeout", self.timeout, 1, LAMBDA_MAX_TIMEOUT_SECONDS, "seconds")
        check_range(
            "ephemeral_storage",
            self.ephemeral_storage,
            LAMBDA_MIN_EPHEMERAL_MB,
            LAMBDA_MAX_EPHEMERAL_MB,
            "MB",
        )
        if self.architecture is not None:
            check_choice("architecture", self.architecture, ARCHITECTURES)
        check_choice("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        check_range("max_retry_attempts", self.max_retry_attempts, 0, 2)
        check_range("max_event_age_seconds", self.max_event_age_seconds, 60, 21600, "seconds")
        if self.reserved_concurrency is not None:
            check_range("reserved_concurrency", self.reserved_concurrency, 0, 10000)
        check_cors_origins("cors_allowed_origins", self.cors_allowed_origins)
        problem = event_source_problem(self.event_source)
        if problem:
            raise InvalidArgument("event_source", problem)
        reserved = sorted(RESERVED_VARIABLES & set(self.environment))
        if reserved:
            raise InvalidArgument(
                "environment",
                f"{', '.join(reserved)} belong to the detector's settings: set them through their arguments",
            )
        check_engine_memory("memory_size", self.detector_config().engine, self.memory_size)

    def detector_config(self) -> DetectorConfig:
        """The settings the handler reads back from the function's environment (the shared contract);
        the bucket's name, known only once the bucket exists, is added to the environment beside them."""
        return contract_checked(
            lambda: DetectorConfig(
                engine=self.engine,
                model=self.model or DetectorConfig.model,
                threshold=self.threshold,
                tiles=self.tiles,
                max_tiles=self.max_tiles,
                input_prefix=self.input_prefix,
                output_prefix=self.output_prefix,
                log_level=self.log_level,
            )
        )


class DarknetFunction(pulumi.ComponentResource):
    """A container-image Lambda that may only read input/, write output/, log, and report failures.

    `function`, `role`, `log_group` and `failure_queue` are the AWS resources (outputs in every
    language), for alarms, extra policies or subscriptions."""

    function_name: pulumi.Output[str]
    """The function's name."""
    function_arn: pulumi.Output[str]
    """The function's ARN."""
    invoke_arn: pulumi.Output[str]
    """The ARN API Gateway invokes."""
    log_group_name: pulumi.Output[str]
    """The function's CloudWatch log group."""
    failure_queue_arn: pulumi.Output[str]
    """The SQS queue receiving asynchronous events that failed after the retries."""
    role_name: pulumi.Output[str]
    """The function's IAM role (attach more policies to it by name)."""
    function: aws.lambda_.Function
    """The Lambda function."""
    role: aws.iam.Role
    """The function's IAM role."""
    log_group: aws.cloudwatch.LogGroup
    """The function's CloudWatch log group."""
    failure_queue: aws.sqs.Queue
    """The SQS queue receiving asynchronous events that failed after the retries."""

    def __init__(
        self, name: str, args: DarknetFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetFunction", name, None, opts)
        args = args_from(DarknetFunctionArgs, args)
        image_uri, bucket_name = args.image_uri, args.bucket_name
        if image_uri is None or bucket_name is None:
            raise InvalidArgument("image_uri" if image_uri is None else "bucket_name", "is required")
        child = pulumi.ResourceOptions(parent=self)

        self.failure_queue = aws.sqs.Queue(
            f"{name}-failures",
            message_retention_seconds=SQS_MAX_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=args.tags,
            opts=child,
        )
        failure_queue_arn = self.failure_queue.arn
        container = ContainerFunction(
            name,
            ContainerFunctionArgs(
                image_uri=image_uri,
                architecture=args.architecture or ARCHITECTURES[0],
                memory_size=args.memory_size,
                timeout=args.timeout,
                ephemeral_storage=args.ephemeral_storage,
                reserved_concurrency=args.reserved_concurrency,
                environment={
                    **args.detector_config().environment(),
                    OUTPUT_BUCKET_ENV: bucket_name,
                    **cors_environment(args.cors_allowed_origins),
                    **_events_environment(args.event_bus, args.event_source),
                    **args.environment,
                },
                access=lambda partition: pulumi.Output.all(bucket_name, failure_queue_arn).apply(
                    lambda values: _access_statements(
                        partition, values[0], values[1], args.input_prefix, args.output_prefix
                    )
                ),
                bucket_kms_key_arn=args.bucket_kms_key_arn,
                log_retention_days=args.log_retention_days,
                tracing=args.tracing,
                tags=args.tags,
            ),
            parent=self,
        )
        self.function, self.role, self.log_group = container.function, container.role, container.log_group
        access = container.access_policy
        aws.lambda_.FunctionEventInvokeConfig(
            name,
            function_name=self.function.name,
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_event_age_in_seconds=args.max_event_age_seconds,
            destination_config={"on_failure": {"destination": self.failure_queue.arn}},
            # AWS checks that the role may send to the destination when the config is saved.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]),
        )
        if args.allow_self_invoke:
            # A separate policy created after the function: its ARN is not known before, and putting it
            # in the role's first policy would make the role depend on the function that depends on it.
            aws.iam.RolePolicy(
                f"{name}-self-invoke",
                role=self.role.id,
                policy=pulumi.Output.all(self.function.arn, bucket_name).apply(
                    lambda values: _self_invoke_policy(values[0], values[1], args.output_prefix)
                ),
                opts=child,
            )

        if args.event_bus is not None:
            # After the function, as self-invoke: a bus given by name takes its ARN's account and region.
            aws.iam.RolePolicy(
                f"{name}-events",
                role=self.role.id,
                policy=pulumi.Output.all(self.function.arn, args.event_bus).apply(
                    lambda values: policy_document(publish_statement(bus_arn(values[1], values[0])))
                ),
                opts=child,
            )

        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.log_group_name = self.log_group.name
        self.failure_queue_arn = self.failure_queue.arn
        self.role_name = self.role.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "invoke_arn": self.invoke_arn,
                "log_group_name": self.log_group_name,
                "failure_queue_arn": self.failure_queue_arn,
                "role_name": self.role_name,
                "function": self.function,
                "role": self.role,
                "log_group": self.log_group,
                "failure_queue": self.failure_queue,
            }
        )


def _events_environment(bus: pulumi.Input[str] | None, source: str) -> dict[str, pulumi.Input[str]]:
    return {} if bus is None else {EVENT_BUS_ENV: bus, EVENT_SOURCE_ENV: source}


def _access_statements(
    partition: str,
    bucket: str,
    failure_queue_arn: str,
    input_prefix: str,
    output_prefix: str,
) -> list[dict]:
    return [
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


def _self_invoke_policy(function_arn: str, bucket: str, output_prefix: str) -> str:
    partition = function_arn.split(":")[1]
    return policy_document(
        {
            "Sid": "InvokeSelfAsynchronously",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function_arn],
        },
        {
            # A presigned link works with its signer's rights: a tar.gz over Lambda's 6 MB response
            # limit is answered with links to the outputs instead.
            "Sid": "LinkLargeAnswers",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:{partition}:s3:::{bucket}/{output_prefix}*"],
        },
    )
