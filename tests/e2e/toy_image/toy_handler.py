"""Stand-in handler: echoes, fails, sleeps or calls LocalStack on request."""

import json
import os
import time
import urllib.request


def handle(event, context):
    event = event or {}
    print(f"toy handler got {json.dumps(event)}", flush=True)
    if "fail" in event:
        raise RuntimeError(event["fail"])
    if "sleep" in event:
        time.sleep(event["sleep"])
    result = {"echo": event, "request_id": context.aws_request_id, "function": context.function_name}
    if event.get("health"):
        health_url = f"{os.environ['AWS_ENDPOINT_URL']}/_localstack/health"
        with urllib.request.urlopen(health_url, timeout=5) as reply:
            result["lambda_available"] = json.load(reply)["services"]["lambda"]
    return result
