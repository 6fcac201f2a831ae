"""DarknetImage: ECR with scanning and a lifecycle rule, the pushed digest, or an image given as is."""

import json

import pytest

from components import DarknetImage, DarknetImageArgs, InvalidArgument


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
    assert image["imageName"] == f"{url}:yolov3"
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
    assert deployment.exports["image_uri"] == "darknet-lambda:yolov3-tiny"


def test_default_context_is_the_project_container_directory():
    assert (DarknetImageArgs().build_context / "Dockerfile").is_file()


def test_missing_dockerfile_asks_for_a_context_or_an_image(tmp_path):
    with pytest.raises(InvalidArgument, match=r"pass `context`.*or `image_uri`") as error:
        DarknetImageArgs(context=str(tmp_path))
    assert error.value.argument == "context"
