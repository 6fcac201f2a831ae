"""DarknetImage: the Lambda container image, built from the detector's recipe shipped with this package."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from .checks import InvalidArgument, args_from, check_choice, check_range
from .contract import (
    ENGINES,
    MANIFEST_FILE,
    VERSION,
    load_manifest,
    manifest_model_problem,
    model_name_problem,
)

_HERE = Path(__file__).resolve().parent
# The recipe (Dockerfile, handler, Darknet build script and patches, model manifest) ships inside the
# installed package; in a checkout of the project it is the sibling container/ directory.
DEFAULT_BUILD_CONTEXT = next(
    (path for path in (_HERE / "container", _HERE.parent / "container") if (path / "Dockerfile").is_file()),
    _HERE / "container",
)

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass(kw_only=True)
class DarknetImageArgs:
    """Where the function's image comes from: built and pushed to ECR (default), built locally, or given."""

    image_uri: pulumi.Input[str] | None = None
    """An image that already exists (ECR URI, or a local tag for LocalStack). Nothing is built."""
    context: str | None = None
    """Docker build context holding the Dockerfile and models.json; defaults to the recipe shipped with
    this package."""
    model: str = "yolov3-tiny"
    """The model built into the image: a name in the build context's models.json. With `image_uri`, any
    model name the image was built with."""
    architecture: str = "x86_64"
    """x86_64 or arm64."""
    push_to_ecr: bool = True
    """False builds the image locally under `local_image_name` without any registry (LocalStack)."""
    local_image_name: str | None = None
    """Local tag when not pushing; defaults to darknet-lambda:MODEL-VERSION."""
    keep_images: int = 10
    """ECR lifecycle rule: how many images to keep in the repository, 1..1000."""
    force_delete: bool = False
    """Let `pulumi destroy` delete the ECR repository while it still holds images."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_choice("architecture", self.architecture, PLATFORMS)
        check_range("keep_images", self.keep_images, 1, 1000)
        problem = model_name_problem(self.model)
        if problem:
            raise InvalidArgument("model", problem)
        if self.image_uri is None:
            if not (self.build_context / "Dockerfile").is_file():
                raise InvalidArgument(
                    "context",
                    f"no Dockerfile in {self.build_context}: pass `context` (the directory holding the "
                    "detector's Dockerfile) or `image_uri` (an image that already exists)",
                )
            self.check_engine(ENGINES[0])

    @property
    def build_context(self) -> Path:
        return Path(self.context) if self.context else DEFAULT_BUILD_CONTEXT

    @property
    def tag(self) -> str:
        """The image tag: the model and the version of the recipe that built it."""
        return f"{self.model}-{VERSION}"

    def check_engine(self, engine: str) -> None:
        """Deploy-time check of the model against the manifest the image is built from.

        An image given by URI was built elsewhere, possibly with a custom model: its model is checked
        against the manifest only when the manifest knows it."""
        if self.image_uri is None:
            manifest_path = self.build_context / MANIFEST_FILE
            if not manifest_path.is_file():
                raise InvalidArgument("context", f"no {MANIFEST_FILE} in {self.build_context}")
            manifest = load_manifest(self.build_context)
        else:
            manifest = load_manifest(DEFAULT_BUILD_CONTEXT)
            if self.model not in manifest:
                return
        problem = manifest_model_problem(manifest, self.model, engine)
        if problem:
            raise InvalidArgument("model", problem)


class DarknetImage(pulumi.ComponentResource):
    """The detector image; `image_uri` is the pushed digest so that a rebuilt image updates the function.

    `repository` is the ECR repository when the image is pushed (else None)."""

    image_uri: pulumi.Output[str]
    """The image the function runs (a digest when pushed to ECR)."""
    repository_url: pulumi.Output[str] | None
    """The ECR repository's URL when the image is pushed."""

    def __init__(self, name: str, args: DarknetImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("darknet:index:DarknetImage", name, None, opts)
        args = args_from(DarknetImageArgs, args)
        self.repository: aws.ecr.Repository | None = None
        self.repository_url = None

        if args.image_uri is not None:
            self.image_uri = pulumi.Output.from_input(args.image_uri)
        elif args.push_to_ecr:
            self.image_uri = self._build_and_push(name, args)
        else:
            local_name = args.local_image_name or f"darknet-lambda:{args.tag}"
            image = docker.Image(
                name,
                image_name=local_name,
                build=_build_args(args),
                skip_push=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.image_uri = image.image_name

        self.register_outputs({"image_uri": self.image_uri, "repository_url": self.repository_url})

    def _build_and_push(self, name: str, args: DarknetImageArgs) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        self.repository = repository = aws.ecr.Repository(
            name,
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="MUTABLE",
            encryption_configurations=[{"encryption_type": "AES256"}],
            force_delete=args.force_delete,
            tags=args.tags,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            name,
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"Keep the last {args.keep_images} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": args.keep_images,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child,
        )
        credentials = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image = docker.Image(
            name,
            image_name=repository.repository_url.apply(lambda url: f"{url}:{args.tag}"),
            build=_build_args(args),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=credentials.user_name,
                password=pulumi.Output.secret(credentials.password),
            ),
            opts=child,
        )
        self.repository_url = repository.repository_url
        return image.repo_digest


def _build_args(args: DarknetImageArgs) -> docker.DockerBuildArgs:
    return docker.DockerBuildArgs(
        context=str(args.build_context),
        dockerfile=str(args.build_context / "Dockerfile"),
        args={"MODEL": args.model},
        platform=PLATFORMS[args.architecture],
    )
