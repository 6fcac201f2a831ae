"""The LocalStack Lambda init's translation of the RIE's answers, without Docker or LocalStack."""

from __future__ import annotations

import sys

from support import ROOT
from support.scripts import load_script

INIT = ROOT / "localstack" / "lambda-init" / "init.py"
lambda_init = load_script(INIT, "lambda_init")


def test_a_plain_result_is_not_an_error():
    assert lambda_init.function_error(b'{"statusCode": 200, "body": "{}"}') is None
    assert lambda_init.function_error(b"not json at all") is None


def test_the_runtime_error_document_is_passed_through():
    body = b'{"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": [], "requestId": ""}'
    assert lambda_init.function_error(body)["errorType"] == "RuntimeError"


def test_a_result_that_only_mentions_errors_is_not_an_error():
    body = b'{"errorType": "x", "errorMessage": "y", "detections": [], "status": "ok", "extra": 1}'
    assert lambda_init.function_error(body) is None


def test_the_emulators_timeout_text_becomes_a_timeout_error():
    error = lambda_init.function_error(b"Task timed out after 3.00 seconds")
    assert error == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"}


def test_the_init_uses_only_the_standard_library():
    imports = {
        line.split()[1].split(".")[0]
        for line in INIT.read_text().splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports and imports <= sys.stdlib_module_names, imports - sys.stdlib_module_names
