"""DarknetQueue: an SQS queue between S3 and the function, so bursts wait instead of being dropped."""

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import LAMBDA_MAX_TIMEOUT_SECONDS, SQS_MAX_RETENTION_SECONDS

from .checks import InvalidArgument, args_from, check_range
from .policies import policy_document

# AWS: "set the source queue's visibility timeout to at least six times the timeout that you configure
# on your function", plus the batching window (Lambda developer guide, "Using Lambda with Amazon SQS").
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 3600
# Lambda reads at most 10 messages per batch unless a batching window is set (then up to 10,000).
MAX_UNWINDOWED_BATCH_SIZE = 10


@dataclass(kw_only=True)
class DarknetQueueArgs:
    """The queue, its dead-letter queue and how the function consumes them.

    Inside DarknetServiceArgs (as `queue`) the service hands down its function's name, role and timeout
    (service.HANDED) and refuses them here.
    """

    function_name: pulumi.Input[str] | None = None
    """The function that consumes the queue (required when used alone)."""
    role_name: pulumi.Input[str] | None = None
    """The function's role, given the permissions to receive and delete messages (required alone)."""
    function_timeout: int | None = None
    """The function's timeout in seconds, from which the visibility timeout is sized (required alone)."""
    batch_size: int = 10
    """Messages (images) per invocation, 1..10, or up to 10,000 with a batching window."""
    batching_window_seconds: int = 0
    """Seconds Lambda may wait to fill a batch, 0..300; 0 starts each batch as soon as messages arrive."""
    maximum_concurrency: int = 10
    """Most concurrent invocations this queue drives, 2..1000: the detector's share of the account's
    concurrency, whatever the size of a burst."""
    max_receive_count: int = 3
    """Receives of a message before it moves to the dead-letter queue, 1..1000."""
    visibility_timeout_seconds: int | None = None
    """Seconds a received message stays hidden; by default six times the function timeout plus the
    batching window, as AWS recommends. Never below the function timeout (AWS refuses that)."""
    message_retention_seconds: int = 4 * 24 * 3600
    """How long an image may wait in the queue, 60..1,209,600 seconds (SQS's default 4 days)."""
    dead_letter_retention_seconds: int = SQS_MAX_RETENTION_SECONDS
    """How long failed messages are kept in the dead-letter queue (longer than the queue's, 14 days)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_range("batch_size", self.batch_size, 1, 10000)
        check_range("batching_window_seconds", self.batching_window_seconds, 0, 300, "seconds")
        if self.batch_size > MAX_UNWINDOWED_BATCH_SIZE and self.batching_window_seconds < 1:
            raise InvalidArgument(
                "batch_size",
                f"above {MAX_UNWINDOWED_BATCH_SIZE} needs a batching window of at least 1 second",
            )
        check_range("maximum_concurrency", self.maximum_concurrency, 2, 1000)
        check_range("max_receive_count", self.max_receive_count, 1, 1000)
        check_range(
            "message_retention_seconds",
            self.message_retention_seconds,
            60,
            SQS_MAX_RETENTION_SECONDS,
            "seconds",
        )
        check_range(
            "dead_letter_retention_seconds",
            self.dead_letter_retention_seconds,
            60,
            SQS_MAX_RETENTION_SECONDS,
            "seconds",
        )
        if self.function_timeout is not None:
            check_range("function_timeout", self.function_timeout, 1, LAMBDA_MAX_TIMEOUT_SECONDS, "seconds")
        if self.visibility_timeout_seconds is not None:
            check_range(
                "visibility_timeout_seconds",
                self.visibility_timeout_seconds,
                0,
                MAX_VISIBILITY_TIMEOUT_SECONDS,
                "seconds",
            )
            if self.function_timeout is not None and self.visibility_timeout_seconds < self.function_timeout:
                raise InvalidArgument(
                    "visibility_timeout_seconds",
                    f"{self.visibility_timeout_seconds} s is below the function timeout of "
                    f"{self.function_timeout} s: a message would be delivered again while still in work",
                )

    def visibility_timeout(self) -> int:
        if self.visibility_timeout_seconds is not None:
            return self.visibility_timeout_seconds
        if self.function_timeout is None:
            raise InvalidArgument("function_timeout", "is required to size the visibility timeout")
        recommended = VISIBILITY_TIMEOUT_FACTOR * self.function_timeout + self.batching_window_seconds
        return min(recommended, MAX_VISIBILITY_TIMEOUT_SECONDS)


class DarknetQueue(pulumi.ComponentResource):
    """S3 events wait in `queue` until the function takes them in batches through `event_source_mapping`;
    a message that failed `max_receive_count` times moves to `dead_letter_queue`. `consumer_policy` is
    what the function's role may do with the queue: receive, delete, read its attributes."""

    queue_arn: pulumi.Output[str]
    """The queue S3 events (or `make backfill`) are sent to."""
    queue_url: pulumi.Output[str]
    """The queue's URL, for sending messages."""
    queue_name: pulumi.Output[str]
    """The queue's name (its CloudWatch metrics' QueueName)."""
    dead_letter_queue_arn: pulumi.Output[str]
    """The dead-letter queue's ARN."""
    dead_letter_queue_url: pulumi.Output[str]
    """The dead-letter queue's URL, to inspect or redrive failed images."""
    dead_letter_queue_name: pulumi.Output[str]
    """The dead-letter queue's name."""
    queue: aws.sqs.Queue
    """The image queue."""
    dead_letter_queue: aws.sqs.Queue
    """The dead-letter queue."""

    def __init__(self, name: str, args: DarknetQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("darknet:index:DarknetQueue", name, None, opts)
        args = args_from(DarknetQueueArgs, args)
        for required in ("function_name", "role_name", "function_timeout"):
            if getattr(args, required) is None:
                raise InvalidArgument(required, "is required")
        child = pulumi.ResourceOptions(parent=self)

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dead-letters",
            message_retention_seconds=args.dead_letter_retention_seconds,
            sqs_managed_sse_enabled=True,
            tags=args.tags,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-images",
            visibility_timeout_seconds=args.visibility_timeout(),
            message_retention_seconds=args.message_retention_seconds,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count}
                )
            ),
            tags=args.tags,
            opts=child,
        )
        self.consumer_policy = aws.iam.RolePolicy(
            f"{name}-consume",
            role=args.role_name,
            policy=self.queue.arn.apply(_consumer_policy),
            opts=child,
        )
        self.event_source_mapping = aws.lambda_.EventSourceMapping(
            name,
            event_source_arn=self.queue.arn,
            function_name=args.function_name,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds,
            # The handler names the messages that failed; the others are deleted and never run again.
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": args.maximum_concurrency},
            tags=args.tags,
            # Lambda checks the role's access to the queue when the mapping is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.consumer_policy]),
        )

        self.queue_arn = self.queue.arn
        self.queue_url = self.queue.url
        self.queue_name = self.queue.name
        self.dead_letter_queue_arn = self.dead_letter_queue.arn
        self.dead_letter_queue_url = self.dead_letter_queue.url
        self.dead_letter_queue_name = self.dead_letter_queue.name
        self.register_outputs(
            {
                "queue_arn": self.queue_arn,
                "queue_url": self.queue_url,
                "queue_name": self.queue_name,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dead_letter_queue_name": self.dead_letter_queue_name,
                "queue": self.queue,
                "dead_letter_queue": self.dead_letter_queue,
            }
        )


def _consumer_policy(queue_arn: str) -> str:
    """What Lambda's poller does with the function's credentials (AWSLambdaSQSQueueExecutionRole, on
    this queue only)."""
    return policy_document(
        {
            "Sid": "ConsumeImageQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": [queue_arn],
        }
    )
