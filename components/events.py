"""DarknetEvents: the EventBridge bus the detector publishes one completion event per result.json to.

It creates the bus, or takes one by name or ARN; the service hands it to the function, which gets the
bus and the source in its environment and may events:PutEvents on that bus alone, and monitoring
alarms on the events the function could not publish.
"""

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import DEFAULT_EVENT_SOURCE, event_source_problem

from .checks import InvalidArgument, args_from

# EventBridge's rules for a bus name, and the form of a bus ARN (arn:PARTITION:events:REGION:ACCOUNT:
# event-bus/NAME).
BUS_NAME = re.compile(r"[/.\-_A-Za-z0-9]{1,256}")
BUS_ARN = re.compile(r"arn:[a-z-]+:events:[a-z0-9-]+:[0-9]{12}:event-bus/([/.\-_A-Za-z0-9]{1,256})")


@dataclass(kw_only=True)
class DarknetEventsArgs:
    """Completion events: one EventBridge event per result written (`Detection Completed` or
    `Detection Failed`), on a bus the service creates or one it is given (docs/events.md)."""

    enabled: bool = False
    """Publish an event for every result.json the detector writes."""
    bus_name: str | None = None
    """An existing bus in the function's account and region, by name (`default` is the account's own).
    With neither a name nor an ARN the service creates a bus."""
    bus_arn: pulumi.Input[str] | None = None
    """An existing bus by ARN, in this account or another whose bus policy lets the function's role put
    events; not with a bus name."""
    source: str = DEFAULT_EVENT_SOURCE
    """The events' `source`, which rules match on; EventBridge keeps `aws.` sources for AWS services."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the bus created here."""

    def __post_init__(self) -> None:
        if self.bus_name is not None and self.bus_arn is not None:
            raise InvalidArgument("bus_arn", "bus_name already names the bus: give one of them")
        if self.bus_name is not None and not BUS_NAME.fullmatch(self.bus_name):
            raise InvalidArgument(
                "bus_name", f"{self.bus_name!r} is not a bus name (letters, digits, '.', '-', '_', '/')"
            )
        if isinstance(self.bus_arn, str) and not BUS_ARN.fullmatch(self.bus_arn):
            raise InvalidArgument(
                "bus_arn",
                f"{self.bus_arn!r} is not an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)",
            )
        problem = event_source_problem(self.source)
        if problem:
            raise InvalidArgument("source", problem)


class DarknetEvents(pulumi.ComponentResource):
    """The bus of completion events: `event_bus` (the aws.cloudwatch.EventBus created, None when given
    one) and `bus_name`, how the function and rules name it."""

    bus_name: pulumi.Output[str]
    """The bus: the created bus's ARN, or the name or ARN given (rules and PutEvents take either)."""
    event_bus: aws.cloudwatch.EventBus | None
    """The bus created here (neither bus_name nor bus_arn given)."""

    def __init__(
        self, name: str, args: DarknetEventsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetEvents", name, None, opts)
        args = args_from(DarknetEventsArgs, args)
        self.event_bus = None
        if args.bus_arn is not None:
            self.bus_name = pulumi.Output.from_input(args.bus_arn)
        elif args.bus_name is not None:
            self.bus_name = pulumi.Output.from_input(args.bus_name)
        else:
            self.event_bus = aws.cloudwatch.EventBus(
                f"{name}-detections", tags=args.tags, opts=pulumi.ResourceOptions(parent=self)
            )
            self.bus_name = self.event_bus.arn
        self.register_outputs({"bus_name": self.bus_name, "event_bus": self.event_bus})


def bus_arn(bus: str, function_arn: str) -> str:
    """The ARN of a bus named by name or ARN; a name is a bus of the function's partition, region and
    account."""
    if bus.startswith("arn:"):
        return bus
    partition, region, account = function_arn.split(":")[1:2] + function_arn.split(":")[3:5]
    return f"arn:{partition}:events:{region}:{account}:event-bus/{bus}"


def publish_statement(bus: str) -> dict:
    """The right to put events on that one bus."""
    return {
        "Sid": "PublishCompletionEvents",
        "Effect": "Allow",
        "Action": ["events:PutEvents"],
        "Resource": [bus],
    }
