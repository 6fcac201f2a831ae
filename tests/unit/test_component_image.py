"""DarknetImage: ECR with scanning and a lifecycle rule, the pushed digest, or an image given as is; a team's
own model staged with the recipe and checked before anything is built."""

import json
from pathlib import Path

import boto3
import pytest
from support.models import OWN_MODEL_FILES, write_own_model

from darknet_detector.contract import MODEL_ENV
from darknet_lambda import (
    DarknetFunctionArgs,
    DarknetImage,
    DarknetImageArgs,
    DarknetService,
    DarknetServiceArgs,
    InvalidArgument,
    __version__,
)


def deploy(mocked, **args):
    outputs = {}

    def program():
        image = DarknetImage("detector", DarknetImageArgs(**args))
        image.image_uri.apply(lambda uri: outputs.update(image_uri=uri))

    deployment = mocked.run(program)
    deployment.exports.update(outputs)
    return deployment


def test_built_image_is_pushed_to_a_scanned_repository_and_referenced_by_digest(mocked, build_context):
    deployment = deploy(mocked, context=str(build_context), model="yolov3", keep_images=5)
    repository = deployment.one("aws:ecr/repository:Repository")
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}

    rules = json.loads(deployment.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    assert rules[0]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}
    assert rules[0]["action"] == {"type": "expire"}

    image = deployment.one("docker:index/image:Image").inputs
    url = repository.state["repositoryUrl"]
    assert image["imageName"] == f"{url}:yolov3-{__version__}", "the tag carries the model and the version"
    assert image["build"]["context"] == str(build_context)
    assert image["build"]["args"] == {"MODEL": "yolov3"}
    assert image["build"]["platform"] == "linux/amd64"
    assert mocked.secret(image["registry"]) == {"server": url, "username": "AWS", "password": "ecr-token"}
    assert image.get("skipPush") is not True
    assert deployment.exports["image_uri"] == f"{url}@{mocked.image_digest}"


def test_an_arm64_service_builds_an_arm64_image_for_an_arm64_function(mocked, build_context):
    """One setting decides both: an image built for one CPU does not start on a function of the other."""

    def program():
        DarknetService(
            "detector",
            DarknetServiceArgs(image=DarknetImageArgs(context=str(build_context), architecture="arm64")),
        )

    deployment = mocked.run(program)
    assert deployment.one("docker:index/image:Image").inputs["build"]["platform"] == "linux/arm64"
    assert deployment.one("aws:lambda/function:Function", "detector").inputs["architectures"] == ["arm64"]


def test_architecture_must_be_one_lambda_offers():
    with pytest.raises(InvalidArgument, match="'aarch64' is not one of"):
        DarknetImageArgs(image_uri="darknet-lambda:yolov3-tiny", architecture="aarch64")


def test_existing_image_uri_builds_nothing(mocked):
    uri = f"{mocked.account}.dkr.ecr.us-east-1.amazonaws.com/darknet@{mocked.image_digest}"
    deployment = deploy(mocked, image_uri=uri)
    assert [r.type for r in deployment.resources] == ["darknet:index:DarknetImage"]
    assert deployment.exports["image_uri"] == uri


def test_local_build_uses_no_registry(mocked, build_context):
    deployment = deploy(mocked, context=str(build_context), push_to_ecr=False)
    assert deployment.of_type("aws:ecr/repository:Repository") == []
    image = deployment.one("docker:index/image:Image").inputs
    assert image["skipPush"] is True
    assert "registry" not in image
    assert deployment.exports["image_uri"] == f"darknet-lambda:yolov3-tiny-{__version__}"


def test_default_context_is_the_project_container_directory():
    assert (DarknetImageArgs().build_context / "Dockerfile").is_file()


def test_model_must_be_in_the_build_contexts_manifest(build_context):
    with pytest.raises(
        InvalidArgument, match=r"'yolo9000' is not in models.json; known models: .*yolov3-tiny"
    ):
        DarknetImageArgs(context=str(build_context), model="yolo9000")


def test_model_the_darknet_cli_cannot_run_is_refused_for_the_darknet_engine(build_context):
    manifest = json.loads((build_context / "models.json").read_text())
    manifest["yolov4-tiny"] = {**manifest["yolov3-tiny"], "darknet_cli": False}
    (build_context / "models.json").write_text(json.dumps(manifest))
    args = DarknetImageArgs(context=str(build_context), model="yolov4-tiny")
    args.check_engine("onnx")
    with pytest.raises(InvalidArgument, match=r"cannot run on the darknet engine") as error:
        args.check_engine("darknet")
    assert error.value.argument == "model"


def test_an_image_built_elsewhere_may_carry_a_custom_model():
    args = DarknetImageArgs(image_uri="registry.example/detector:custom", model="my-parts-detector")
    args.check_engine("darknet")


def test_missing_dockerfile_asks_for_a_context_or_an_image(tmp_path):
    with pytest.raises(InvalidArgument, match=r"pass `context`.*or `image_uri`") as error:
        DarknetImageArgs(context=str(tmp_path))
    assert error.value.argument == "context"


@pytest.fixture
def own_model(tmp_path):
    return write_own_model(tmp_path / "parts-model")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """Where the component stages build contexts (XDG_CACHE_HOME), away from the user's own cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def staged_context(cache_home: Path) -> Path:
    return cache_home / "darknet-lambda" / "build-contexts" / "darknet-lambda-test-detector"


def test_own_model_directory_is_staged_with_the_recipe_and_built_with_its_name_and_flavour(
    mocked, own_model, cache_home
):
    recipe_model_folder = sorted(p.name for p in (mocked.root / "container" / "model").iterdir())
    deployment = deploy(mocked, model="parts", model_dir=str(own_model), push_to_ecr=False)

    context = staged_context(cache_home)
    build = deployment.one("docker:index/image:Image").inputs["build"]
    assert build["context"] == str(context)
    assert build["dockerfile"] == str(context / "Dockerfile")
    assert build["args"] == {"MODEL": "parts", "MODEL_FLAVOUR": "fork"}
    assert (context / "Dockerfile").read_bytes() == (mocked.root / "container" / "Dockerfile").read_bytes()
    assert (context / "darknet_detector" / "building" / "model_dir.py").is_file()
    assert sorted(p.name for p in (context / "model").iterdir()) == ["README.md", *OWN_MODEL_FILES]
    for name in OWN_MODEL_FILES:
        assert (context / "model" / name).read_bytes() == (own_model / name).read_bytes()
    assert deployment.exports["image_uri"] == f"darknet-lambda:parts-{__version__}"
    assert sorted(p.name for p in (mocked.root / "container" / "model").iterdir()) == recipe_model_folder, (
        "the recipe itself is never written to"
    )


def test_restaging_replaces_what_a_previous_run_left(mocked, own_model, cache_home):
    stale = staged_context(cache_home) / "model" / "old.weights"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")
    deploy(mocked, model="parts", model_dir=str(own_model), model_flavour="pjreddie", push_to_ecr=False)
    assert not stale.exists()
    assert sorted(p.name for p in stale.parent.iterdir()) == ["README.md", *OWN_MODEL_FILES]


def test_own_model_whose_names_disagree_fails_before_anything_is_built(mocked, own_model, cache_home):
    (own_model / "parts.names").write_text("bolt\nnut\n")
    with pytest.raises(InvalidArgument) as error:
        deploy(mocked, model="parts", model_dir=str(own_model))
    assert error.value.argument == "model_dir"
    assert error.value.reason == (
        "the model's files do not agree:\n"
        "  layer 2 [yolo] (cfg line 21) has classes=3 but parts.names lists 2 names"
    )


def test_own_model_weights_of_another_cfg_are_named_with_the_sizes(mocked, own_model, cache_home):
    weights = own_model / "parts.weights"
    weights.write_bytes(weights.read_bytes() + b"\0" * 8)
    with pytest.raises(InvalidArgument, match=r"parts.weights is \d+ bytes: .* \+8 bytes off") as error:
        deploy(mocked, model="parts", model_dir=str(own_model))
    assert error.value.argument == "model_dir"


MODEL_BUCKET = "team-models"


@pytest.fixture
def model_bucket(own_model, monkeypatch):
    """The own model's files in an S3 bucket served by moto in this process."""
    from moto import mock_aws

    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(variable, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=MODEL_BUCKET)
        for name in OWN_MODEL_FILES:
            s3.upload_file(str(own_model / name), MODEL_BUCKET, f"models/parts/{name}")
        yield s3


def test_own_model_on_s3_is_downloaded_into_the_staged_context(mocked, own_model, model_bucket, cache_home):
    deployment = deploy(mocked, model="parts", model_uri=f"s3://{MODEL_BUCKET}/models/parts/")
    context = staged_context(cache_home)
    assert deployment.one("docker:index/image:Image").inputs["build"]["context"] == str(context)
    for name in OWN_MODEL_FILES:
        assert (context / "model" / name).read_bytes() == (own_model / name).read_bytes()


def test_own_model_on_s3_missing_a_file_says_which(mocked, model_bucket, cache_home):
    model_bucket.delete_object(Bucket=MODEL_BUCKET, Key="models/parts/parts.weights")
    with pytest.raises(InvalidArgument) as error:
        deploy(mocked, model="parts", model_uri=f"s3://{MODEL_BUCKET}/models/parts")
    assert error.value.argument == "model_uri"
    assert error.value.reason == f"s3://{MODEL_BUCKET}/models/parts/parts.weights does not exist"


def test_own_model_on_s3_is_checked_like_a_local_one(mocked, model_bucket, cache_home):
    model_bucket.put_object(Bucket=MODEL_BUCKET, Key="models/parts/parts.names", Body=b"bolt\n")
    with pytest.raises(InvalidArgument, match=r"has classes=3 but parts.names lists 1 names") as error:
        deploy(mocked, model="parts", model_uri=f"s3://{MODEL_BUCKET}/models/parts/")
    assert error.value.argument == "model_uri"


@pytest.mark.parametrize(
    ("args", "argument", "message"),
    [
        (
            {"model_uri": "s3://team-models/parts/"},
            "model_uri",
            r"by `model_dir` or by `model_uri`, not both",
        ),
        ({"image_uri": "registry.example/detector:parts"}, "model_dir", r"cannot go with `image_uri`"),
        ({"model_flavour": "yolo"}, "model_flavour", r"'yolo' is not one of pjreddie, fork"),
    ],
)
def test_own_model_arguments_that_cannot_go_together(own_model, args, argument, message):
    with pytest.raises(InvalidArgument, match=message) as error:
        DarknetImageArgs(model="parts", model_dir=str(own_model), **args)
    assert error.value.argument == argument


def test_own_model_directory_must_hold_the_models_three_files(own_model):
    (own_model / "parts.names").unlink()
    with pytest.raises(InvalidArgument, match=r"lacks parts.names \(model 'parts': its files are") as error:
        DarknetImageArgs(model="parts", model_dir=str(own_model))
    assert error.value.argument == "model_dir"
    with pytest.raises(InvalidArgument, match=r"lacks bolts.cfg, bolts.weights, bolts.names"):
        DarknetImageArgs(model="bolts", model_dir=str(own_model))
    with pytest.raises(InvalidArgument, match=r"is not a directory"):
        DarknetImageArgs(model="parts", model_dir=str(own_model / "parts.cfg"))


def test_model_uri_must_be_an_s3_uri():
    with pytest.raises(InvalidArgument, match=r"'https://team-models/parts/' is not an S3 URI") as error:
        DarknetImageArgs(model="parts", model_uri="https://team-models/parts/")
    assert error.value.argument == "model_uri"


def test_model_flavour_applies_to_an_own_model_only():
    with pytest.raises(InvalidArgument, match=r"applies to a team's own model only") as error:
        DarknetImageArgs(model_flavour="fork")
    assert error.value.argument == "model_flavour"


def test_own_model_runs_on_the_darknet_engine_only_when_the_original_darknet_trained_it(own_model):
    with pytest.raises(InvalidArgument, match=r"trained by the maintained Darknet fork .* use engine 'onnx'"):
        DarknetImageArgs(model="parts", model_dir=str(own_model)).check_engine("darknet")
    DarknetImageArgs(model="parts", model_dir=str(own_model)).check_engine("onnx")
    DarknetImageArgs(model="parts", model_dir=str(own_model), model_flavour="pjreddie").check_engine(
        "darknet"
    )


def test_service_gives_the_function_the_own_models_name(mocked, own_model, cache_home):
    def program():
        DarknetService(
            "detector",
            DarknetServiceArgs(
                image=DarknetImageArgs(model="parts", model_dir=str(own_model), push_to_ecr=False)
            ),
        )

    deployment = mocked.run(program)
    environment = deployment.one("aws:lambda/function:Function", "detector").inputs["environment"][
        "variables"
    ]
    assert environment[MODEL_ENV] == "parts"
    assert deployment.one("docker:index/image:Image").inputs["build"]["args"]["MODEL"] == "parts"


def test_service_names_the_image_argument_whose_model_files_disagree(mocked, own_model, cache_home):
    (own_model / "parts.names").write_text("bolt\n")

    def program():
        DarknetService(
            "detector",
            DarknetServiceArgs(image=DarknetImageArgs(model="parts", model_dir=str(own_model))),
        )

    with pytest.raises(InvalidArgument, match=r"has classes=3 but parts.names lists 1 names") as error:
        mocked.run(program)
    assert error.value.argument == "image.model_dir"


def test_service_refuses_the_darknet_engine_for_a_fork_trained_own_model(own_model):
    with pytest.raises(InvalidArgument, match=r"trained by the maintained Darknet fork") as error:
        DarknetServiceArgs(
            image=DarknetImageArgs(model="parts", model_dir=str(own_model)),
            function=DarknetFunctionArgs(engine="darknet"),
        )
    assert error.value.argument == "image.model_flavour"


def test_the_darknet_engine_builds_and_runs_the_reference_variant(mocked, build_context):
    """The default image has no Darknet CLI nor weights: a darknet stack builds the `reference` target."""

    def program():
        DarknetService(
            "detector",
            DarknetServiceArgs(
                image=DarknetImageArgs(context=str(build_context), push_to_ecr=False),
                function=DarknetFunctionArgs(engine="darknet"),
            ),
        )

    deployment = mocked.run(program)
    image = deployment.one("docker:index/image:Image").inputs
    assert image["build"]["target"] == "reference"
    assert image["imageName"] == f"darknet-lambda:yolov3-tiny-{__version__}-reference"
    function = deployment.one("aws:lambda/function:Function", "detector").inputs
    assert function["imageUri"] == image["imageName"]
    assert function["environment"]["variables"]["DETECTOR_ENGINE"] == "darknet"


def test_the_onnx_engine_builds_the_default_image(mocked, build_context):
    def program():
        DarknetService(
            "detector",
            DarknetServiceArgs(image=DarknetImageArgs(context=str(build_context), push_to_ecr=False)),
        )

    image = mocked.run(program).one("docker:index/image:Image").inputs
    assert "target" not in image["build"], "the Dockerfile's last stage is the default image"
    assert image["imageName"] == f"darknet-lambda:yolov3-tiny-{__version__}"


def test_the_reference_variant_is_pushed_under_its_own_tag(mocked, build_context):
    deployment = deploy(mocked, context=str(build_context), engine="darknet")
    url = deployment.one("aws:ecr/repository:Repository").state["repositoryUrl"]
    image = deployment.one("docker:index/image:Image").inputs
    assert (image["imageName"], image["build"]["target"]) == (
        f"{url}:yolov3-tiny-{__version__}-reference",
        "reference",
    )


def test_the_images_engine_is_the_functions_in_a_service(build_context):
    with pytest.raises(InvalidArgument, match=r"is set by the service from function.engine") as error:
        DarknetServiceArgs(image=DarknetImageArgs(context=str(build_context), engine="darknet"))
    assert error.value.argument == "image.engine"


def test_an_unknown_engine_is_refused(build_context):
    with pytest.raises(InvalidArgument, match=r"'tensorflow' is not one of onnx, darknet") as error:
        DarknetImageArgs(context=str(build_context), engine="tensorflow")
    assert error.value.argument == "engine"
