"""DarknetMonitoring: the alarms and the dashboard of a deployed detector, each of which can be off."""

import json
import typing
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import (
    LAMBDA_MAX_TIMEOUT_SECONDS,
    METRIC_DETECTIONS,
    METRIC_EVENTS_NOT_PUBLISHED,
    METRIC_IMAGES_FAILED,
    METRIC_IMAGES_PROCESSED,
    METRIC_IMAGES_REJECTED,
    METRIC_MEGAPIXELS,
    METRIC_QUEUE_LATENCY,
    METRIC_STAGE_PREFIX,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    SQS_MAX_RETENTION_SECONDS,
)

from .checks import InvalidArgument, args_from, check_range

FIVE_MINUTES = 300


@dataclass(kw_only=True)
class DarknetMonitoringArgs:
    """What to watch and who to tell.

    Inside DarknetServiceArgs (as `monitoring`) the service hands down its function and queues
    (service.HANDED) and refuses them here.
    """

    function_name: pulumi.Input[str] | None = None
    """The detector function (required when used alone)."""
    function_arn: pulumi.Input[str] | None = None
    """The function's ARN: its region is the dashboard's (required when used alone)."""
    function_timeout: int | None = None
    """The function's timeout in seconds, for the duration alarm (required when used alone)."""
    queue_name: pulumi.Input[str] | None = None
    """The image queue, when images arrive through one: its oldest message's age is alarmed."""
    dead_letter_queue_name: pulumi.Input[str] | None = None
    """The queue's dead-letter queue: any message in it is alarmed."""
    failure_queue_name: pulumi.Input[str] | None = None
    """The function's failure queue of asynchronous invocations: any message in it is alarmed."""
    completion_events: bool = False
    """The function publishes completion events: alarm on those it could not publish after its retries."""
    enable_alarms: bool = True
    """Create the alarms (dead letters, errors, throttles, queue age, duration near the timeout)."""
    enable_dashboard: bool = True
    """Create a CloudWatch dashboard of the function, the queues and the detector's own metrics."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """An existing SNS topic the alarms notify (on alarm and on recovery)."""
    create_alarm_topic: bool = False
    """Create an SNS topic for the alarms (subscribe to it yourself); exclusive with alarm_topic_arn."""
    max_queue_age_seconds: int = 900
    """Alarm when the oldest image has waited longer than this, 60..1,209,600 seconds."""
    duration_alarm_ratio: float = 0.8
    """Alarm when the p99 duration exceeds this fraction of the function timeout, above 0 and up to 1."""
    error_threshold: int = 1
    """Alarm when the function errors at least this many times in five minutes."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_range(
            "max_queue_age_seconds", self.max_queue_age_seconds, 60, SQS_MAX_RETENTION_SECONDS, "seconds"
        )
        check_range("duration_alarm_ratio", self.duration_alarm_ratio, 0.01, 1.0)
        check_range("error_threshold", self.error_threshold, 1, 1_000_000)
        if self.function_timeout is not None:
            check_range("function_timeout", self.function_timeout, 1, LAMBDA_MAX_TIMEOUT_SECONDS, "seconds")
        if self.create_alarm_topic and self.alarm_topic_arn is not None:
            raise InvalidArgument("create_alarm_topic", "alarm_topic_arn already names a topic")


class DarknetMonitoring(pulumi.ComponentResource):
    """`alarms` (by what they watch: dead_letters, failures, errors, throttles, queue_age, duration,
    events_not_published),
    `dashboard` and `topic` (when created here); absent parts are missing from `alarms` or None."""

    dashboard_name: pulumi.Output[str] | None
    """The CloudWatch dashboard's name (when enabled)."""
    alarm_topic_arn: pulumi.Output[str] | None
    """The SNS topic the alarms notify (when given or created)."""
    topic: aws.sns.Topic | None
    """The SNS topic created for the alarms (create_alarm_topic), to subscribe to."""

    def __init__(
        self, name: str, args: DarknetMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetMonitoring", name, None, opts)
        args = args_from(DarknetMonitoringArgs, args)
        for required in ("function_name", "function_arn", "function_timeout"):
            if getattr(args, required) is None:
                raise InvalidArgument(required, "is required")
        function_timeout = typing.cast(int, args.function_timeout)
        function_name = pulumi.Output.from_input(typing.cast(pulumi.Input[str], args.function_name))
        region = pulumi.Output.from_input(typing.cast(pulumi.Input[str], args.function_arn)).apply(
            lambda arn: arn.split(":")[3]
        )
        child = pulumi.ResourceOptions(parent=self)
        self.topic = None
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        self.dashboard: aws.cloudwatch.Dashboard | None = None

        topic_arn: pulumi.Input[str] | None = args.alarm_topic_arn
        if args.create_alarm_topic:
            self.topic = aws.sns.Topic(
                f"{name}-alarms", kms_master_key_id="alias/aws/sns", tags=args.tags, opts=child
            )
            topic_arn = self.topic.arn
        actions = [topic_arn] if topic_arn is not None else []

        if args.enable_alarms:
            for key, alarm in _alarm_definitions(args, function_name, function_timeout).items():
                self.alarms[key] = aws.cloudwatch.MetricAlarm(
                    f"{name}-{key}",
                    alarm_actions=actions,
                    ok_actions=actions,
                    treat_missing_data="notBreaching",
                    tags=args.tags,
                    opts=child,
                    **alarm,
                )
        if args.enable_dashboard:
            self.dashboard = aws.cloudwatch.Dashboard(
                name,
                dashboard_name=f"{name}-detector",
                dashboard_body=pulumi.Output.all(
                    region, function_name, args.queue_name, args.dead_letter_queue_name
                ).apply(lambda values: dashboard_body(*values)),
                opts=child,
            )

        self.dashboard_name = self.dashboard.dashboard_name if self.dashboard else None
        self.alarm_topic_arn = pulumi.Output.from_input(topic_arn) if topic_arn is not None else None
        self.register_outputs(
            {
                "dashboard_name": self.dashboard_name,
                "alarm_topic_arn": self.alarm_topic_arn,
                "topic": self.topic,
            }
        )


def _alarm_definitions(
    args: DarknetMonitoringArgs, function_name: pulumi.Output[str], function_timeout: int
) -> dict[str, dict]:
    """The alarms' metric settings by key; queue alarms only for the queues there are."""
    function = {"FunctionName": function_name}
    lambda_metric = {"namespace": "AWS/Lambda", "dimensions": function, "period": FIVE_MINUTES}
    alarms: dict[str, dict] = {
        "errors": {
            **lambda_metric,
            "alarm_description": "The detector function failed (an image that could not be processed)",
            "metric_name": "Errors",
            "statistic": "Sum",
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "threshold": args.error_threshold,
            "evaluation_periods": 1,
        },
        "throttles": {
            **lambda_metric,
            "alarm_description": "Invocations were throttled: account or reserved concurrency exhausted",
            "metric_name": "Throttles",
            "statistic": "Sum",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0,
            "evaluation_periods": 1,
        },
        "duration": {
            **lambda_metric,
            "alarm_description": "p99 duration is close to the function timeout: batches risk timing out",
            "metric_name": "Duration",
            "extended_statistic": "p99",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": round(args.duration_alarm_ratio * function_timeout * 1000),
            "evaluation_periods": 3,
        },
    }
    queue_depth = {
        "namespace": "AWS/SQS",
        "metric_name": "ApproximateNumberOfMessagesVisible",
        "statistic": "Maximum",
        "period": FIVE_MINUTES,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 0,
        "evaluation_periods": 1,
    }
    if args.dead_letter_queue_name is not None:
        alarms["dead-letters"] = {
            **queue_depth,
            "alarm_description": "Images failed every delivery and wait in the dead-letter queue",
            "dimensions": {"QueueName": args.dead_letter_queue_name},
        }
    if args.failure_queue_name is not None:
        alarms["failures"] = {
            **queue_depth,
            "alarm_description": "Asynchronous events failed their retries and wait in the failure queue",
            "dimensions": {"QueueName": args.failure_queue_name},
        }
    if args.completion_events:
        alarms["events-not-published"] = {
            "alarm_description": "Completion events were not published after their retries: their results "
            "exist, but subscribers were not told (see the function's 'completion event not published' logs)",
            "namespace": METRICS_NAMESPACE,
            "metric_name": METRIC_EVENTS_NOT_PUBLISHED,
            "dimensions": {"service": SERVICE_NAME},
            "statistic": "Sum",
            "period": FIVE_MINUTES,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0,
            "evaluation_periods": 1,
        }
    if args.queue_name is not None:
        alarms["queue-age"] = {
            "alarm_description": "Images wait longer than expected: the detector is not keeping up",
            "namespace": "AWS/SQS",
            "metric_name": "ApproximateAgeOfOldestMessage",
            "dimensions": {"QueueName": args.queue_name},
            "statistic": "Maximum",
            "period": FIVE_MINUTES,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": args.max_queue_age_seconds,
            "evaluation_periods": 1,
        }
    return alarms


def dashboard_body(
    region: str, function_name: str, queue_name: str | None, dead_letter_queue_name: str | None
) -> str:
    """Rows of graphs: images and outcomes, stage latencies, the function, the queues."""
    own = [METRICS_NAMESPACE, "service", SERVICE_NAME]

    def widget(title: str, metrics: list, stat: str = "Sum", y: int = 0, x: int = 0) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "metrics": metrics, "stat": stat, "period": 60, "region": region},
        }

    widgets = [
        widget(
            "Images",
            [
                [*own, name]
                for name in (
                    METRIC_IMAGES_PROCESSED,
                    METRIC_IMAGES_REJECTED,
                    METRIC_IMAGES_FAILED,
                    METRIC_DETECTIONS,
                    METRIC_EVENTS_NOT_PUBLISHED,
                )
            ],
        ),
        widget(
            "Latency per image (p50, p99 ms)",
            [
                [*own, metric, {"stat": stat}]
                for metric in (f"{METRIC_STAGE_PREFIX}predict", METRIC_QUEUE_LATENCY)
                for stat in ("p50", "p99")
            ],
            stat="p50",
            x=12,
        ),
        widget("Image size (megapixels)", [[*own, METRIC_MEGAPIXELS]], stat="Average", y=6),
        widget(
            "Function",
            [
                ["AWS/Lambda", name, "FunctionName", function_name]
                for name in ("Invocations", "Errors", "Throttles", "ConcurrentExecutions")
            ],
            y=6,
            x=12,
        ),
    ]
    queues = [queue for queue in (queue_name, dead_letter_queue_name) if queue]
    if queues:
        widgets.append(
            widget(
                "Queues: waiting images and oldest age (s)",
                [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue] for queue in queues]
                + [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queues[0], {"stat": "Maximum"}]],
                stat="Maximum",
                y=12,
            )
        )
    return json.dumps({"widgets": widgets})
