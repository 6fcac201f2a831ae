"""IAM policy documents shared by the components."""

from __future__ import annotations

import json


def policy_document(*statements: dict) -> str:
    """An IAM policy document (version 2012-10-17) holding the given statements, as JSON."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service_principal: str) -> str:
    """A trust policy that lets one AWS service (and nothing else) assume the role."""
    return policy_document(
        {"Effect": "Allow", "Principal": {"Service": service_principal}, "Action": "sts:AssumeRole"}
    )


def own_logs_statement(log_group_arn: str) -> dict:
    """A function's right to write to its own log group, and no other."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{log_group_arn}:*"],
    }


def bucket_key_statement(kms_key_arn: str) -> dict:
    """The use of the bucket's KMS key that reading and writing its SSE-KMS objects needs."""
    return {
        "Sid": "UseBucketKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [kms_key_arn],
    }
