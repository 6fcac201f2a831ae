"""IAM policy documents shared by the components."""

from __future__ import annotations

import json


def assume_role_policy(service_principal: str) -> str:
    """A trust policy that lets one AWS service (and nothing else) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service_principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )
