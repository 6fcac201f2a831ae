"""The example program uses the components as an installed package, with its own arguments."""

import runpy
import shutil
import sys
import tomllib

import pulumi
import pytest

EXAMPLE_CONFIG = {
    "darknet-existing-bucket:bucketName": "team-photos",
    "darknet-existing-bucket:imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:"
    + "ef" * 32,
}


@pytest.fixture
def installed_package(mocked, tmp_path, monkeypatch):
    """`darknet_lambda` laid out as pip installs it (the package-dir mapping of pyproject.toml)."""
    setuptools = tomllib.loads((mocked.root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["packages"] == ["darknet_lambda"]
    source = mocked.root / setuptools["package-dir"]["darknet_lambda"]
    site = tmp_path / "site-packages"
    shutil.copytree(source, site / "darknet_lambda", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.syspath_prepend(str(site))
    for name in [name for name in sys.modules if name.split(".")[0] == "darknet_lambda"]:
        monkeypatch.delitem(sys.modules, name)
    yield site / "darknet_lambda"
    for name in [name for name in sys.modules if name.split(".")[0] == "darknet_lambda"]:
        del sys.modules[name]


def run_example(mocked):
    main = mocked.root / "examples" / "existing-bucket" / "__main__.py"
    return mocked.run(
        lambda: runpy.run_path(str(main), run_name="__main__"),
        EXAMPLE_CONFIG,
        project="darknet-existing-bucket",
    )


def test_example_deploys_on_the_existing_bucket_without_api(mocked, installed_package):
    deployment = run_example(mocked)

    assert sys.modules["darknet_lambda"].__file__ == str(installed_package / "__init__.py")
    assert deployment.of_type("aws:s3/bucket:Bucket") == [], "the bucket is not created"
    assert not {t for t in deployment.types if t.startswith(("aws:apigateway/", "aws:ecr/", "docker:"))}
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["bucket"] == "team-photos"
    assert notification["lambdaFunctions"][0]["filterPrefix"] == "input/"
    permission = deployment.one("aws:lambda/permission:Permission").inputs
    assert permission["sourceArn"] == "arn:aws:s3:::team-photos"

    function = deployment.one("aws:lambda/function:Function").inputs
    assert function["imageUri"] == EXAMPLE_CONFIG["darknet-existing-bucket:imageUri"]
    assert (function["memorySize"], function["timeout"]) == (3008, 120)
    assert function["environment"]["variables"]["DETECTOR_THRESHOLD"] == "0.4"
    assert function["environment"]["variables"]["OUTPUT_BUCKET"] == "team-photos"
    assert function["tags"] == {"project": "darknet-existing-bucket"}
    assert [p.name for p in deployment.of_type("aws:iam/rolePolicy:RolePolicy")] == ["detector-access"]
    assert deployment.exports == {
        "functionName": "detector-0a1b2c3",
        "inputUri": "s3://team-photos/input/",
        "outputUri": "s3://team-photos/output/",
    }


def test_example_requires_its_own_config(mocked, installed_package):
    with pytest.raises(pulumi.ConfigMissingError, match="darknet-existing-bucket:bucketName"):
        mocked.run(
            lambda: runpy.run_path(str(mocked.root / "examples" / "existing-bucket" / "__main__.py")),
            {},
            project="darknet-existing-bucket",
        )
