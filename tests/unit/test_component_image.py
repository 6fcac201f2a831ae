"""DarknetImage: ECR with scanning and a lifecycle rule, the pushed digest, or an image given as is."""

import json

import pytest

from components import DarknetImage, DarknetImageArgs, InvalidArgument, __version__


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
