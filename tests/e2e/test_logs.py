"""The function's logs land in the log group the stack names (its logGroupName output), as on Lambda.

LocalStack Community writes them to /aws/lambda/<function name> whatever the function's logging
config says; the harness plugin makes it follow the config, which `darknet-lambda logs` relies on.
"""

from __future__ import annotations

import time

from e2e_harness.client import aws


def test_a_request_s_log_lines_are_in_the_stack_s_log_group(stack, dog_jpg):
    assert stack.log_group_name and stack.log_group_name != f"/aws/lambda/{stack.function_name}"
    started_ms = int(time.time() * 1000) - 1000
    answer = stack.detect(dog_jpg)
    assert answer.status_code == 200, answer.text[:300]
    logs = aws("logs")
    deadline = time.monotonic() + 30
    reports: list[str] = []
    while not reports and time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=stack.log_group_name, startTime=started_ms)["events"]
        reports = [event["message"] for event in events if event["message"].startswith("REPORT RequestId")]
        time.sleep(0.5)
    assert reports, f"no REPORT line in {stack.log_group_name} within 30 s"
    groups = [group["logGroupName"] for group in logs.describe_log_groups()["logGroups"]]
    assert f"/aws/lambda/{stack.function_name}" not in groups
