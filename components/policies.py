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
