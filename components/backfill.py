"""Backfill: run the detector over images already in the bucket, through the same queue as new uploads.

    python -m darknet_lambda.backfill --bucket BUCKET --prefix input/2024/ --queue-url URL [--wait]

The prefix is listed page by page (1,000 keys at a time), so a bucket of millions of objects is never
held in memory. An object whose result.json already exists (its request id is derived from its ETag,
as the function derives it from the notification) is skipped, so a rerun resumes where the last one
stopped. Every other object is sent to the queue as an S3 notification, in batches of ten. With
`--wait`, a second pass over the prefix waits for the results and reports the processed, the rejected
(result.json with status error) and the failed (no result: see the dead-letter queue), writing every
key that did not succeed to a JSON Lines report.

Needs boto3 and tqdm (`pip install 'darknet-lambda[backfill]'`); the image does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from darknet_detector.contract import prefix_problem, request_id_of_object, result_json_key

SQS_BATCH = 10  # SendMessageBatch's limit
LIST_PAGE = 1000  # ListObjectsV2's page
BACKFILL_EVENT_NAME = "ObjectCreated:Backfill"
"""The eventName of the notifications a backfill sends: the function treats them as S3's own."""


@dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str
    size: int


@dataclass
class Counts:
    listed: int = 0
    skipped: int = 0
    enqueued: int = 0
    not_sent: int = 0
    processed: int = 0
    rejected: int = 0
    failed: int = 0
    problems: list[dict] = field(default_factory=list)


def list_objects(s3, bucket: str, prefix: str) -> Iterator[list[ListedObject]]:
    """The prefix's objects, one listing page at a time ("folder" placeholders left out)."""
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE}
    ):
        yield [
            ListedObject(item["Key"], item["ETag"], item["Size"])
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")
        ]


def notification(bucket: str, obj: ListedObject, sent_at: datetime) -> dict:
    """An S3 event notification (version 2.1) of one existing object, as S3 would send it; the event
    time is when the backfill sent it, so the function's upload-to-result latency means queue time."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": sent_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": BACKFILL_EVENT_NAME,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    # S3 URL-encodes keys in notifications, spaces as '+'; the function decodes them.
                    "object": {
                        "key": quote_plus(obj.key, safe="/"),
                        "size": obj.size,
                        "eTag": obj.etag.strip('"'),
                    },
                },
            }
        ]
    }


def result_key(bucket: str, prefixes: tuple[str, str], obj: ListedObject) -> str:
    """The object's result.json, under the id the function gives it ((input, output) prefixes)."""
    input_prefix, output_prefix = prefixes
    return result_json_key(output_prefix, request_id_of_object(bucket, obj.key, obj.etag, input_prefix))


def read_result(s3, bucket: str, key: str) -> dict[str, Any] | None:
    """A result.json as written, or None while it does not exist."""
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def result_state(s3, bucket: str, prefixes: tuple[str, str], obj: ListedObject) -> str | None:
    """ok, error, or None when the object has no result yet."""
    document = read_result(s3, bucket, result_key(bucket, prefixes, obj))
    return None if document is None else document.get("status", "error")


def has_result(s3, bucket: str, prefixes: tuple[str, str], obj: ListedObject) -> bool:
    key = result_key(bucket, prefixes, obj)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def enqueue(
    s3,
    sqs,
    bucket: str,
    prefix: str,
    queue_url: str,
    prefixes: tuple[str, str],
    counts: Counts,
    progress,
    workers: int = 16,
) -> None:
    """One pass: skip what has a result, send the rest to the queue."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for page in list_objects(s3, bucket, prefix):
            done = list(pool.map(lambda obj: has_result(s3, bucket, prefixes, obj), page))
            todo = [obj for obj, exists in zip(page, done, strict=True) if not exists]
            counts.listed += len(page)
            counts.skipped += len(page) - len(todo)
            batches = list(_chunks(todo, SQS_BATCH))
            for batch, failed in zip(
                batches, pool.map(lambda b: _send(sqs, queue_url, bucket, b), batches), strict=True
            ):
                counts.enqueued += len(batch) - len(failed)
                counts.not_sent += len(failed)
                counts.problems.extend(
                    {"key": key, "problem": f"not enqueued: {reason}"} for key, reason in failed
                )
            progress.update(len(page))
            progress.set_postfix(enqueued=counts.enqueued, skipped=counts.skipped, not_sent=counts.not_sent)


def _send(sqs, queue_url: str, bucket: str, batch: list[ListedObject]) -> list[tuple[str, str]]:
    """Sends up to ten notifications; returns the keys SQS refused, with its reason."""
    now = datetime.now(UTC)
    entries = [
        {"Id": str(index), "MessageBody": json.dumps(notification(bucket, obj, now))}
        for index, obj in enumerate(batch)
    ]
    response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    return [
        (batch[int(item["Id"])].key, item.get("Message", item["Code"])) for item in response.get("Failed", [])
    ]


def wait_for_results(
    s3,
    bucket: str,
    prefix: str,
    prefixes: tuple[str, str],
    counts: Counts,
    progress,
    timeout: float,
    workers: int = 16,
) -> None:
    """A second pass over the prefix: each object's result, waited for until the deadline."""
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for page in list_objects(s3, bucket, prefix):
            pending = page
            while pending:
                states = list(pool.map(lambda obj: result_state(s3, bucket, prefixes, obj), pending))
                still = []
                for obj, state in zip(pending, states, strict=True):
                    if state is None and time.monotonic() < deadline:
                        still.append(obj)
                        continue
                    if state == "ok":
                        counts.processed += 1
                    elif state is None:
                        counts.failed += 1
                        counts.problems.append(
                            {"key": obj.key, "problem": "no result (see the dead-letter queue)"}
                        )
                    else:
                        counts.rejected += 1
                        counts.problems.append(
                            {
                                "key": obj.key,
                                "problem": "rejected",
                                "result": result_key(bucket, prefixes, obj),
                            }
                        )
                    progress.update(1)
                progress.set_postfix(
                    processed=counts.processed, rejected=counts.rejected, failed=counts.failed
                )
                pending = still
                if pending:
                    time.sleep(1)


def run(
    bucket: str,
    prefix: str,
    queue_url: str,
    output_prefix: str = "output/",
    input_prefix: str = "input/",
    wait: bool = False,
    timeout: float = 3600,
    report: Path | None = None,
    clients: tuple[Any, Any] | None = None,
    quiet: bool = False,
) -> Counts:
    """Backfill one prefix; `clients` (s3, sqs) default to boto3's from the environment."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    problem = prefix_problem(prefix)
    if problem:
        raise ValueError(f"prefix: {problem}")
    if not prefix.startswith(input_prefix):
        raise ValueError(
            f"prefix: {prefix!r} is not under the input prefix {input_prefix!r}: the function ignores it"
        )
    if clients is None:
        import boto3

        clients = (boto3.client("s3"), boto3.client("sqs"))
    s3, sqs = clients
    counts = Counts()
    started = time.monotonic()
    with tqdm(desc="enqueue", unit=" objects", disable=quiet, file=sys.stderr) as progress:
        enqueue(s3, sqs, bucket, prefix, queue_url, (input_prefix, output_prefix), counts, progress)
    if wait:
        with tqdm(
            desc="results", unit=" objects", total=counts.listed, disable=quiet, file=sys.stderr
        ) as progress:
            wait_for_results(s3, bucket, prefix, (input_prefix, output_prefix), counts, progress, timeout)
    if report is not None:
        with report.open("w") as file:
            for item in counts.problems:
                file.write(json.dumps(item) + "\n")
    seconds = time.monotonic() - started
    if not quiet:
        print(summary(counts, seconds, wait, report), file=sys.stderr)
    return counts


def summary(counts: Counts, seconds: float, waited: bool, report: Path | None) -> str:
    lines = [
        f"listed {counts.listed}, skipped {counts.skipped} (already had a result), "
        f"enqueued {counts.enqueued}, not enqueued {counts.not_sent}, in {seconds:.1f} s "
        f"({counts.listed / max(seconds, 1e-9):.0f} objects/s)"
    ]
    if waited:
        lines.append(f"processed {counts.processed}, rejected {counts.rejected}, failed {counts.failed}")
    if counts.problems:
        where = f"listed in {report}" if report else "rerun with --report FILE to list them"
        lines.append(f"{len(counts.problems)} objects did not succeed: {where}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="darknet_lambda.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True, help="a prefix under the function's input prefix")
    parser.add_argument("--queue-url", required=True, help="the stack's queueUrl output")
    parser.add_argument("--input-prefix", default="input/")
    parser.add_argument("--output-prefix", default="output/")
    parser.add_argument("--wait", action="store_true", help="wait for every result and report them")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most")
    parser.add_argument("--report", type=Path, help="JSON Lines file of the keys that did not succeed")
    args = parser.parse_args(argv)
    try:
        counts = run(
            args.bucket,
            args.prefix,
            args.queue_url,
            output_prefix=args.output_prefix,
            input_prefix=args.input_prefix,
            wait=args.wait,
            timeout=args.timeout,
            report=args.report,
        )
    except ValueError as error:
        parser.error(str(error))
    return 1 if counts.not_sent or counts.failed else 0


if __name__ == "__main__":
    sys.exit(main())
