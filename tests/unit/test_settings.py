"""Environment settings: sane defaults, and every bad value named in its error."""

import pytest
from detector.settings import Settings, SettingsError


def test_defaults():
    settings = Settings.from_env({})
    assert (settings.engine, settings.model, settings.threshold) == ("onnx", "yolov3-tiny", 0.5)
    assert (settings.input_prefix, settings.output_prefix) == ("input/", "output/")


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
