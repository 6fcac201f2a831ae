"""DarknetServiceArgs repeats its parts' settings in one flat list: its defaults must not drift."""

import dataclasses

import pytest

from components import (
    DarknetApiArgs,
    DarknetBucketArgs,
    DarknetFunctionArgs,
    DarknetImageArgs,
    DarknetServiceArgs,
    InvalidArgument,
)

SERVICE = DarknetServiceArgs()


def differing_fields(got, want) -> list[str]:
    return [f.name for f in dataclasses.fields(want) if getattr(got, f.name) != getattr(want, f.name)]


@pytest.mark.parametrize(
    ("derived", "component_defaults"),
    [
        (SERVICE.image_args(), DarknetImageArgs()),
        (SERVICE.bucket_args(), DarknetBucketArgs()),
        (SERVICE.api_args("fn", "arn"), DarknetApiArgs(function_name="fn", function_invoke_arn="arn")),
    ],
    ids=["image", "bucket", "api"],
)
def test_service_defaults_are_the_components_defaults(derived, component_defaults):
    assert differing_fields(derived, component_defaults) == []


def test_service_function_defaults_differ_only_where_the_http_api_needs_self_invoke():
    derived = SERVICE.function_args("image", "bucket")
    assert differing_fields(derived, DarknetFunctionArgs(image_uri="image", bucket_name="bucket")) == [
        "allow_self_invoke"
    ]
    assert derived.allow_self_invoke is True
    s3_only = DarknetServiceArgs(enable_http_api=False)
    assert s3_only.function_args("image", "bucket").allow_self_invoke is False


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("memory_size", 512),
        ("api_throttle_burst_limit", 0),
        ("output_expiration_days", 0),
        ("build_context", "no/such/directory"),
    ],
)
def test_a_bad_part_setting_is_reported_under_the_service_name(argument, value):
    with pytest.raises(InvalidArgument) as raised:
        DarknetServiceArgs(**{argument: value})
    assert raised.value.argument == argument
