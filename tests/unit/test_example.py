"""The package as users get it: a wheel built from the repository, installed into a fresh virtualenv
outside the checkout, deploys the whole service with default arguments (under Pulumi's mocks), and the
example program runs on that installation."""

import json
import runpy
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pulumi
import pytest
from support import ROOT

from darknet_lambda import __version__

EXAMPLE_CONFIG = {
    "darknet-existing-bucket:bucketName": "team-photos",
    "darknet-existing-bucket:imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:"
    + "ef" * 32,
}
# What the wheel is built from; container/cache holds the wheels and weights `make image` downloads.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "components", "container")


def recipe_files() -> list[str]:
    """Every file of container/ the repository tracks: all of it is the image's recipe (cache/ holds only
    its README in git; `make image` fills the rest)."""
    listed = subprocess.run(
        ["git", "ls-files", "container"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "container/Dockerfile" in listed, "git lists no recipe: not run from a checkout?"
    return [name.removeprefix("container/") for name in listed]


# Runs in the fresh virtualenv, from a folder outside the checkout: the service with default arguments.
PROGRAM = textwrap.dedent(
    """
    import importlib.metadata, json, os, sys
    import pulumi

    class Mocks(pulumi.runtime.Mocks):
        resources = []

        def new_resource(self, args):
            self.resources.append((args.typ, args.inputs))
            service = args.typ.split(":")[1].split("/")[0]
            arn = f"arn:aws:{service}:us-east-1:123456789012:{args.name}"
            state = {
                "arn": arn,
                "name": args.name,
                "bucket": args.name,
                "invokeArn": arn + "/invocations",
                "executionArn": arn,
                "invokeUrl": "https://api.example/v1",
                "repositoryUrl": "123456789012.dkr.ecr.us-east-1.amazonaws.com/detector",
                "repoDigest": "123456789012.dkr.ecr.us-east-1.amazonaws.com/detector@sha256:" + "0" * 64,
                **args.inputs,
            }
            return args.name + "-id", state

        def call(self, args):
            return {"userName": "AWS", "password": "token"}

    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="elsewhere", stack="test", preview=False)

    @pulumi.runtime.test
    def deploy():
        from darknet_lambda import DarknetService, DarknetServiceArgs

        DarknetService("detector", DarknetServiceArgs())

    deploy()
    import darknet_lambda

    image = next(inputs for typ, inputs in mocks.resources if typ == "docker:index/image:Image")
    function = next(inputs for typ, inputs in mocks.resources if typ == "aws:lambda/function:Function")
    context = image["build"]["context"]
    assert os.path.isfile(os.path.join(context, "Dockerfile")), context
    print(json.dumps({
        "package": darknet_lambda.__file__,
        "version": importlib.metadata.version("darknet-lambda"),
        "build_context": context,
        "image_name": image["imageName"],
        "function_version": function["environment"]["variables"]["DARKNET_LAMBDA_VERSION"],
        "resource_types": sorted({typ for typ, _ in mocks.resources}),
    }))
    """
)


def run(*command, **kwargs) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installation(tmp_path_factory) -> dict:
    """Builds the wheel (no network: the build backend is the dev environment's), installs it into a new
    virtualenv in a temporary folder and returns that virtualenv's site-packages and the wheel.

    The virtualenv sees the dev environment's packages (pulumi, pulumi-aws, pulumi-docker) after its
    own, as with --system-site-packages, so nothing is downloaded; the package itself comes only from
    the wheel (the dev environment has it as an editable install, which a path entry does not load)."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "wheels", "models")
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy(path, source / name)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        work / "dist",
        source,
    )
    (wheel,) = (work / "dist").glob("*.whl")

    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
    )

    program = work / "elsewhere" / "program.py"
    program.parent.mkdir()
    program.write_text(PROGRAM)
    output = run(python, program, cwd=program.parent, env={"PATH": "/usr/bin:/bin", "HOME": str(work)})
    report = json.loads(output.splitlines()[-1])
    print(f"built {wheel.name}; installed into {venv}; the program reported:\n{json.dumps(report, indent=1)}")
    return {"site": site, "wheel": wheel, "report": report, "venv": venv}


def test_installed_wheel_deploys_the_service_with_the_shipped_recipe(installation):
    report, site = installation["report"], installation["site"]
    assert report["package"] == str(site / "darknet_lambda" / "__init__.py"), "not the installed copy"
    context = Path(report["build_context"])
    assert context == site / "darknet_lambda" / "container"
    assert [name for name in recipe_files() if not (context / name).is_file()] == []
    assert [p.name for p in (context / "cache").iterdir()] == ["README.md"], "no downloaded wheels or weights"
    assert report["version"] == report["function_version"] == __version__
    assert report["image_name"].endswith(f":yolov3-tiny-{__version__}")
    assert {"aws:ecr/repository:Repository", "aws:s3/bucket:Bucket", "aws:apigateway/restApi:RestApi"} <= set(
        report["resource_types"]
    )


def test_wheel_is_typed_and_licensed(installation):
    names = zipfile.ZipFile(installation["wheel"]).namelist()
    assert "darknet_lambda/py.typed" in names
    assert f"darknet_lambda-{__version__}.dist-info/licenses/LICENSE" in names or any(
        name.endswith(".dist-info/LICENSE") for name in names
    )
    assert not [name for name in names if "/cache/" in name and not name.endswith("cache/README.md")]


def test_installed_wheel_has_the_command_which_sniffs_with_the_shipped_contract(installation):
    venv, site = installation["venv"], installation["site"]
    version = run(venv / "bin" / "darknet-lambda", "--version", env={"PATH": "/usr/bin:/bin"})
    assert version.strip() == f"darknet-lambda, version {__version__}"
    code = (
        "import sys; import darknet_lambda.cli.client as c; "
        "print(c.image_kind(bytes.fromhex('ffd8ffe0')), "
        "c.sniff.__module__, sys.modules['darknet_detector.contract'].__file__)"
    )
    kind, module, path = run(venv / "bin" / "python", "-c", code, cwd=venv).split()
    assert (kind, module) == ("jpeg", "darknet_detector.contract")
    assert path == str(site / "darknet_detector" / "contract.py")


@pytest.fixture
def installed_package(installation, monkeypatch):
    """This process imports `darknet_lambda` from the fresh virtualenv's installation."""
    monkeypatch.syspath_prepend(str(installation["site"]))
    for name in [name for name in sys.modules if name.split(".")[0] == "darknet_lambda"]:
        monkeypatch.delitem(sys.modules, name)
    yield installation["site"] / "darknet_lambda"
    for name in [name for name in sys.modules if name.split(".")[0] == "darknet_lambda"]:
        del sys.modules[name]


def run_example(mocked, config):
    main = mocked.root / "examples" / "existing-bucket" / "__main__.py"
    return mocked.run(
        lambda: runpy.run_path(str(main), run_name="__main__"), config, project="darknet-existing-bucket"
    )


def test_example_deploys_on_the_existing_bucket_without_api(mocked, installed_package):
    deployment = run_example(mocked, EXAMPLE_CONFIG)

    assert sys.modules["darknet_lambda"].__file__ == str(installed_package / "__init__.py")
    assert deployment.of_type("aws:s3/bucket:Bucket") == [], "the bucket is not created"
    assert not {t for t in deployment.types if t.startswith(("aws:apigateway/", "aws:ecr/", "docker:"))}
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["bucket"] == "team-photos"
    assert notification["queues"][0]["filterPrefix"] == "input/"
    queue_policy = deployment.one("aws:sqs/queuePolicy:QueuePolicy").policy()
    assert queue_policy["Statement"][0]["Condition"]["ArnEquals"] == {
        "aws:SourceArn": "arn:aws:s3:::team-photos"
    }

    function = deployment.one("aws:lambda/function:Function").inputs
    assert function["imageUri"] == EXAMPLE_CONFIG["darknet-existing-bucket:imageUri"]
    assert (function["memorySize"], function["timeout"]) == (3008, 120)
    assert function["environment"]["variables"]["DETECTOR_THRESHOLD"] == "0.4"
    assert function["environment"]["variables"]["OUTPUT_BUCKET"] == "team-photos"
    assert function["tags"] == {"project": "darknet-existing-bucket"}
    # Sorted: the two policies wait on different outputs, so they register in either order.
    assert sorted(p.name for p in deployment.of_type("aws:iam/rolePolicy:RolePolicy")) == [
        "detector-access",
        "detector-consume",
    ]
    assert deployment.exports == {
        "functionName": "detector-0a1b2c3",
        "inputUri": "s3://team-photos/input/",
        "outputUri": "s3://team-photos/output/",
    }


def test_example_requires_its_own_config(mocked, installed_package):
    with pytest.raises(pulumi.ConfigMissingError, match="darknet-existing-bucket:bucketName"):
        run_example(mocked, {})
