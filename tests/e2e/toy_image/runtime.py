"""Minimal Lambda runtime client: the Runtime API loop, enough for the toy handler."""

import importlib
import json
import os
import sys
import traceback
import urllib.request

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"


def post(url: str, body: dict, headers: dict | None = None) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    urllib.request.urlopen(request).read()


def main() -> None:
    module_name, function_name = sys.argv[1].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    while True:
        with urllib.request.urlopen(f"{API}/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read() or b"null")
        try:
            result = handler(event, request_id)
        except Exception as error:
            body = {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            post(f"{API}/{request_id}/error", body, {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
        else:
            post(f"{API}/{request_id}/response", result)


if __name__ == "__main__":
    main()
