"""Toy handler: echoes, fails, sleeps or calls LocalStack on request, to exercise the init."""

import json
import os
import time
import urllib.request


def handle(event, request_id):
    event = event or {}
    print(f"toy handler got {json.dumps(event)}", flush=True)
    if "fail" in event:
        raise RuntimeError(event["fail"])
    if "sleep" in event:
        time.sleep(event["sleep"])
    result = {"echo": event, "request_id": request_id, "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME")}
    if event.get("health"):
        with urllib.request.urlopen(
            f"{os.environ['AWS_ENDPOINT_URL']}/_localstack/health", timeout=5
        ) as reply:
            result["localstack_services"] = sorted(json.load(reply)["services"])
    return result
