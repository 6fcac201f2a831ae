"""__main__.py with each stack file: the resources, their parents, the exports and config errors."""

import dataclasses
import inspect
import json
from pathlib import Path

import pulumi
import pulumi_aws
import pytest
import yaml

from components import StackConfigError
from components.stack_config import CONFIG_KEYS, config_kind, field_of

ROOT = Path(__file__).resolve().parents[2]

EXPORTS = {"bucketName", "inputUri", "outputUri", "apiUrl", "functionName", "logGroupName", "imageUri"}
STACKS = ("dev", "prod", "localstack")


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_parented_to_its_component(mocked, stack):
    deployment = mocked.run_main(mocked.stack_config(stack))
    for resource in deployment.resources:
        if resource.type == "darknet:index:DarknetService":
            assert resource.parent_type == "pulumi:pulumi:Stack"
        elif resource.type.startswith("darknet:index:"):
            assert resource.parent_type == "darknet:index:DarknetService", resource.urn
        else:
            assert resource.parent_type.startswith("darknet:index:"), resource.urn
            assert resource.parent_type != "darknet:index:DarknetService", resource.urn


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs(mocked, stack):
    exports = mocked.run_main(mocked.stack_config(stack)).exports
    assert set(exports) == EXPORTS
    bucket = exports["bucketName"]
    assert (exports["inputUri"], exports["outputUri"]) == (f"s3://{bucket}/input/", f"s3://{bucket}/output/")
    assert exports["apiUrl"].endswith("/v1/detect")
    assert exports["logGroupName"].startswith("/aws/lambda/")
    assert all(exports.values())


def test_dev_function_runs_the_pushed_digest(mocked):
    deployment = mocked.run_main(mocked.stack_config("dev"))
    digest = deployment.one("docker:index/image:Image").state["repoDigest"]
    assert digest.endswith(mocked.image_digest)
    assert deployment.one("aws:lambda/function:Function").inputs["imageUri"] == digest
    assert deployment.exports["imageUri"] == digest


def test_prod_settings_reach_the_resources(mocked):
    deployment = mocked.run_main(mocked.stack_config("prod"))
    function = deployment.one("aws:lambda/function:Function").inputs
    assert (function["memorySize"], function["timeout"], function["reservedConcurrentExecutions"]) == (
        3008,
        120,
        20,
    )
    assert deployment.one("aws:s3/bucketVersioning:BucketVersioning")
    assert deployment.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is False


def test_localstack_uses_the_local_image_and_no_ecr(mocked):
    deployment = mocked.run_main(mocked.stack_config("localstack"))
    assert not {t for t in deployment.types if t.startswith(("aws:ecr/", "docker:"))}
    assert deployment.one("aws:lambda/function:Function").inputs["imageUri"] == "darknet-lambda:yolov3-tiny"
    assert deployment.of_type("aws:apigateway/account:Account") == []


def test_localstack_endpoints_are_valid_provider_keys_for_every_service_used(mocked):
    config = mocked.stack_config("localstack")
    endpoints = json.loads(config["aws:endpoints"])[0]
    schema_keys = {
        name.rstrip("_")
        for name in inspect.signature(pulumi_aws.config.outputs.Endpoints.__init__).parameters
    }
    assert set(endpoints) <= schema_keys
    assert {"sts", "iam", "s3", "lambda", "apigateway", "logs", "sqs", "cloudwatch"} <= set(endpoints)
    assert set(endpoints.values()) == {"http://localhost:4566"}
    for flag in (
        "skipCredentialsValidation",
        "skipRequestingAccountId",
        "skipMetadataApiCheck",
        "s3UsePathStyle",
    ):
        assert config[f"aws:{flag}"] == "true"
    assert (config["aws:accessKey"], config["aws:secretKey"], config["aws:region"]) == (
        "test",
        "test",
        "us-east-1",
    )


def test_http_path_off_removes_the_api_and_the_self_invoke_statement(mocked):
    deployment = mocked.run_main({**mocked.stack_config("dev"), "darknet-lambda:httpApi": "false"})
    assert not {t for t in deployment.types if t.startswith("aws:apigateway/")}
    assert [p.name for p in deployment.of_type("aws:iam/rolePolicy:RolePolicy")] == ["darknet-access"]
    assert deployment.exports["apiUrl"] is None
    assert deployment.one("aws:s3/bucketNotification:BucketNotification")


def test_s3_path_off_removes_the_trigger(mocked):
    deployment = mocked.run_main({**mocked.stack_config("dev"), "darknet-lambda:s3Trigger": "false"})
    assert deployment.of_type("aws:s3/bucketNotification:BucketNotification") == []
    assert [p.inputs["principal"] for p in deployment.of_type("aws:lambda/permission:Permission")] == [
        "apigateway.amazonaws.com"
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("memorySize", "512", r"darknet-lambda:memorySize: 512 MB is too little: Lambda sizes the CPU share"),
        ("memorySize", "20480", r"darknet-lambda:memorySize: .*maximum of 10240 MB"),
        ("engine", "tensorrt", r"darknet-lambda:engine: 'tensorrt' is not one of onnx, darknet"),
        ("architecture", "sparc", r"darknet-lambda:architecture: 'sparc' is not one of"),
        ("timeout", "0", r"darknet-lambda:timeout: 0 is outside 1..900"),
        ("threshold", "1.5", r"darknet-lambda:threshold: 1.5 must be above 0 and below 1"),
        ("threshold", "1.0", r"darknet-lambda:threshold: 1.0 must be above 0 and below 1"),
        ("model", "yolo9000", r"darknet-lambda:model: 'yolo9000' is not in models.json"),
        ("outputPrefix", "input/out/", r"darknet-lambda:outputPrefix: .*overlaps the input prefix"),
        ("logRetentionDays", "10", r"darknet-lambda:logRetentionDays: 10 is not one of"),
        ("apiThrottleBurstLimit", "0", r"darknet-lambda:apiThrottleBurstLimit: 0 is outside"),
        ("buildContext", "/nonexistent", r"darknet-lambda:buildContext: no Dockerfile in /nonexistent"),
        ("environment", '["A"]', r"darknet-lambda:environment: expected a map of strings"),
    ],
)
def test_invalid_config_names_the_key(mocked, key, value, message):
    with pytest.raises(StackConfigError, match=message):
        mocked.run_main({**mocked.stack_config("dev"), f"darknet-lambda:{key}": value})


def test_both_paths_off_is_refused(mocked):
    config = {"darknet-lambda:s3Trigger": "false", "darknet-lambda:httpApi": "false"}
    with pytest.raises(StackConfigError, match="darknet-lambda:httpApi: the S3 trigger and the HTTP API"):
        mocked.run_main({**mocked.stack_config("dev"), **config})


def test_wrongly_typed_config_names_the_key(mocked):
    with pytest.raises(pulumi.ConfigTypeError, match="darknet-lambda:memorySize"):
        mocked.run_main({**mocked.stack_config("dev"), "darknet-lambda:memorySize": "lots"})


def project_config() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


# How Pulumi.yaml declares each kind: Pulumi has no number or object config type.
DECLARED_TYPES = {"int": "integer", "bool": "boolean", "str": "string", "float": None, "object": None}


def test_pulumi_yaml_declares_exactly_the_keys_the_program_reads():
    assert set(project_config()) == set(CONFIG_KEYS)


@pytest.mark.parametrize("key", sorted(CONFIG_KEYS))
def test_declared_type_and_default_are_the_args_own(key):
    declaration = project_config()[key]
    field = field_of(CONFIG_KEYS[key][0])
    assert declaration["description"]
    assert declaration.get("type") in {"integer", "boolean", "string", None}
    kind = DECLARED_TYPES[config_kind(CONFIG_KEYS[key][0])]
    if field.default is None:  # optional: the declared default is empty, which the reader treats as unset
        assert (declaration.get("type"), declaration["default"]) == (kind if kind == "string" else None, "")
    elif field.default is dataclasses.MISSING:  # a map, built by a default factory
        assert (declaration.get("type"), declaration["default"]) == (None, field.default_factory())
    else:
        assert declaration.get("type") == kind
        assert declaration["default"] == field.default
        assert type(declaration["default"]) is type(field.default)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_set_only_declared_keys_with_values_of_the_declared_type(mocked, stack):
    declarations = project_config()
    for full_key, value in yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"].items():
        namespace, key = full_key.split(":", 1)
        if namespace != "darknet-lambda":
            continue
        assert key in declarations, f"{full_key} is not declared in Pulumi.yaml"
        expected = {"integer": int, "boolean": bool, "string": str}.get(declarations[key].get("type"))
        if expected is not None:
            assert isinstance(value, expected), f"{full_key}: {value!r} is not {declarations[key]['type']}"


@pytest.mark.parametrize("stack", STACKS)
def test_declared_defaults_deploy_what_the_components_defaults_deploy(mocked, stack):
    """The Pulumi CLI fills unset keys with the declared defaults: the deployment must not change."""
    defaults = {
        f"darknet-lambda:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in ((key, d["default"]) for key, d in project_config().items())
    }
    stack_config = mocked.stack_config(stack)
    with_defaults = mocked.run_main({**defaults, **stack_config})
    without = mocked.run_main(stack_config)

    def resources(deployment):
        return sorted(json.dumps([r.type, r.name, r.inputs], sort_keys=True) for r in deployment.resources)

    assert resources(with_defaults) == resources(without)


def test_eventbridge_delivery_on_the_stacks_own_bucket_switches_the_bucket_to_eventbridge(mocked):
    deployment = mocked.run_main({**mocked.stack_config("dev"), "darknet-lambda:s3Delivery": "eventbridge"})
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification == {"bucket": deployment.exports["bucketName"], "eventbridge": True}
    assert (
        deployment.one("aws:cloudwatch/eventTarget:EventTarget")
        .inputs["arn"]
        .endswith(":function:darknet-0a1b2c3")
    )


def test_eventbridge_delivery_on_an_existing_bucket_writes_nothing_to_the_bucket(mocked):
    config = {
        **mocked.stack_config("dev"),
        "darknet-lambda:s3Delivery": "eventbridge",
        "darknet-lambda:bucketName": "shared-photos",
    }
    deployment = mocked.run_main(config)
    assert not {t for t in deployment.types if t.startswith("aws:s3/")}
    rule = deployment.one("aws:cloudwatch/eventRule:EventRule").inputs
    assert json.loads(rule["eventPattern"])["detail"]["bucket"]["name"] == ["shared-photos"]
