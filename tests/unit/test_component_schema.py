"""Other Pulumi languages: the schema Pulumi's provider host infers from the components, and
construction from plain input dicts, as the host does it, with the Python API's defaults and checks."""

import dataclasses
import json
from functools import partial

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
    "DarknetEvents",
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
            "DarknetEventsArgs",
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
        "eventBusName",
        "inputPrefix",
        "outputPrefix",
        "apiAuthorization",
        *PRINCIPAL_RESOURCES,
    }
    assert "apiUrl" not in service["required"], "absent when the HTTP API is off"
    assert "apiAuthorization" not in service["required"], "absent when the HTTP API is off"
    assert service["properties"]["inputPrefix"]["type"] == "string"
    function = schema["resources"]["darknet:index:DarknetFunction"]
    assert {"roleName", "failureQueueArn", "logGroupName", "invokeArn"} <= set(function["properties"])


# The service's principal AWS resources, as outputs: the AWS type each refers to, and whether every
# service has one.
PRINCIPAL_RESOURCES = {
    "detectorFunction": ("aws:lambda/function:Function", True),
    "detectorRole": ("aws:iam/role:Role", True),
    "uploadsFunction": ("aws:lambda/function:Function", False),
    "uploadsRole": ("aws:iam/role:Role", False),
    "s3Bucket": ("aws:s3/bucket:Bucket", False),
    "imageQueue": ("aws:sqs/queue:Queue", False),
    "deadLetterQueue": ("aws:sqs/queue:Queue", False),
    "restApi": ("aws:apigateway/restApi:RestApi", False),
    "apiStage": ("aws:apigateway/stage:Stage", False),
    "repository": ("aws:ecr/repository:Repository", False),
    "eventBus": ("aws:cloudwatch/eventBus:EventBus", False),
}
# Each part's AWS resources, as its outputs.
PART_RESOURCES = {
    "DarknetFunction": {"function", "role", "logGroup", "failureQueue"},
    "DarknetUploads": {"function", "role", "logGroup"},
    "DarknetBucket": {"bucket"},
    "DarknetQueue": {"queue", "deadLetterQueue"},
    "DarknetApi": {"restApi", "stage", "apiKey"},
    "DarknetImage": {"repository"},
    "DarknetMonitoring": {"topic"},
    "DarknetEvents": {"eventBus"},
}


def aws_resource_ref(spec: dict) -> str:
    """The AWS resource type an output refers to, from its reference into pulumi-aws's schema."""
    prefix, _, token = spec["$ref"].partition("/schema.json#/resources/")
    assert prefix.startswith("/aws/v"), spec
    return token.replace("%2F", "/")


def test_the_principal_resources_are_outputs_that_other_languages_reach(schema):
    service = schema["resources"]["darknet:index:DarknetService"]
    for name, (resource_type, always) in PRINCIPAL_RESOURCES.items():
        assert aws_resource_ref(service["properties"][name]) == resource_type, name
        assert (name in service["required"]) == always, name
        assert service["properties"][name]["description"]
    for component, names in PART_RESOURCES.items():
        outputs = schema["resources"][f"darknet:index:{component}"]["properties"]
        assert all(aws_resource_ref(outputs[name]) for name in names), component
    assert {"name": "aws", "version": pulumi_aws_version()} in schema["dependencies"]


def pulumi_aws_version() -> str:
    from importlib.metadata import version

    return version("pulumi_aws")


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


def test_construct_hands_other_languages_the_resources_themselves(mocked, provider):
    """The provider host returns the service's resources as references to the registered resources."""
    urns: dict[str, str] = {}
    inputs = {"image": {"imageUri": IMAGE}}

    def program():
        state = provider.construct("detector", "darknet:index:DarknetService", inputs, None).state
        assert "repository" not in state, "an image given by URI has no repository"
        for name in ("detectorFunction", "detectorRole", "uploadsRole", "s3Bucket", "imageQueue", "apiStage"):
            state[name].urn.apply(partial(urns.__setitem__, name))

    deployment = mocked.run(program)
    assert urns == {
        "detectorFunction": deployment.one("aws:lambda/function:Function", "detector").urn,
        "detectorRole": deployment.one("aws:iam/role:Role", "detector").urn,
        "uploadsRole": deployment.one("aws:iam/role:Role", "detector-uploads").urn,
        "s3Bucket": deployment.one("aws:s3/bucket:Bucket").urn,
        "imageQueue": deployment.one("aws:sqs/queue:Queue", "detector-images").urn,
        "apiStage": deployment.one("aws:apigateway/stage:Stage").urn,
    }
