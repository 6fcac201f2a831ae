"""DarknetImage: the Lambda container image, built from the project's container directory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from .checks import InvalidArgument, check_choice, check_range

# Present when the components run from a checkout of the project (also after `pip install -e`).
PROJECT_CONTAINER_DIR = Path(__file__).resolve().parent.parent / "container"

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass
class DarknetImageArgs:
    """Where the function's image comes from: built and pushed to ECR (default), built locally, or given."""

    image_uri: pulumi.Input[str] | None = None
    """An image that already exists (ECR URI, or a local tag for LocalStack). Nothing is built."""
    context: str | None = None
    """Docker build context holding the Dockerfile; defaults to the project's container/ directory."""
    model: str = "yolov3-tiny"
    """Passed to the build as the MODEL build argument and used as the image tag."""
    architecture: str = "x86_64"
    push_to_ecr: bool = True
    """False builds the image locally under `local_image_name` without any registry (LocalStack)."""
    local_image_name: str | None = None
    """Local tag when not pushing; defaults to darknet-lambda:MODEL."""
    keep_images: int = 10
    """ECR lifecycle rule: how many images to keep in the repository."""
    force_delete: bool = False
    """Let `pulumi destroy` delete the ECR repository while it still holds images."""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("architecture", self.architecture, PLATFORMS)
        check_range("keep_images", self.keep_images, 1, 1000)
        if self.image_uri is None and not (self.build_context / "Dockerfile").is_file():
            raise InvalidArgument(
                "context",
                f"no Dockerfile in {self.build_context}: pass `context` (the directory holding the "
                "detector's Dockerfile) or `image_uri` (an image that already exists)",
            )

    @property
    def build_context(self) -> Path:
        return Path(self.context) if self.context else PROJECT_CONTAINER_DIR


class DarknetImage(pulumi.ComponentResource):
    """The detector image; `image_uri` is the pushed digest so that a rebuilt image updates the function."""

    image_uri: pulumi.Output[str]
    repository_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: DarknetImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("darknet:index:DarknetImage", name, None, opts)
        self.repository_url = None

        if args.image_uri is not None:
            self.image_uri = pulumi.Output.from_input(args.image_uri)
        elif args.push_to_ecr:
            self.image_uri = self._build_and_push(name, args)
        else:
            local_name = args.local_image_name or f"darknet-lambda:{args.model}"
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
        repository = aws.ecr.Repository(
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
            image_name=repository.repository_url.apply(lambda url: f"{url}:{args.model}"),
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
