"""The harness's resource table against the program's own registrations, without LocalStack."""

from __future__ import annotations

import json

import pytest
from e2e_harness import applier, program

ACCOUNT = "000000000000"


def fake_state(type_token: str, name: str, inputs: dict) -> tuple[str, dict]:
    """Just enough answered state for the components to wire their dependents."""
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{name}-id", {
        **inputs,
        "arn": arn,
        "name": inputs.get("name", name),
        "bucket": inputs.get("bucket", name),
        "rootResourceId": "root",
        "invokeArn": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
        "executionArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:api",
        "url": "http://queue",
        "invokeUrl": "http://api/v1",
    }


@pytest.fixture(scope="module")
def registrations() -> list[tuple[str, str, dict]]:
    seen: list[tuple[str, str, dict]] = []

    def record(type_token: str, name: str, inputs: dict):
        seen.append((type_token, name, inputs))
        return fake_state(type_token, name, inputs)

    exports = program.run_program_with_auth_apis("localstack", program.stack_config("localstack"), record)
    seen.append(("exports", "", exports))
    return seen


def test_the_e2e_deploy_puts_an_api_per_authorization_mode_before_the_same_function(registrations):
    methods = [inputs for t, _, inputs in registrations if t == "aws:apigateway/method:Method"]
    detect_methods = [
        m for m in methods if m["httpMethod"] == "POST" and m["resourceId"].endswith("-detect-id")
    ]
    modes = sorted((m["authorization"], bool(m.get("apiKeyRequired"))) for m in detect_methods)
    assert modes == [("AWS_IAM", False), ("NONE", False), ("NONE", True)]
    permissions = [inputs for t, _, inputs in registrations if t == "aws:lambda/permission:Permission"]
    detect_functions = {
        p["function"]
        for p in permissions
        if p["principal"] == "apigateway.amazonaws.com" and p["sourceArn"].endswith("/POST/detect")
    }
    assert len(detect_functions) == 1, "every API's POST /detect must call the stack's one detector"
    (exports,) = [inputs for t, _, inputs in registrations if t == "exports"]
    assert {"apiUrl", "apiKeyApiUrl", "iamApiUrl"} <= set(exports)


def test_every_type_the_localstack_stack_registers_has_a_mapping(registrations):
    registered = {type_token for type_token, _, _ in registrations} - {"exports"}
    assert registered - set(applier.RESOURCE_TYPES) == set()
    assert "aws:lambda/function:Function" in registered
    assert "aws:s3/bucketNotification:BucketNotification" in registered


def test_the_localstack_stack_deploys_the_configured_image_without_ecr(registrations):
    function = next(inputs for t, _, inputs in registrations if t == "aws:lambda/function:Function")
    assert function["packageType"] == "Image"
    image = json.loads(program.stack_config("localstack")["darknet-lambda:image"])
    assert function["imageUri"] == image["imageUri"]
    assert not any(t.startswith("aws:ecr/") for t, _, _ in registrations)


def test_an_unknown_type_fails_loudly():
    with pytest.raises(applier.UnsupportedResource, match="no LocalStack mapping"):
        applier.Applier().create("aws:ec2/instance:Instance", "web", {})


def test_an_input_the_harness_does_not_apply_fails_loudly():
    inputs = {"assumeRolePolicy": "{}", "permissionsBoundary": "arn:aws:iam::1:policy/b"}
    with pytest.raises(applier.UnsupportedResource, match="permissionsBoundary"):
        applier.Applier().create("aws:iam/role:Role", "role", inputs)


def test_ecr_is_refused_with_the_reason():
    with pytest.raises(applier.UnsupportedResource, match="ECR is not in LocalStack Community"):
        applier.Applier().create("aws:ecr/repository:Repository", "repo", {})


def test_destroy_deletes_in_reverse_order_and_reports_failures(monkeypatch):
    deleted = []
    target = applier.Applier(
        applied=[applier.Applied("first", "a", "1", {}), applier.Applied("second", "b", "2", {})]
    )

    def delete(_, resource):
        deleted.append(resource.name)
        if resource.name == "b":
            raise RuntimeError("still in use")

    monkeypatch.setattr(applier, "RESOURCE_TYPES", {"first": (None, delete), "second": (None, delete)})
    failures = target.destroy()
    assert deleted == ["b", "a"]
    assert failures == ["second b: still in use"]
    assert target.applied == []
