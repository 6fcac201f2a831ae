"""Lambda entry point: parse the event, call the pipeline, return what the caller understands."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from darknet_detector.contract import LAMBDA_RUNTIME_API_ENV, SERVICE_NAME, TILE_TAIL_SECONDS
from darknet_detector.core import pipeline
from darknet_detector.core.detection import DetectOptions, Engine
from darknet_detector.core.events import completion_entry, publish
from darknet_detector.core.requests import BadEvent, S3ObjectRequest, parse_async_job
from darknet_detector.core.settings import Settings
from darknet_detector.engines.loader import load_engine
from darknet_detector.serving.events import (
    event_kind,
    parse_s3_event,
    parse_s3_eventbridge_event,
    parse_sqs_record,
)
from darknet_detector.serving.metrics import (
    metrics,
    record_event_not_published,
    record_failure,
    record_result,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger(service=SERVICE_NAME)


# What each kind of event imports, decided here and nowhere else. An S3 notification (direct or through
# EventBridge) and an async job need only the pipeline, imported above. A queue's batch also needs
# Powertools' batch utility (which imports asyncio), and an API Gateway request the HTTP layer
# (Powertools' REST resolver): each is imported when the first event of its kind arrives, and an
# S3-triggered function's start-up does not pay for them.
@cache
def queue_batch() -> tuple[BatchProcessor, Callable[..., Mapping[str, Any]]]:
    """Powertools' batch processor for SQS, and its process_partial_response."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    # A batch in which every message failed is reported like any other (every message named): Lambda
    # then returns them all to the queue, as it would after an error, without counting an error.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return processor, process_partial_response


@cache
def http_layer() -> ModuleType:
    """darknet_detector.serving.http_api, with Powertools' REST resolver."""
    from darknet_detector.serving import http_api

    return http_api


@cache
def settings() -> Settings:
    """Read once per container; a killed earlier run's work folders in /tmp are removed then."""
    loaded = Settings.from_env()
    removed = pipeline.remove_stale_workdirs(loaded.work_root)
    if removed:
        logger.warning("removed work folders left by an earlier run", extra={"folders": removed})
    return loaded


@cache
def engine() -> Engine:
    """Loaded once per container, so warm invocations reuse the network.

    Under Lambda it is loaded in the init phase (below), which provisioned concurrency and SnapStart run
    before any request arrives; a process that only imports this module (tests, tools) loads it at first
    use."""
    return load_engine(settings())


# boto3 is imported on first use: a synchronous HTTP answer needs no AWS client, and importing it
# costs about 0.1 s of cold start with 2 vCPUs and twice that on a 1024 MB function.
@cache
def s3_client():
    import boto3
    from botocore.config import Config

    # SigV4 for the links to large answers: S3 refuses older signatures for KMS-encrypted objects.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@cache
def lambda_client():
    import boto3

    return boto3.client("lambda")


@cache
def events_client():
    import boto3
    from botocore.config import Config

    # One call per attempt (core.events.publish retries, and counts what it gives up on), each short:
    # a slow EventBridge must not eat the time the next image needs.
    return boto3.client(
        "events", config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=5)
    )


def announce(document: dict) -> None:
    """The completion event of a result.json just written (ok or error; ignored objects have none).

    Never raises: the result exists whatever happens to its event, so a failure is logged and counted
    (METRIC_EVENTS_NOT_PUBLISHED, alarmed) rather than failing the invocation and redoing the image."""
    bus = settings().event_bus
    if not bus or document.get("status") not in ("ok", "error"):
        return
    try:
        published = publish(events_client(), completion_entry(document, bus, settings().event_source))
    except Exception:
        logger.exception("completion event not built", extra={"request_id": document.get("request_id")})
        published = False
    if not published:
        record_event_not_published()


def deadline(context: LambdaContext) -> float:
    """When the last tile of this invocation must have finished (time.monotonic()): Lambda's remaining
    time less what merging, drawing and writing the outputs take after it."""
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - TILE_TAIL_SECONDS


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        kind = event_kind(event)
    except BadEvent as error:
        logger.error("unrecognised event", extra={"error": str(error)})
        raise
    logger.append_keys(event_kind=kind)
    if kind == "sqs":
        processor, process_partial_response = queue_batch()
        return dict(  # Powertools' TypedDict: {"batchItemFailures": [...]}
            process_partial_response(
                event=event, record_handler=process_message, processor=processor, context=context
            )
        )
    if kind in ("s3", "s3-eventbridge"):
        input_prefix = settings().input_prefix
        requests = (
            parse_s3_event(event, input_prefix)
            if kind == "s3"
            else parse_s3_eventbridge_event(event, input_prefix)
        )
        results = [process_object(request, deadline(context)) for request in requests]
        return {
            "processed": sum(r["status"] in ("ok", "error") for r in results),
            "ignored": sum(r["status"] not in ("ok", "error") for r in results),
            "results": [{"request_id": r["request_id"], "status": r["status"]} for r in results],
        }
    if kind == "job":
        job = parse_async_job(event)
        logger.append_keys(request_id=job.request_id)
        document = pipeline.process_job(job, s3_client(), engine(), settings(), deadline(context))
        announce(document)
        return {"request_id": job.request_id, "status": document["status"]}
    return _http(event, context)


def process_message(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """One queue message: each object it names is processed, or the message fails and comes back.

    Powertools hands the invocation's context to a record handler that names `lambda_context`."""
    bound = deadline(lambda_context) if lambda_context else None
    for request in parse_sqs_record(record, settings().input_prefix):
        process_queued_object(request, record.message_id, bound)


def process_queued_object(request: S3ObjectRequest, message_id: str, bound: float | None = None) -> dict:
    try:
        return process_object(request, bound, message_id=message_id)
    except Exception:
        record_failure()
        logger.exception(
            "object failed; its message returns to the queue",
            extra={"message_id": message_id, "source": request.source(), "request_id": request.request_id},
        )
        raise


def process_object(request: S3ObjectRequest, bound: float | None = None, **log_keys: str) -> dict:
    """One object of any S3 delivery (direct, EventBridge, queue): processed, counted and logged; bound
    is the invocation's deadline for its tiles."""
    options = DetectOptions(deadline=bound)
    result = pipeline.process_s3_object(request, s3_client(), engine(), settings(), options)
    announce(result)
    record_result(result, request.event_time)
    logger.info(
        "object processed",
        extra={
            "result": {k: result.get(k) for k in ("request_id", "status")},
            "source": result.get("source"),
            **log_keys,
        },
    )
    return result


def function_qualifier(invoked_arn: str) -> dict:
    """The alias or version this invocation came through, so the async half runs the same code."""
    parts = invoked_arn.split(":")
    return {"Qualifier": parts[7]} if len(parts) > 7 and parts[7] else {}


def _http(event: dict, context: LambdaContext) -> dict:
    def invoke_async(payload: dict) -> None:
        # By name (and qualifier): its own role credentials resolve it in its own account and region,
        # wherever it runs (AWS, LocalStack, or an emulator whose ARNs carry a placeholder account).
        lambda_client().invoke(
            FunctionName=context.function_name,
            **function_qualifier(context.invoked_function_arn),
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )

    http_api = http_layer()
    response = http_api.resolve(
        event,
        context,
        http_api.Detector(
            engine, settings(), invoke_async, s3_client, announce, deadline=lambda: deadline(context)
        ),
    )
    logger.info(
        "http request answered",
        extra={
            "status": response["statusCode"],
            "content_type": (response.get("multiValueHeaders") or {}).get("Content-Type"),
            "path": event.get("path"),
        },
    )
    return response


# The init phase, under Lambda: the engine (ONNX Runtime's import and session) is ready before the first
# event is read.
if os.environ.get(LAMBDA_RUNTIME_API_ENV):
    engine()
