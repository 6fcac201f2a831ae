"""DarknetServiceArgs composes its parts' own Args: one definition of each setting, wired by the service."""

import dataclasses

import pytest

from darknet_lambda import (
    DarknetApiArgs,
    DarknetBucketArgs,
    DarknetFunctionArgs,
    DarknetImageArgs,
    DarknetService,
    DarknetServiceArgs,
    DarknetUploadsArgs,
    InvalidArgument,
)
from darknet_lambda.service import CREATED, HANDED, PARTS

SERVICE = DarknetServiceArgs()


def differing_fields(got, want) -> list[str]:
    return [f.name for f in dataclasses.fields(want) if getattr(got, f.name) != getattr(want, f.name)]


def test_parts_default_to_the_components_defaults():
    assert SERVICE.image == DarknetImageArgs()
    assert SERVICE.bucket == DarknetBucketArgs()
    assert SERVICE.function == DarknetFunctionArgs()
    assert SERVICE.api == DarknetApiArgs()


def function_args(args: DarknetServiceArgs) -> DarknetFunctionArgs:
    return args.handed(DarknetFunctionArgs, image_uri="image", bucket_name="bucket", event_bus=None)


def uploads_args(args: DarknetServiceArgs) -> DarknetUploadsArgs:
    return args.handed(DarknetUploadsArgs, image_uri="image", bucket_name="bucket")


def api_args(args: DarknetServiceArgs) -> DarknetApiArgs:
    functions = {
        "function_name": "fn",
        "function_invoke_arn": "arn",
        "uploads_function_name": "uploads-fn",
        "uploads_function_invoke_arn": "uploads-arn",
    }
    return args.handed(DarknetApiArgs, **functions, input_uri="s3://b/input/")


def test_the_service_hands_each_decision_from_its_one_home():
    args = DarknetServiceArgs(
        image=DarknetImageArgs(model="yolov3", architecture="arm64"),
        bucket=DarknetBucketArgs(kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1"),
        function=DarknetFunctionArgs(output_prefix="results/", tags={"part": "function"}),
        tags={"team": "vision"},
    )
    function = function_args(args)
    assert differing_fields(function, args.function) == [
        "image_uri",
        "bucket_name",
        "model",
        "architecture",
        "allow_self_invoke",
        "bucket_kms_key_arn",
        "cors_allowed_origins",
        "tags",
    ]
    assert (function.model, function.architecture, function.allow_self_invoke) == ("yolov3", "arm64", True)
    assert function.bucket_kms_key_arn == args.bucket.kms_key_arn
    assert function.tags == {"team": "vision", "part": "function"}
    assert args.handed(DarknetBucketArgs).output_prefix == "results/"
    assert args.handed(DarknetImageArgs).engine == "onnx"
    assert api_args(args).tags == {"team": "vision"}
    uploads = uploads_args(args)
    assert (uploads.input_prefix, uploads.output_prefix, uploads.architecture) == (
        "input/",
        "results/",
        "arm64",
    )
    assert uploads.bucket_kms_key_arn == args.bucket.kms_key_arn and uploads.image_uri == "image"
    assert uploads.result_window_seconds == args.result_window_seconds()
    assert function_args(DarknetServiceArgs(enable_http_api=False)).allow_self_invoke is False


def test_every_handed_argument_is_a_field_of_its_part_with_one_source():
    decisions = DarknetServiceArgs().decisions()
    assert not set(decisions) & set(CREATED)
    for part, names in HANDED.items():
        fields = {field.name for field in dataclasses.fields(PARTS[part])}
        assert set(names) <= fields, part
        assert set(names) <= set(decisions) | set(CREATED), part
    assert set(decisions) | set(CREATED) == {name for names in HANDED.values() for name in names}


def test_a_part_is_handed_exactly_the_resources_it_takes():
    with pytest.raises(
        TypeError, match=r"function takes \['bucket_name', 'event_bus', 'image_uri'\] from the service"
    ):
        SERVICE.handed(DarknetFunctionArgs, image_uri="image")
    with pytest.raises(TypeError, match="bucket takes"):
        SERVICE.handed(DarknetBucketArgs, bucket_name="b")


def test_the_api_s_cors_origins_reach_both_functions_and_the_bucket_and_nothing_without_an_api():
    args = DarknetServiceArgs(api=DarknetApiArgs(cors_allowed_origins=["https://app.example.com"]))
    assert function_args(args).cors_allowed_origins == ["https://app.example.com"]
    assert uploads_args(args).cors_allowed_origins == ["https://app.example.com"]
    assert args.handed(DarknetBucketArgs).cors_allowed_origins == ["https://app.example.com"]
    assert api_args(args).input_uri == "s3://b/input/"
    off = DarknetServiceArgs(api=DarknetApiArgs(cors_allowed_origins=["*"]), enable_http_api=False)
    assert (
        off.handed(DarknetBucketArgs).cors_allowed_origins == []
        and function_args(off).cors_allowed_origins == []
    )
    with pytest.raises(InvalidArgument) as raised:
        DarknetServiceArgs(bucket=DarknetBucketArgs(cors_allowed_origins=["*"]))
    assert raised.value.argument == "bucket.cors_allowed_origins"


def test_parts_may_be_plain_dicts_with_the_same_defaults_and_checks():
    args = DarknetServiceArgs(function={"memory_size": 3008.0, "threshold": 0.4}, api={"stage_name": "prod"})
    assert args.function == DarknetFunctionArgs(memory_size=3008, threshold=0.4)
    assert args.api == DarknetApiArgs(stage_name="prod")
    with pytest.raises(InvalidArgument) as raised:
        DarknetServiceArgs(function={"memory_size": 512})
    assert raised.value.argument == "function.memory_size"
    with pytest.raises(InvalidArgument, match="unknown field"):
        DarknetServiceArgs(function={"memory": 2048})


@pytest.mark.parametrize(
    ("part", "args", "path"),
    [
        ("function", {"memory_size": 1024, "timeout": 0}, "function.timeout"),
        ("api", {"throttle_burst_limit": 5001}, "api.throttle_burst_limit"),
        ("bucket", {"output_expiration_days": 0}, "bucket.output_expiration_days"),
        ("image", {"context": "no/such/directory"}, "image.context"),
        ("function", {"threshold": 1.0}, "function.threshold"),
    ],
)
def test_a_bad_part_setting_is_reported_under_its_path(part, args, path):
    with pytest.raises(InvalidArgument) as raised:
        DarknetServiceArgs(**{part: args})
    assert raised.value.argument == path


@pytest.mark.parametrize(
    ("part", "args", "path", "home"),
    [
        ("function", DarknetFunctionArgs(model="yolov3"), "function.model", "image.model"),
        (
            "function",
            DarknetFunctionArgs(architecture="arm64"),
            "function.architecture",
            "image.architecture",
        ),
        ("uploads", {"architecture": "x86_64"}, "uploads.architecture", "image.architecture"),
        ("uploads", {"input_prefix": "photos/"}, "uploads.input_prefix", "function.input_prefix"),
        ("image", {"engine": "darknet"}, "image.engine", "function.engine"),
        ("function", DarknetFunctionArgs(bucket_name="b"), "function.bucket_name", "the bucket"),
        (
            "function",
            DarknetFunctionArgs(allow_self_invoke=True),
            "function.allow_self_invoke",
            "enable_http_api",
        ),
        ("bucket", DarknetBucketArgs(output_prefix="out/"), "bucket.output_prefix", "function.output_prefix"),
        ("api", DarknetApiArgs(function_name="f"), "api.function_name", "the function"),
        ("queue", {"function_timeout": 60}, "queue.function_timeout", "function.timeout"),
    ],
)
def test_a_decision_the_service_hands_down_cannot_be_set_twice(part, args, path, home):
    with pytest.raises(InvalidArgument, match=f"is set by the service from {home}") as raised:
        DarknetServiceArgs(**{part: args})
    assert raised.value.argument == path


def test_model_the_darknet_cli_cannot_run_is_refused_at_deploy_time(build_context):
    """yolov4-tiny needs the maintained fork's layers, which the image's Darknet CLI lacks."""
    with pytest.raises(InvalidArgument, match="cannot run on the darknet engine") as raised:
        DarknetServiceArgs(
            image={"context": str(build_context), "model": "yolov4-tiny"}, function={"engine": "darknet"}
        )
    assert raised.value.argument == "image.model"


def test_parts_are_reachable_for_extension(mocked):
    seen = {}

    def program():
        service = DarknetService("detector", DarknetServiceArgs(image={"image_uri": "repo/detector:1"}))
        seen.update(
            role=service.function.role,
            function=service.function.function,
            log_group=service.function.log_group,
            failure_queue=service.function.failure_queue,
            bucket=service.bucket.bucket,
            rest_api=service.api.rest_api,
            stage=service.api.stage,
            notification=service.trigger.notification,
            repository=service.image.repository,
        )

    mocked.run(program)
    assert seen.pop("repository") is None, "an image given by URI has no repository"
    assert all(seen.values())
