"""`status`: one look at a deployed stack. A part the caller may not read shows why, not a failure."""

from __future__ import annotations

import time
from typing import Any

from darknet_detector.contract import ENGINE_ENV, MODEL_ENV, THRESHOLD_ENV, VERSION_ENV

from .errors import CliError
from .stack import LOCALSTACK_BLOCK, Stack

LAST_ERRORS = 5
ERRORS_SINCE_SECONDS = 24 * 3600


def _part(read) -> Any:
    import botocore.exceptions

    try:
        return read()
    except CliError as error:
        return {"unavailable": error.format_message()}
    except botocore.exceptions.ClientError as error:
        details = error.response.get("Error", {})
        return {"unavailable": f"{details.get('Code')}: {details.get('Message')}"}


def function_settings(stack: Stack) -> dict[str, Any]:
    name = stack.require("functionName", "the detector function")
    config = stack.client("lambda").get_function_configuration(FunctionName=name)
    env = (config.get("Environment") or {}).get("Variables", {})
    return {
        "name": name,
        "memory_mb": config.get("MemorySize"),
        "timeout_s": config.get("Timeout"),
        "architectures": config.get("Architectures"),
        "model": env.get(MODEL_ENV),
        "engine": env.get(ENGINE_ENV),
        "threshold": env.get(THRESHOLD_ENV),
        "version": env.get(VERSION_ENV),
        "state": config.get("State"),
        "last_modified": config.get("LastModified"),
    }


def queue_depth(stack: Stack, url: str) -> dict[str, Any]:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return {
        "url": url,
        "waiting": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def stack_names(stack: Stack) -> set[str]:
    """What this stack's alarms name in their dimensions: the function and the queues."""
    names = {str(stack.outputs.get("functionName") or "")}
    for key in ("queueUrl", "deadLetterQueueUrl"):
        if stack.outputs.get(key):
            names.add(str(stack.outputs[key]).rstrip("/").rsplit("/", 1)[-1])
    return names - {""}


def alarms_in_alarm(stack: Stack) -> list[dict[str, Any]]:
    names = stack_names(stack)
    found = []
    for page in stack.client("cloudwatch").get_paginator("describe_alarms").paginate(StateValue="ALARM"):
        for alarm in page.get("MetricAlarms", []):
            dimensions = [d["Value"] for d in alarm.get("Dimensions", [])]
            for metric in alarm.get("Metrics", []):
                stat = metric.get("MetricStat") or {}
                dimensions += [d["Value"] for d in stat.get("Metric", {}).get("Dimensions", [])]
            if names & set(dimensions) or any(name in alarm["AlarmName"] for name in names):
                found.append({"name": alarm["AlarmName"], "reason": alarm.get("StateReason", "")})
    return found


def last_errors(stack: Stack) -> list[dict[str, Any]]:
    from . import loglines as logs

    client = stack.client("logs")
    start = int((time.time() - ERRORS_SINCE_SECONDS) * 1000)
    lines = [logs.parse(event) for event in logs.fetch(client, logs.log_groups(stack.outputs), start)]
    return [line.as_dict() for line in lines if line.level in logs.ERROR_LEVELS][-LAST_ERRORS:]


def gather(stack: Stack) -> dict[str, Any]:
    outputs = {key: value for key, value in stack.outputs.items() if key != LOCALSTACK_BLOCK}
    outputs.pop("apiKeyValue", None)  # a secret: never printed
    report: dict[str, Any] = {
        "stack": stack.source,
        "outputs": outputs,
        "authorization": stack.authorization,
        "function": _part(lambda: function_settings(stack)),
    }
    if stack.outputs.get("queueUrl"):
        report["queue"] = _part(lambda: queue_depth(stack, str(stack.outputs["queueUrl"])))
    if stack.outputs.get("deadLetterQueueUrl"):
        report["dead_letter_queue"] = _part(
            lambda: queue_depth(stack, str(stack.outputs["deadLetterQueueUrl"]))
        )
    report["alarms"] = _part(lambda: alarms_in_alarm(stack))
    report["last_errors"] = _part(lambda: last_errors(stack))
    return report


def render(out, report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"stack ({report['stack']})", show_header=False, box=None, title_justify="left")
    for key, value in report["outputs"].items():
        table.add_row(key, str(value))
    if "apiAuthorization" not in report["outputs"]:
        table.add_row("authorization", report["authorization"])  # derived for stacks that do not export it
    out.print(table)
    function = report["function"]
    if "unavailable" in function:
        out.print(f"function: unavailable ({function['unavailable']})")
    else:
        out.print(
            f"function: {function['name']}, {function['memory_mb']} MB, model {function['model']}, "
            f"engine {function['engine']}, threshold {function['threshold']}, version {function['version']}, "
            f"state {function['state']}"
        )
    for key, label in (("queue", "queue"), ("dead_letter_queue", "dead-letter queue")):
        if key in report:
            depth = report[key]
            if "unavailable" in depth:
                out.print(f"{label}: unavailable ({depth['unavailable']})")
            else:
                out.print(f"{label}: {depth['waiting']} waiting, {depth['in_flight']} in flight")
    alarms = report["alarms"]
    if isinstance(alarms, dict):
        out.print(f"alarms: unavailable ({alarms['unavailable']})")
    else:
        out.print(f"alarms in ALARM: {len(alarms)}")
        for alarm in alarms:
            out.print(f"  [red]{alarm['name']}[/red]: {alarm['reason']}")
    errors = report["last_errors"]
    if isinstance(errors, dict):
        out.print(f"last errors: unavailable ({errors['unavailable']})")
    else:
        out.print(f"last errors (24 h): {len(errors) or 'none'}")
        for line in errors:
            out.print(f"  {line['time']} {line['request_id'] or '-'} {line['message']}", markup=False)
