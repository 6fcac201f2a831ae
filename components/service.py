"""DarknetService: image, bucket, function, S3 trigger (through a queue), REST API with its uploads
function, and monitoring."""

import dataclasses
import typing
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import UPLOAD_URL_SECONDS

from .api import DarknetApi, DarknetApiArgs
from .bucket import DarknetBucket, DarknetBucketArgs
from .checks import InvalidArgument, args_from, argument_path, check_choice
from .events import DarknetEvents, DarknetEventsArgs
from .function import DarknetFunction, DarknetFunctionArgs
from .image import DarknetImage, DarknetImageArgs
from .monitoring import DarknetMonitoring, DarknetMonitoringArgs
from .queue import DarknetQueue, DarknetQueueArgs
from .s3_trigger import DELIVERIES, DarknetS3Trigger, DarknetS3TriggerArgs
from .uploads import DarknetUploads, DarknetUploadsArgs

INGESTIONS = ("queue", "direct")

T = typing.TypeVar("T")


class Decision(typing.NamedTuple):
    """A decision several parts take, made once by the stack: its value, and where the stack makes it."""

    home: str
    value: object


# What the service creates and hands to the parts that use it, by the argument's name in every part.
CREATED = {
    "image_uri": "the image",
    "bucket_name": "the bucket (or bucket_name)",
    "input_uri": "the bucket and function.input_prefix",
    "function_name": "the function",
    "function_arn": "the function",
    "function_invoke_arn": "the function",
    "role_name": "the function",
    "failure_queue_name": "the function",
    "uploads_function_name": "the uploads function",
    "uploads_function_invoke_arn": "the uploads function",
    "queue_name": "the queue",
    "dead_letter_queue_name": "the queue",
    "event_bus": "events (the bus created, or events.bus_name or events.bus_arn)",
}

# The arguments of each part that the service sets, each a decision (DarknetServiceArgs.decisions) or
# a resource it creates (CREATED), named alike in every part. A stack cannot set them in the part: the
# service refuses it, so a decision has one place.
HANDED: dict[str, tuple[str, ...]] = {
    "image": ("engine",),
    "bucket": ("output_prefix", "cors_allowed_origins"),
    "function": (
        "image_uri",
        "bucket_name",
        "model",
        "architecture",
        "allow_self_invoke",
        "bucket_kms_key_arn",
        "cors_allowed_origins",
        "event_bus",
        "event_source",
    ),
    "uploads": (
        "image_uri",
        "bucket_name",
        "input_prefix",
        "output_prefix",
        "architecture",
        "bucket_kms_key_arn",
        "result_window_seconds",
        "cors_allowed_origins",
    ),
    "api": (
        "function_name",
        "function_invoke_arn",
        "uploads_function_name",
        "uploads_function_invoke_arn",
        "input_uri",
    ),
    "queue": ("function_name", "role_name", "function_timeout"),
    "monitoring": (
        "function_name",
        "function_arn",
        "function_timeout",
        "queue_name",
        "dead_letter_queue_name",
        "failure_queue_name",
        "completion_events",
    ),
    "events": (),
}


@dataclass(kw_only=True)
class DarknetServiceArgs:
    """Everything a stack can choose, grouped by the part that uses it. Each part is checked by its own
    Args class when this object is created, so a bad value fails before any resource is registered,
    and is reported under its path (`function.memory_size`)."""

    image: DarknetImageArgs = field(default_factory=DarknetImageArgs)
    """The function's image: built from the shipped recipe and pushed to ECR, built locally, or given."""
    bucket: DarknetBucketArgs = field(default_factory=DarknetBucketArgs)
    """The bucket created for input and results (ignored, except kms_key_arn, with `bucket_name`)."""
    function: DarknetFunctionArgs = field(default_factory=DarknetFunctionArgs)
    """The function: engine, threshold, prefixes, memory, timeout, logs, retries."""
    api: DarknetApiArgs = field(default_factory=DarknetApiArgs)
    """The REST API of POST /detect, POST /uploads and GET /results/{request_id} (when `enable_http_api`)."""
    uploads: DarknetUploadsArgs = field(default_factory=DarknetUploadsArgs)
    """The function behind POST /uploads and GET /results/{request_id}: its memory, timeout and logs."""
    queue: DarknetQueueArgs = field(default_factory=DarknetQueueArgs)
    """The image queue of the queue ingestion: batch size and window, maximum concurrency, receives
    before the dead-letter queue, visibility timeout."""
    monitoring: DarknetMonitoringArgs = field(default_factory=DarknetMonitoringArgs)
    """Alarms (with an optional SNS topic) and the dashboard; each can be turned off."""
    events: DarknetEventsArgs = field(default_factory=DarknetEventsArgs)
    """Completion events: one EventBridge event per result written, on a bus created or given (off by
    default)."""
    bucket_name: pulumi.Input[str] | None = None
    """Use this existing bucket (same account) instead of creating one. Its CORS stays its owner's: for
    browser pages to POST upload forms to it, its owner adds the rule bucket.upload_form_cors_rule
    describes (POST from api.corsAllowedOrigins); the deploy warns when that is needed."""
    enable_s3_trigger: bool = True
    """Run the function for every object created under the input prefix."""
    s3_delivery: str = "notification"
    """How S3 events reach the function: notification (the bucket's notification configuration, which
    it replaces) or eventbridge (an EventBridge rule on the input prefix; the bucket's other
    notifications stay). On a bucket the service creates, eventbridge also switches the bucket's
    EventBridge delivery on; on an existing bucket (`bucket_name`) its owner does."""
    ingestion: str = "queue"
    """How new objects reach the function: queue (S3 events wait in an SQS queue the function consumes
    in batches, at a capped concurrency, failures to a dead-letter queue) or direct (S3 invokes the
    function asynchronously, one object per invocation)."""
    enable_http_api: bool = True
    """Serve POST /detect through API Gateway."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource, added to each part's own tags."""

    def __post_init__(self) -> None:
        for part, args_type in PARTS.items():
            with argument_path(part):
                setattr(self, part, args_from(args_type, getattr(self, part), part))
        self._refuse_handed_settings()
        check_choice("s3_delivery", self.s3_delivery, DELIVERIES)
        check_choice("ingestion", self.ingestion, INGESTIONS)
        reserved = self.function.reserved_concurrency
        if self.uses_queue and reserved is not None and reserved < self.queue.maximum_concurrency:
            raise InvalidArgument(
                "queue.maximum_concurrency",
                f"{self.queue.maximum_concurrency} is above function.reserved_concurrency ({reserved}): "
                "the queue's invocations would be throttled",
            )
        if not (self.enable_s3_trigger or self.enable_http_api):
            raise InvalidArgument("enable_http_api", "the S3 trigger and the HTTP API cannot both be off")
        with argument_path("image"):
            self.image.check_engine(self.function.engine)

    @property
    def uses_queue(self) -> bool:
        return self.enable_s3_trigger and self.ingestion == "queue"

    @property
    def browser_origins(self) -> list[str]:
        """Who may call the API from a browser page: the API's setting, when there is an API."""
        return list(self.api.cors_allowed_origins) if self.enable_http_api else []

    def _refuse_handed_settings(self) -> None:
        """A part's argument the service hands down cannot also be set in the part (HANDED)."""
        decisions = self.decisions()
        for part, names in HANDED.items():
            defaults = {field.name: field.default for field in dataclasses.fields(PARTS[part])}
            for name in names:
                if getattr(getattr(self, part), name) != defaults[name]:
                    home = decisions[name].home if name in decisions else CREATED[name]
                    raise InvalidArgument(f"{part}.{name}", f"is set by the service from {home}")

    def decisions(self) -> dict[str, Decision]:
        """The decisions several parts take, each made once, by the name of the parts' argument."""
        return {
            "architecture": Decision("image.architecture", self.image.architecture),
            "model": Decision("image.model", self.image.model),
            "engine": Decision("function.engine", self.function.engine),
            "input_prefix": Decision("function.input_prefix", self.function.input_prefix),
            "output_prefix": Decision("function.output_prefix", self.function.output_prefix),
            "function_timeout": Decision("function.timeout", self.function.timeout),
            "bucket_kms_key_arn": Decision("bucket.kms_key_arn", self.bucket.kms_key_arn),
            "cors_allowed_origins": Decision("api.cors_allowed_origins", self.browser_origins),
            "allow_self_invoke": Decision("enable_http_api", self.enable_http_api),
            "event_source": Decision("events.source", self.events.source),
            "completion_events": Decision("events.enabled", self.events.enabled),
            "result_window_seconds": Decision(
                "the function's and the queue's timeouts and retries", self.result_window_seconds()
            ),
        }

    def handed(self, args_type: type[T], **created: object) -> T:
        """A part's Args as the service hands them down: the stack's settings of that part, with the
        decisions and the created resources it takes (HANDED) and the service's tags beside its own."""
        part = next(name for name, part_type in PARTS.items() if part_type is args_type)
        names = HANDED[part]
        values = {name: decision.value for name, decision in self.decisions().items() if name in names}
        if set(created) != set(names) - set(values):
            raise TypeError(
                f"{part} takes {sorted(set(names) - set(values))} from the service, not {sorted(created)}"
            )
        settings = getattr(self, part)
        return dataclasses.replace(settings, **values, **created, tags={**self.tags, **settings.tags})

    def result_window_seconds(self) -> int:
        """How long after an id is given out its result may still come: the upload form's life, then
        the longest a delivery may take. An asynchronous event (S3's direct delivery, asynchronous
        POST /detect) may wait up to its maximum age, then run; a queued one is received up to
        max_receive_count times, a visibility timeout each."""
        function = self.function
        processing = function.max_event_age_seconds + function.timeout
        if self.uses_queue:
            queue = dataclasses.replace(self.queue, function_timeout=function.timeout)
            processing = max(processing, queue.visibility_timeout() * queue.max_receive_count)
        return UPLOAD_URL_SECONDS + processing


PARTS: dict[str, type] = {
    field.name: typing.cast(type, field.type)
    for field in dataclasses.fields(DarknetServiceArgs)
    if dataclasses.is_dataclass(field.type)
}
"""The parts of DarknetServiceArgs, by field name, with their Args classes."""


class DarknetService(pulumi.ComponentResource):
    """The whole detector: either entry path (S3 upload, HTTP POST /detect) can be turned off.

        Its parts are attributes, for extending them: `image` (DarknetImage), `bucket` (DarknetBucket, None
        on an existing bucket), `function` (DarknetFunction), `trigger` (DarknetS3Trigger or None) and
        `api` (DarknetApi or None) with `uploads` (DarknetUploads or None: `uploads.function`,
        `uploads.role`); each exposes its AWS resources in turn (`function.role`,
        `function.function`, `function.log_group`, `function.failure_queue`, `bucket.bucket`,
        `api.rest_api`, `api.stage`, `image.repository`), `events` (DarknetEvents: `events.event_bus`;
    None when events are off), and with the queue ingestion `queue`
        (DarknetQueue: `queue.queue`, `queue.dead_letter_queue`, `queue.event_source_mapping`), and
        `monitoring` (DarknetMonitoring: `monitoring.alarms`, `monitoring.dashboard`, `monitoring.topic`;
        None when alarms and dashboard are both off).

        The principal AWS resources are also outputs, which other languages reach through the provider's
        schema: `detector_function`, `detector_role`, `uploads_function`, `uploads_role`, `s3_bucket`,
        `image_queue`, `dead_letter_queue`, `rest_api`, `api_stage`, `repository` and `event_bus`."""

    bucket_name: pulumi.Output[str]
    """The bucket holding input and results."""
    input_uri: pulumi.Output[str]
    """s3://BUCKET/INPUT_PREFIX: upload images here."""
    output_uri: pulumi.Output[str]
    """s3://BUCKET/OUTPUT_PREFIX: results appear here."""
    input_prefix: str
    """The key prefix the function reads images from (`input/`)."""
    output_prefix: str
    """The key prefix of the results (`output/`)."""
    api_authorization: str | None
    """How the HTTP API is called (none, api_key, iam); None without the HTTP API."""
    api_url: pulumi.Output[str] | None
    """The URL of POST /detect (when the HTTP API is on)."""
    uploads_url: pulumi.Output[str] | None
    """The URL of POST /uploads (when the HTTP API is on)."""
    results_url: pulumi.Output[str] | None
    """GET this URL followed by a request id for its result (when the HTTP API is on)."""
    viewer_url: pulumi.Output[str] | None
    """The viewer page, the API's root: a browser shows the boxes on a photo (when the HTTP API is on)."""
    function_name: pulumi.Output[str]
    """The function's name."""
    function_arn: pulumi.Output[str]
    """The function's ARN."""
    role_name: pulumi.Output[str]
    """The function's IAM role (attach more policies to it by name)."""
    log_group_name: pulumi.Output[str]
    """The function's CloudWatch log group."""
    image_uri: pulumi.Output[str]
    """The image the function runs."""
    queue_url: pulumi.Output[str] | None
    """The image queue's URL (queue ingestion): `make backfill` sends existing images here."""
    dead_letter_queue_url: pulumi.Output[str] | None
    """The dead-letter queue's URL (queue ingestion): images that failed every delivery."""
    dashboard_name: pulumi.Output[str] | None
    """The CloudWatch dashboard (when enabled)."""
    event_bus_name: pulumi.Output[str] | None
    """The bus completion events go to, as the function names it (name or ARN; when events are on)."""
    detector_function: aws.lambda_.Function
    """The detector's Lambda function."""
    detector_role: aws.iam.Role
    """The detector function's IAM role: attach more policies to it."""
    uploads_function: aws.lambda_.Function | None
    """The Lambda function behind POST /uploads and GET /results (when the HTTP API is on)."""
    uploads_role: aws.iam.Role | None
    """The uploads function's IAM role (when the HTTP API is on)."""
    s3_bucket: aws.s3.Bucket | None
    """The bucket the service created (none on an existing bucket, `bucket_name`)."""
    image_queue: aws.sqs.Queue | None
    """The image queue (queue ingestion)."""
    dead_letter_queue: aws.sqs.Queue | None
    """The image queue's dead-letter queue (queue ingestion)."""
    rest_api: aws.apigateway.RestApi | None
    """The REST API (when the HTTP API is on)."""
    api_stage: aws.apigateway.Stage | None
    """The REST API's deployed stage (when the HTTP API is on)."""
    repository: aws.ecr.Repository | None
    """The ECR repository the image is pushed to (when the service builds and pushes it)."""
    event_bus: aws.cloudwatch.EventBus | None
    """The EventBridge bus created for completion events (events on, no bus given)."""

    def __init__(
        self, name: str, args: DarknetServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetService", name, None, opts)
        args = args_from(DarknetServiceArgs, args)
        child = pulumi.ResourceOptions(parent=self)

        input_prefix, output_prefix = args.function.input_prefix, args.function.output_prefix
        origins = args.browser_origins
        with argument_path("image"):  # a team's own model is checked as the image stages it
            self.image = DarknetImage(name, args.handed(DarknetImageArgs), child)
        self.bucket: DarknetBucket | None = None
        if args.bucket_name is None:
            self.bucket = DarknetBucket(name, args.handed(DarknetBucketArgs), child)
            bucket_name = self.bucket.bucket_name
        else:
            bucket_name = pulumi.Output.from_input(args.bucket_name)
            if origins:
                # A bucket's CORS is one configuration: setting it would replace its owner's rules.
                pulumi.log.warn(
                    f"the existing bucket keeps its own CORS: for browser pages of "
                    f"{', '.join(origins)} to POST upload forms to it, add a CORS "
                    "rule allowing POST from them (see components/bucket.py, upload_form_cors_rule)",
                    resource=self,
                )
        self.input_uri = bucket_name.apply(lambda bucket: f"s3://{bucket}/{input_prefix}")
        self.output_uri = bucket_name.apply(lambda bucket: f"s3://{bucket}/{output_prefix}")
        self.events: DarknetEvents | None = None
        if args.events.enabled:
            self.events = DarknetEvents(name, args.handed(DarknetEventsArgs), child)
        bus = self.events.bus_name if self.events else None
        self.function = DarknetFunction(
            name,
            args.handed(
                DarknetFunctionArgs, image_uri=self.image.image_uri, bucket_name=bucket_name, event_bus=bus
            ),
            child,
        )
        # What brings images waits for the whole function, policies created after it included (the
        # right to put completion events, to invoke itself): the first image after a deploy is served
        # as every later one.
        after_function = pulumi.ResourceOptions(parent=self, depends_on=[self.function])

        self.queue: DarknetQueue | None = None
        if args.uses_queue:
            self.queue = DarknetQueue(
                name,
                args.handed(
                    DarknetQueueArgs,
                    function_name=self.function.function_name,
                    role_name=self.function.role_name,
                ),
                after_function,
            )
        self.trigger: DarknetS3Trigger | None = None
        if args.enable_s3_trigger:
            destination = (
                {"queue_arn": self.queue.queue_arn, "queue_url": self.queue.queue_url}
                if self.queue
                else {
                    "function_name": self.function.function_name,
                    "function_arn": self.function.function_arn,
                }
            )
            self.trigger = DarknetS3Trigger(
                name,
                DarknetS3TriggerArgs(
                    bucket_name=bucket_name,
                    **destination,
                    input_prefix=input_prefix,
                    delivery=args.s3_delivery,
                    enable_bucket_eventbridge=args.s3_delivery == "eventbridge" and self.bucket is not None,
                ),
                after_function,
            )

        self.api: DarknetApi | None = None
        self.uploads: DarknetUploads | None = None
        self.api_url = self.uploads_url = self.results_url = self.viewer_url = None
        if args.enable_http_api:
            self.uploads = DarknetUploads(
                f"{name}-uploads",
                args.handed(DarknetUploadsArgs, image_uri=self.image.image_uri, bucket_name=bucket_name),
                child,
            )
            self.api = DarknetApi(
                name,
                args.handed(
                    DarknetApiArgs,
                    function_name=self.function.function_name,
                    function_invoke_arn=self.function.invoke_arn,
                    uploads_function_name=self.uploads.function_name,
                    uploads_function_invoke_arn=self.uploads.invoke_arn,
                    input_uri=self.input_uri,
                ),
                child,
            )
            self.api_url, self.uploads_url, self.results_url, self.viewer_url = (
                self.api.url,
                self.api.uploads_url,
                self.api.results_url,
                self.api.viewer_url,
            )

        self.monitoring: DarknetMonitoring | None = None
        if args.monitoring.enable_alarms or args.monitoring.enable_dashboard:
            self.monitoring = DarknetMonitoring(
                name,
                args.handed(
                    DarknetMonitoringArgs,
                    function_name=self.function.function_name,
                    function_arn=self.function.function_arn,
                    failure_queue_name=self.function.failure_queue.name,
                    queue_name=self.queue.queue_name if self.queue else None,
                    dead_letter_queue_name=self.queue.dead_letter_queue_name if self.queue else None,
                ),
                child,
            )

        self.bucket_name = bucket_name
        self.input_prefix, self.output_prefix = input_prefix, output_prefix
        self.api_authorization = self.api.authorization if self.api else None
        self.function_name = self.function.function_name
        self.function_arn = self.function.function_arn
        self.role_name = self.function.role_name
        self.log_group_name = self.function.log_group_name
        self.image_uri = self.image.image_uri
        self.queue_url = self.queue.queue_url if self.queue else None
        self.dead_letter_queue_url = self.queue.dead_letter_queue_url if self.queue else None
        self.dashboard_name = self.monitoring.dashboard_name if self.monitoring else None
        self.event_bus_name = bus
        self.event_bus = self.events.event_bus if self.events else None
        self.detector_function, self.detector_role = self.function.function, self.function.role
        self.uploads_function = self.uploads.function if self.uploads else None
        self.uploads_role = self.uploads.role if self.uploads else None
        self.s3_bucket = self.bucket.bucket if self.bucket else None
        self.image_queue = self.queue.queue if self.queue else None
        self.dead_letter_queue = self.queue.dead_letter_queue if self.queue else None
        self.rest_api = self.api.rest_api if self.api else None
        self.api_stage = self.api.stage if self.api else None
        self.repository = self.image.repository
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "input_uri": self.input_uri,
                "output_uri": self.output_uri,
                "input_prefix": self.input_prefix,
                "output_prefix": self.output_prefix,
                "api_authorization": self.api_authorization,
                "api_url": self.api_url,
                "uploads_url": self.uploads_url,
                "results_url": self.results_url,
                "viewer_url": self.viewer_url,
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "role_name": self.role_name,
                "log_group_name": self.log_group_name,
                "image_uri": self.image_uri,
                "queue_url": self.queue_url,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dashboard_name": self.dashboard_name,
                "event_bus_name": self.event_bus_name,
                "detector_function": self.detector_function,
                "detector_role": self.detector_role,
                "uploads_function": self.uploads_function,
                "uploads_role": self.uploads_role,
                "s3_bucket": self.s3_bucket,
                "image_queue": self.image_queue,
                "dead_letter_queue": self.dead_letter_queue,
                "rest_api": self.rest_api,
                "api_stage": self.api_stage,
                "repository": self.repository,
                "event_bus": self.event_bus,
            }
        )
