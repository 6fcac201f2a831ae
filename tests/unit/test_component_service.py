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
    InvalidArgument,
)

SERVICE = DarknetServiceArgs()


def differing_fields(got, want) -> list[str]:
    return [f.name for f in dataclasses.fields(want) if getattr(got, f.name) != getattr(want, f.name)]


def test_parts_default_to_the_components_defaults():
    assert SERVICE.image == DarknetImageArgs()
    assert SERVICE.bucket == DarknetBucketArgs()
    assert SERVICE.function == DarknetFunctionArgs()
    assert SERVICE.api == DarknetApiArgs()


def test_the_service_wires_shared_facts_from_their_one_home():
    args = DarknetServiceArgs(
        image=DarknetImageArgs(model="yolov3", architecture="arm64"),
        bucket=DarknetBucketArgs(kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1"),
        function=DarknetFunctionArgs(output_prefix="results/", tags={"part": "function"}),
        tags={"team": "vision"},
    )
    function = args.function_args("image", "bucket")
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
    assert args.bucket_args().output_prefix == "results/"
    assert args.api_args("fn", "arn", "uploads-fn", "uploads-arn", "s3://b/input/").tags == {"team": "vision"}
    uploads = args.uploads_args("image", "bucket")
    assert (uploads.input_prefix, uploads.output_prefix, uploads.architecture) == (
        "input/",
        "results/",
        "arm64",
    )
    assert uploads.bucket_kms_key_arn == args.bucket.kms_key_arn and uploads.image_uri == "image"
    assert DarknetServiceArgs(enable_http_api=False).function_args("i", "b").allow_self_invoke is False


def test_the_api_s_cors_origins_reach_both_functions_and_the_bucket_and_nothing_without_an_api():
    args = DarknetServiceArgs(api=DarknetApiArgs(cors_allowed_origins=["https://app.example.com"]))
    assert args.function_args("i", "b").cors_allowed_origins == ["https://app.example.com"]
    assert args.uploads_args("i", "b").cors_allowed_origins == ["https://app.example.com"]
    assert args.bucket_args().cors_allowed_origins == ["https://app.example.com"]
    assert args.api_args("fn", "arn", "u", "uarn", "s3://b/input/").input_uri == "s3://b/input/"
    off = DarknetServiceArgs(api=DarknetApiArgs(cors_allowed_origins=["*"]), enable_http_api=False)
    assert (
        off.bucket_args().cors_allowed_origins == []
        and off.function_args("i", "b").cors_allowed_origins == []
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
    ("part", "args", "path"),
    [
        ("function", DarknetFunctionArgs(model="yolov3"), "function.model"),
        ("function", DarknetFunctionArgs(bucket_name="b"), "function.bucket_name"),
        ("function", DarknetFunctionArgs(allow_self_invoke=True), "function.allow_self_invoke"),
        ("bucket", DarknetBucketArgs(output_prefix="out/"), "bucket.output_prefix"),
        ("api", DarknetApiArgs(function_name="f"), "api.function_name"),
    ],
)
def test_what_the_service_wires_cannot_be_set_twice(part, args, path):
    with pytest.raises(InvalidArgument, match="is set by the service from") as raised:
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
