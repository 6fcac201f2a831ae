"""__main__.py with each stack file: the resources, their parents, the exports and config errors."""

import dataclasses
import inspect
import json

import pulumi
import pulumi_aws
import pytest
import yaml
from support import ROOT

from darknet_lambda import DarknetServiceArgs, StackConfigError
from darknet_lambda.service import HANDED
from darknet_lambda.stack_config import PARTS, camel_case, config_kind

EXPORTS = {
    "bucketName",
    "uploadsUrl",
    "resultsUrl",
    "viewerUrl",
    "inputUri",
    "outputUri",
    "apiUrl",
    "functionName",
    "logGroupName",
    "imageUri",
    "queueUrl",
    "deadLetterQueueUrl",
    "dashboardName",
    "inputPrefix",  # the command (darknet-lambda) reads these three
    "outputPrefix",
    "apiAuthorization",
    "eventBusName",
}
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
    # Only a stack whose API takes API keys has a key to name.
    assert set(exports) == EXPORTS | ({"apiKeyId"} if stack == "prod" else set())
    bucket = exports["bucketName"]
    assert (exports["inputUri"], exports["outputUri"]) == (f"s3://{bucket}/input/", f"s3://{bucket}/output/")
    assert exports["apiUrl"].endswith("/v1/detect")
    assert exports["viewerUrl"] == exports["apiUrl"].removesuffix("detect")
    assert exports["logGroupName"].startswith("/aws/lambda/")
    assert (exports["inputPrefix"], exports["outputPrefix"]) == ("input/", "output/")
    assert exports["apiAuthorization"] == ("api_key" if stack == "prod" else "none")
    assert all(exports.values())


def test_dev_function_runs_the_pushed_digest(mocked):
    deployment = mocked.run_main(mocked.stack_config("dev"))
    digest = deployment.one("docker:index/image:Image").state["repoDigest"]
    assert digest.endswith(mocked.image_digest)
    assert deployment.one("aws:lambda/function:Function", "darknet").inputs["imageUri"] == digest
    assert deployment.exports["imageUri"] == digest


def test_prod_settings_reach_the_resources(mocked):
    deployment = mocked.run_main(mocked.stack_config("prod"))
    function = deployment.one("aws:lambda/function:Function", "darknet").inputs
    assert (function["memorySize"], function["timeout"], function["reservedConcurrentExecutions"]) == (
        3538,
        120,
        20,
    )
    assert deployment.one("aws:s3/bucketVersioning:BucketVersioning")
    assert deployment.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is False


def test_localstack_uses_the_local_image_and_no_ecr(mocked):
    deployment = mocked.run_main(mocked.stack_config("localstack"))
    assert not {t for t in deployment.types if t.startswith(("aws:ecr/", "docker:"))}
    assert (
        deployment.one("aws:lambda/function:Function", "darknet").inputs["imageUri"]
        == "darknet-lambda:yolov3-tiny"
    )
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


def with_setting(config: dict[str, str], path: str, value: object) -> dict[str, str]:
    """`config` with one setting changed, `path` as a user writes it (`function.memorySize`)."""
    key, _, inner = path.partition(".")
    full_key = f"darknet-lambda:{key}"
    if not inner:
        return {**config, full_key: value if isinstance(value, str) else json.dumps(value)}
    return {**config, full_key: json.dumps({**json.loads(config.get(full_key, "{}")), inner: value})}


def dev_with(mocked, path: str, value: object) -> dict[str, str]:
    return with_setting(mocked.stack_config("dev"), path, value)


def test_http_path_off_removes_the_api_and_the_self_invoke_statement(mocked):
    deployment = mocked.run_main(dev_with(mocked, "enableHttpApi", "false"))
    assert not {t for t in deployment.types if t.startswith("aws:apigateway/")}
    # The order resources register in is the program's business, not this test's: the set matters.
    assert sorted(p.name for p in deployment.of_type("aws:iam/rolePolicy:RolePolicy")) == [
        "darknet-access",
        "darknet-consume",
        "darknet-events",
    ]
    assert deployment.exports["apiUrl"] is None
    assert deployment.one("aws:s3/bucketNotification:BucketNotification")


def test_s3_path_off_removes_the_trigger(mocked):
    deployment = mocked.run_main(dev_with(mocked, "enableS3Trigger", "false"))
    assert deployment.of_type("aws:s3/bucketNotification:BucketNotification") == []
    assert [p.inputs["principal"] for p in deployment.of_type("aws:lambda/permission:Permission")] == [
        "apigateway.amazonaws.com"
    ] * 4, "GET /, POST /detect, POST /uploads and GET /results only"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "function.memorySize",
            512,
            r"darknet-lambda:function.memorySize: 512 MB is too little: Lambda sizes the CPU",
        ),
        ("function.memorySize", 20480, r"darknet-lambda:function.memorySize: .*maximum of 10240 MB"),
        (
            "function",
            {"engine": "darknet", "memorySize": 1024},
            r"darknet-lambda:function.memorySize: 1024 MB is too little for the darknet engine: every photo",
        ),
        ("function.memorySize", "lots", r"darknet-lambda:function.memorySize: 'lots' is not a whole number"),
        (
            "function.engine",
            "tensorrt",
            r"darknet-lambda:function.engine: 'tensorrt' is not one of onnx, darknet",
        ),
        ("image.architecture", "sparc", r"darknet-lambda:image.architecture: 'sparc' is not one of"),
        ("function.timeout", 0, r"darknet-lambda:function.timeout: 0 is outside 1..900"),
        ("function.threshold", 1.5, r"darknet-lambda:function.threshold: 1.5 must be above 0 and below 1"),
        ("function.threshold", 1, r"darknet-lambda:function.threshold: 1 must be above 0 and below 1"),
        ("image.model", "yolo9000", r"darknet-lambda:image.model: 'yolo9000' is not in models.json"),
        (
            "function.outputPrefix",
            "input/out/",
            r"darknet-lambda:function.outputPrefix: .*overlaps the input",
        ),
        ("function.logRetentionDays", 10, r"darknet-lambda:function.logRetentionDays: 10 is not one of"),
        ("api.throttleBurstLimit", 0, r"darknet-lambda:api.throttleBurstLimit: 0 is outside"),
        ("image.context", "/nonexistent", r"darknet-lambda:image.context: no Dockerfile in /nonexistent"),
        ("image.pushToEcr", "yes", r"darknet-lambda:image.pushToEcr: 'yes' is not true or false"),
        (
            "image.modelUri",
            "https://models/",
            r"darknet-lambda:image.modelUri: 'https://models/' is not an S3",
        ),
        ("image.modelFlavour", "fork", r"darknet-lambda:image.modelFlavour: applies to a team's own model"),
        ("function.imageUri", "repo:tag", r"darknet-lambda:function.imageUri: is set by the service from"),
        ("function.memory", 2048, r"darknet-lambda:function: unknown setting\(s\) memory; known: imageUri"),
        ("function", '["A"]', r"darknet-lambda:function: expected a map"),
        ("s3Delivery", "sns", r"darknet-lambda:s3Delivery: 'sns' is not one of notification, eventbridge"),
    ],
)
def test_invalid_config_names_the_key(mocked, path, value, message):
    with pytest.raises(StackConfigError, match=message):
        mocked.run_main(dev_with(mocked, path, value))


def test_both_paths_off_is_refused(mocked):
    config = with_setting(dev_with(mocked, "enableS3Trigger", "false"), "enableHttpApi", "false")
    with pytest.raises(
        StackConfigError, match="darknet-lambda:enableHttpApi: the S3 trigger and the HTTP API"
    ):
        mocked.run_main(config)


def test_wrongly_typed_top_level_config_names_the_key(mocked):
    with pytest.raises(pulumi.ConfigTypeError, match="darknet-lambda:enableHttpApi"):
        mocked.run_main(dev_with(mocked, "enableHttpApi", "lots"))


def test_a_new_args_field_is_a_setting_without_any_table(mocked):
    """The configuration follows the Args: every field of every part is reachable by its camelCase name."""
    deployment = mocked.run_main(dev_with(mocked, "function.ephemeralStorage", 4096))
    assert deployment.one("aws:lambda/function:Function", "darknet").inputs["ephemeralStorage"] == {
        "size": 4096
    }
    deployment = mocked.run_main(dev_with(mocked, "api.binaryMediaTypes", ["image/*"]))
    assert deployment.one("aws:apigateway/restApi:RestApi").inputs["binaryMediaTypes"] == ["image/*"]


def project_config() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


# How Pulumi.yaml declares each kind: Pulumi has no object config type.
DECLARED_TYPES = {"bool": "boolean", "str": "string", "object": None}
SERVICE_FIELDS = {field.name: field for field in dataclasses.fields(DarknetServiceArgs)}


def test_pulumi_yaml_declares_exactly_the_fields_of_the_service_args():
    assert set(project_config()) == {camel_case(name) for name in SERVICE_FIELDS}


@pytest.mark.parametrize("name", sorted(SERVICE_FIELDS))
def test_declared_type_and_default_are_the_args_own(name):
    declaration, field = project_config()[camel_case(name)], SERVICE_FIELDS[name]
    assert declaration["description"]
    assert declaration.get("type") == DECLARED_TYPES[config_kind(field.type)]
    if name in PARTS:
        assert declaration["default"] == {}, "a part's defaults are its Args'"
        assert all(
            camel_case(f.name) in declaration["description"]
            for f in dataclasses.fields(PARTS[name])
            if f.name not in HANDED[name]
        )
    elif field.default is None:  # optional: the declared default is empty, which the reader treats as unset
        assert declaration["default"] == ""
    elif field.default is dataclasses.MISSING:  # a map, built by a default factory
        assert declaration["default"] == field.default_factory()
    else:
        assert declaration["default"] == field.default


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_set_only_declared_keys_and_fields_of_the_parts(mocked, stack):
    declarations = project_config()
    for full_key, value in yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"].items():
        namespace, key = full_key.split(":", 1)
        if namespace != "darknet-lambda":
            continue
        assert key in declarations, f"{full_key} is not declared in Pulumi.yaml"
        if key in {camel_case(name) for name in PARTS}:
            part = PARTS[next(name for name in PARTS if camel_case(name) == key)]
            assert set(value) <= {camel_case(f.name) for f in dataclasses.fields(part)}, full_key


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
    deployment = mocked.run_main(dev_with(mocked, "s3Delivery", "eventbridge"))
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification == {"bucket": deployment.exports["bucketName"], "eventbridge": True}
    target = deployment.one("aws:cloudwatch/eventTarget:EventTarget").inputs["arn"]
    assert target == deployment.one("aws:sqs/queue:Queue", "darknet-images").state["arn"]
    rule = deployment.one("aws:cloudwatch/eventRule:EventRule").state["arn"]
    (statement,) = deployment.one("aws:sqs/queuePolicy:QueuePolicy").policy()["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule}}


def test_eventbridge_delivery_on_an_existing_bucket_writes_nothing_to_the_bucket(mocked):
    config = with_setting(dev_with(mocked, "s3Delivery", "eventbridge"), "bucketName", "shared-photos")
    deployment = mocked.run_main(config)
    assert not {t for t in deployment.types if t.startswith("aws:s3/")}
    rule = deployment.one("aws:cloudwatch/eventRule:EventRule").inputs
    assert json.loads(rule["eventPattern"])["detail"]["bucket"]["name"] == ["shared-photos"]
