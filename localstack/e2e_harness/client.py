"""What the e2e tests do with a deployed stack: upload, wait for results, call the API."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import boto3
import requests
from botocore.config import Config

from .applier import ACCOUNT, ENDPOINT

# How often the waits look for result.json: the resolution of the latencies the tests report.
POLL_SECONDS = 0.25


def localstack_block(region: str = "us-east-1") -> dict[str, str]:
    """The outputs file's `localstack` block: the SDK settings of the harness's LocalStack, with which
    the darknet-lambda command reaches it as aws() does."""
    return {"endpointUrl": ENDPOINT, "region": region, "accessKeyId": ACCOUNT, "secretAccessKey": "test"}


def aws(service: str, region: str = "us-east-1"):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
    )


@dataclass
class Stack:
    bucket: str
    api_url: str
    function_name: str
    queue_url: str | None = None
    dead_letter_queue_url: str | None = None
    uploads_url: str | None = None
    results_url: str | None = None
    log_group_name: str | None = None
    event_bus_name: str | None = None

    @classmethod
    def from_outputs(cls, path: str) -> Stack:
        with open(path) as file:
            outputs = json.load(file)
        return cls(
            outputs["bucketName"],
            outputs["apiUrl"],
            outputs["functionName"],
            outputs.get("queueUrl"),
            outputs.get("deadLetterQueueUrl"),
            outputs.get("uploadsUrl"),
            outputs.get("resultsUrl"),
            outputs.get("logGroupName"),
            outputs.get("eventBusName"),
        )

    def results(self) -> dict[str, dict]:
        """Every complete output folder (result.json is written last), by its folder prefix."""
        s3 = aws("s3")
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="output/"):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/result.json"):
                    body = s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                    found[item["Key"].rsplit("/", 1)[0] + "/"] = json.loads(body)
        return found

    def wait_for_results(self, keys: set[str], timeout: float = 60) -> dict[str, tuple[str, dict]]:
        """Wait until every input key has a result.json; map key -> (folder, document)."""
        deadline = time.monotonic() + timeout
        while True:
            by_key = {}
            for folder, document in self.results().items():
                key = (document.get("source") or {}).get("key")
                if key in keys:
                    by_key.setdefault(key, []).append((folder, document))
            if set(by_key) == keys or time.monotonic() > deadline:
                missing = keys - set(by_key)
                if missing:
                    raise TimeoutError(f"no result within {timeout:.0f} s for {sorted(missing)}")
                duplicated = {k: [f for f, _ in v] for k, v in by_key.items() if len(v) > 1}
                if duplicated:
                    raise AssertionError(f"more than one result folder for {duplicated}")
                return {key: found[0] for key, found in by_key.items()}
            time.sleep(POLL_SECONDS)

    def wait_for_folder(self, folder: str, timeout: float = 60) -> dict:
        s3, deadline = aws("s3"), time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = s3.get_object(Bucket=self.bucket, Key=f"{folder}result.json")["Body"].read()
                return json.loads(body)
            except s3.exceptions.NoSuchKey:
                time.sleep(POLL_SECONDS)
        raise TimeoutError(f"no result.json under {folder} within {timeout:.0f} s")

    def detect(self, body: bytes, content_type: str = "image/jpeg", **headers) -> requests.Response:
        return requests.post(
            self.api_url, data=body, headers={"Content-Type": content_type, **headers}, timeout=120
        )


def invocation_count(function_name: str) -> int:
    """Invocations LocalStack counted for the function (its AWS/Lambda metric)."""
    now = time.time()
    points = aws("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": function_name}],
        StartTime=now - 3600,
        EndTime=now + 60,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return int(sum(point["Sum"] for point in points))


def settled_invocation_count(function_name: str, quiet_seconds: float = 4.0, timeout: float = 60.0) -> int:
    """The invocation count once it has stayed the same for quiet_seconds: a test that counts the
    invocations its own event causes starts after earlier tests' last invocations (a queue batch still
    finishing after its results were written) have been counted."""
    deadline = time.monotonic() + timeout
    count = invocation_count(function_name)
    steady_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        latest = invocation_count(function_name)
        if latest != count:
            count, steady_since = latest, time.monotonic()
        elif time.monotonic() - steady_since >= quiet_seconds:
            return count
    raise AssertionError(f"{function_name} kept being invoked for {timeout} s: the stack is not idle")


def classes(document: dict) -> set[str]:
    return {detection["class"] for detection in document.get("detections", [])}
