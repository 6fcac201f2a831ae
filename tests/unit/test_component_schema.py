"""Other Pulumi languages: the schema Pulumi's provider host infers from the components, and
construction from plain input dicts, as the host does it, with the Python API's defaults and checks."""

import dataclasses
import json

import pytest
import yaml
from pulumi.provider.experimental.component import ComponentInitError

from darknet_lambda import (
    DarknetFunctionArgs,
    DarknetImageArgs,
    DarknetService,
    DarknetServiceArgs,
)
from darknet_lambda.provider import DarknetProvider

COMPONENTS = {
    "DarknetService",
    "DarknetImage",
    "DarknetBucket",
    "DarknetFunction",
    "DarknetQueue",
    "DarknetMonitoring",
    "DarknetUploads",
    "DarknetS3Trigger",
    "DarknetApi",
}
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:" + "cd" * 32


@pytest.fixture(scope="module")
def provider() -> DarknetProvider:
    return DarknetProvider()


@pytest.fixture(scope="module")
def schema(provider) -> dict:
    return json.loads(provider.schema)


def test_the_plugin_runs_the_provider_host_on_python(mocked):
    plugin = yaml.safe_load((mocked.root / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin == {"runtime": "python"}
    assert (
        "from darknet_lambda.provider import main" in (mocked.root / "provider" / "__main__.py").read_text()
    )


def test_schema_lists_every_component(schema):
    assert schema["name"] == "darknet"
    assert {token.split(":")[-1] for token in schema["resources"]} == COMPONENTS
    assert all(resource["isComponent"] for resource in schema["resources"].values())
    assert set(schema["types"]) == {
        f"darknet:index:{name}"
        for name in (
            "DarknetImageArgs",
            "DarknetBucketArgs",
            "DarknetFunctionArgs",
            "DarknetApiArgs",
            "DarknetQueueArgs",
            "DarknetMonitoringArgs",
            "DarknetUploadsArgs",
        )
    }


def test_service_inputs_are_its_parts_with_descriptions_and_nothing_required(schema):
    service = schema["resources"]["darknet:index:DarknetService"]
    inputs = service["inputProperties"]
    assert inputs["function"]["$ref"] == "#/types/darknet:index:DarknetFunctionArgs"
    assert inputs["image"]["$ref"] == "#/types/darknet:index:DarknetImageArgs"
    assert inputs["enableHttpApi"] == {
        "description": "Serve POST /detect through API Gateway.",
        "type": "boolean",
        "plain": True,
        "default": True,
    }
    assert not service.get("requiredInputs"), "every input has a default"
    assert all(spec.get("description") for spec in inputs.values())


def test_part_types_carry_types_descriptions_and_the_dataclass_defaults(schema):
    function = schema["types"]["darknet:index:DarknetFunctionArgs"]["properties"]
    defaults = {field.name: field.default for field in dataclasses.fields(DarknetFunctionArgs)}
    assert function["memorySize"]["type"] == "integer"
    assert function["memorySize"]["default"] == defaults["memory_size"] == 1769
    assert "CPU share" in function["memorySize"]["description"]
    assert (function["threshold"]["type"], function["threshold"]["default"]) == ("number", 0.5)
    assert (function["engine"]["type"], function["engine"]["default"]) == ("string", "onnx")
    assert function["environment"]["additionalProperties"]["type"] == "string"
    assert "default" not in function["reservedConcurrency"]
    assert all(spec.get("description") for spec in function.values())


def test_outputs_of_the_service_and_the_function(schema):
    service = schema["resources"]["darknet:index:DarknetService"]
    assert set(service["properties"]) == {
        "bucketName",
        "inputUri",
        "outputUri",
        "apiUrl",
        "uploadsUrl",
        "resultsUrl",
        "viewerUrl",
        "functionName",
        "functionArn",
        "roleName",
        "logGroupName",
        "imageUri",
        "queueUrl",
        "deadLetterQueueUrl",
        "dashboardName",
        "inputPrefix",
        "outputPrefix",
        "apiAuthorization",
    }
    assert "apiUrl" not in service["required"], "absent when the HTTP API is off"
    assert "apiAuthorization" not in service["required"], "absent when the HTTP API is off"
    assert service["properties"]["inputPrefix"]["type"] == "string"
    function = schema["resources"]["darknet:index:DarknetFunction"]
    assert {"roleName", "failureQueueArn", "logGroupName", "invokeArn"} <= set(function["properties"])


def construct(mocked, provider, inputs):
    return mocked.run(lambda: provider.construct("detector", "darknet:index:DarknetService", inputs, None))


def python_api(mocked, args):
    return mocked.run(lambda: DarknetService("detector", args))


def summary(deployment) -> list[tuple[str, str, dict]]:
    return sorted(
        (r.type, r.name, json.dumps(r.inputs, sort_keys=True, default=str))
        for r in deployment.resources
        if not r.type.startswith("darknet:")
    )


def test_plain_dicts_get_the_python_apis_defaults(mocked, provider):
    from_dicts = construct(mocked, provider, {"image": {"imageUri": IMAGE}})
    from_python = python_api(mocked, DarknetServiceArgs(image=DarknetImageArgs(image_uri=IMAGE)))
    assert summary(from_dicts) == summary(from_python)


def test_plain_dicts_with_wire_numbers_match_the_python_api(mocked, provider):
    inputs = {
        "image": {"imageUri": IMAGE, "architecture": "arm64"},
        "function": {"memorySize": 3008.0, "threshold": 0.3, "engine": "darknet", "timeout": 120.0},
        "api": {"stageName": "prod", "throttleBurstLimit": 50.0},
        "enableS3Trigger": False,
        "tags": {"team": "vision"},
    }
    from_dicts = construct(mocked, provider, inputs)
    from_python = python_api(
        mocked,
        DarknetServiceArgs(
            image=DarknetImageArgs(image_uri=IMAGE, architecture="arm64"),
            function=DarknetFunctionArgs(memory_size=3008, threshold=0.3, engine="darknet", timeout=120),
            api={"stage_name": "prod", "throttle_burst_limit": 50},
            enable_s3_trigger=False,
            tags={"team": "vision"},
        ),
    )
    assert summary(from_dicts) == summary(from_python)
    function = from_dicts.one("aws:lambda/function:Function", "detector").inputs
    assert (function["memorySize"], function["architectures"]) == (3008, ["arm64"])


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"function": {"memorySize": 512}}, "function.memory_size: 512 MB is too little"),
        ({"function": {"threshold": 1.0}}, "function.threshold: 1.0 must be above 0 and below 1"),
        ({"image": {"model": "yolo9000"}}, "image.model: 'yolo9000' is not in models.json"),
        ({"enableS3Trigger": False, "enableHttpApi": False}, "cannot both be off"),
    ],
)
def test_plain_dicts_get_the_python_apis_checks(mocked, provider, inputs, message):
    with pytest.raises(ComponentInitError, match=message):
        construct(mocked, provider, inputs)
