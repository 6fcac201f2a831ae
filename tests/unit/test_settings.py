"""Environment settings: the runtime reads exactly what the components deploy.

The contract (darknet_detector.contract) is shared: every environment the component can produce (defaults,
each boundary, each choice) must parse at run time to the same values, and every value the runtime
refuses must already be refused at deploy time, naming the argument.
"""

import math

import pytest

from darknet_detector.contract import (
    DEFAULT_EVENT_SOURCE,
    DEFAULT_MODEL,
    ENGINES,
    EVENT_BUS_ENV,
    EVENT_SOURCE_ENV,
    LOG_LEVELS,
    RESERVED_VARIABLES,
)
from darknet_detector.core.settings import Settings, SettingsError
from darknet_lambda import DarknetFunction, DarknetFunctionArgs, InvalidArgument, __version__

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:" + "cd" * 32
DEPLOYABLE = [
    {},
    *({"engine": engine} for engine in ENGINES),
    *({"log_level": level} for level in LOG_LEVELS),
    {"threshold": math.nextafter(0.0, 1.0)},
    {"threshold": 0.01},
    {"threshold": 0.5},
    {"threshold": math.nextafter(1.0, 0.0)},
    {"model": "yolov3"},
    {"model": "my-parts_detector.v2"},
    {"input_prefix": "a/", "output_prefix": "b/"},
    {"input_prefix": "uploads/images/", "output_prefix": "uploads/results/"},
    {"input_prefix": "in put/", "output_prefix": "out+put/"},
    {"event_bus": "arn:aws:events:us-east-1:123456789012:event-bus/results", "event_source": "photos.app"},
    {"event_bus": "default"},
]


def deployed_environment(mocked, **settings) -> dict[str, str]:
    args = DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", **settings)
    deployment = mocked.run(lambda: DarknetFunction("detector", args))
    return deployment.one("aws:lambda/function:Function").inputs["environment"]["variables"]


@pytest.mark.parametrize(
    "settings", DEPLOYABLE, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "defaults"
)
def test_every_environment_the_component_deploys_parses_to_the_same_values(mocked, settings):
    env = deployed_environment(mocked, **settings)
    events = {EVENT_BUS_ENV, EVENT_SOURCE_ENV} if "event_bus" in settings else set()
    assert set(env) == RESERVED_VARIABLES - {EVENT_BUS_ENV, EVENT_SOURCE_ENV} | events, (
        "the component sets exactly the contract's variables, the events' only with a bus"
    )
    parsed = Settings.from_env(env)
    expected = {**vars(DarknetFunctionArgs()), **settings}
    assert parsed.engine == expected["engine"]
    assert parsed.model == (expected["model"] or DEFAULT_MODEL)
    assert parsed.threshold == expected["threshold"]
    assert (parsed.input_prefix, parsed.output_prefix) == (
        expected["input_prefix"],
        expected["output_prefix"],
    )
    assert parsed.output_bucket == "images"
    assert parsed.event_bus == settings.get("event_bus")
    assert parsed.event_source == settings.get("event_source", DEFAULT_EVENT_SOURCE)
    assert env["DARKNET_LAMBDA_VERSION"] == __version__


@pytest.mark.parametrize(
    ("argument", "value", "variable"),
    [
        ("threshold", 0.0, "DETECTOR_THRESHOLD"),
        ("threshold", 1.0, "DETECTOR_THRESHOLD"),
        ("threshold", -0.5, "DETECTOR_THRESHOLD"),
        ("threshold", math.nan, "DETECTOR_THRESHOLD"),
        ("engine", "tensorflow", "DETECTOR_ENGINE"),
        ("model", "../../etc", "DETECTOR_MODEL"),
        ("log_level", "TRACE", "LOG_LEVEL"),
        ("input_prefix", "input", "INPUT_PREFIX"),
        ("input_prefix", "/input/", "INPUT_PREFIX"),
        ("output_prefix", "input/results/", "OUTPUT_PREFIX"),
    ],
)
def test_what_the_runtime_refuses_the_component_refuses_first(argument, value, variable):
    with pytest.raises(InvalidArgument) as deploy_time:
        DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", **{argument: value})
    assert deploy_time.value.argument == argument
    with pytest.raises(SettingsError, match=variable) as run_time:
        Settings.from_env({variable: str(value)})
    assert deploy_time.value.reason in str(run_time.value)


def test_defaults():
    settings = Settings.from_env({})
    assert (settings.engine, settings.model, settings.threshold) == ("onnx", DEFAULT_MODEL, 0.5)
    assert (settings.input_prefix, settings.output_prefix) == ("input/", "output/")
    assert settings == Settings()


def test_values_from_environment():
    settings = Settings.from_env(
        {
            "DETECTOR_ENGINE": "darknet",
            "DETECTOR_THRESHOLD": "0.3",
            "OUTPUT_BUCKET": "b",
            "INPUT_PREFIX": "in/",
            "OUTPUT_PREFIX": "out/",
        }
    )
    assert (settings.engine, settings.threshold, settings.output_bucket) == ("darknet", 0.3, "b")


@pytest.mark.parametrize(
    "env,name",
    [
        ({"DETECTOR_ENGINE": "tensorflow"}, "DETECTOR_ENGINE"),
        ({"DETECTOR_THRESHOLD": "high"}, "DETECTOR_THRESHOLD"),
        ({"DETECTOR_THRESHOLD": "1.5"}, "DETECTOR_THRESHOLD"),
        ({"INPUT_PREFIX": "input"}, "INPUT_PREFIX"),
        ({"OUTPUT_PREFIX": "input/results/"}, "OUTPUT_PREFIX"),
    ],
)
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)
