"""DarknetImage: the Lambda container image, built from the detector's recipe shipped with this package.

A team's own model (`model_dir`, or `model_uri` on S3) is staged with a copy of the recipe in a build context
of its own, and checked there by the recipe's own `darknet_detector.building.model_dir` (cfg, weights size and
names must agree) while the program runs, so `pulumi preview` already says what does not agree.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from darknet_detector.contract import (
    DEFAULT_MODEL,
    ENGINES,
    FLAVOURS,
    MANIFEST_FILE,
    REFERENCE_TARGET,
    SERVICE_NAME,
    VERSION,
    load_manifest,
    manifest_model_problem,
    model_name_problem,
    reference_tag,
)

from .checks import InvalidArgument, args_from, check_choice, check_range
from .function import ARCHITECTURE_PLATFORMS, ARCHITECTURES

_HERE = Path(__file__).resolve().parent
# The recipe (Dockerfile, handler, Darknet build script and patches, model manifest) ships inside the
# installed package; in a checkout of the project it is the sibling container/ directory.
DEFAULT_BUILD_CONTEXT = next(
    (path for path in (_HERE / "container", _HERE.parent / "container") if (path / "Dockerfile").is_file()),
    _HERE / "container",
)

# A team's own model: MODEL.cfg, MODEL.weights and MODEL.names, which the Dockerfile's model stage reads
# from the build context's model/ folder (container/model/README.md).
MODEL_FOLDER = "model"
MODEL_FILE_SUFFIXES = ("cfg", "weights", "names")
OWN_MODEL_DEFAULT_FLAVOUR = "fork"
S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>.*)")


@dataclass(kw_only=True)
class DarknetImageArgs:
    """Where the function's image comes from: built and pushed to ECR (default), built locally, or given."""

    image_uri: pulumi.Input[str] | None = None
    """An image that already exists (ECR URI, or a local tag for LocalStack). Nothing is built."""
    context: str | None = None
    """Docker build context holding the Dockerfile and models.json; defaults to the recipe shipped with
    this package."""
    model: str = DEFAULT_MODEL
    """The model built into the image: a name in the build context's models.json; with `model_dir` or
    `model_uri`, the name of a team's own model (its files are MODEL.cfg, MODEL.weights, MODEL.names);
    with `image_uri`, any model name the image was built with."""
    model_dir: str | None = None
    """A local directory holding a team's own model: MODEL.cfg, MODEL.weights and MODEL.names."""
    model_uri: str | None = None
    """s3://BUCKET/PREFIX/ holding a team's own model (the same three objects), downloaded while the
    program runs with the deploying credentials (s3:GetObject on them)."""
    model_flavour: str | None = None
    """Which Darknet trained the own model: fork (the maintained fork, the default) or pjreddie (the
    original; then the darknet engine can run it too)."""
    architecture: str = ARCHITECTURES[0]
    """x86_64 or arm64 (Graviton, about 20% cheaper per GB-second): the platform the image is built for,
    and the function's architecture in a DarknetService."""
    engine: str | None = None
    """The engine the function runs (DarknetService sets it from `function.engine`): onnx or None builds
    the default image; darknet builds its reference variant, the Dockerfile's `reference` target, which
    adds Darknet's own CLI and the weights (tag MODEL-VERSION-reference)."""
    push_to_ecr: bool = True
    """False builds the image locally under `local_image_name` without any registry (LocalStack)."""
    local_image_name: str | None = None
    """Local tag when not pushing; defaults to darknet-lambda:MODEL-VERSION (with -reference for darknet)."""
    keep_images: int = 10
    """ECR lifecycle rule: how many images to keep in the repository, 1..1000."""
    force_delete: bool = False
    """Let `pulumi destroy` delete the ECR repository while it still holds images."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.engine is not None:
            check_choice("engine", self.engine, ENGINES)
        check_range("keep_images", self.keep_images, 1, 1000)
        problem = model_name_problem(self.model)
        if problem:
            raise InvalidArgument("model", problem)
        self._check_model_source()
        if self.image_uri is None:
            if not (self.build_context / "Dockerfile").is_file():
                raise InvalidArgument(
                    "context",
                    f"no Dockerfile in {self.build_context}: pass `context` (the directory holding the "
                    "detector's Dockerfile) or `image_uri` (an image that already exists)",
                )
            self.check_engine(self.engine or ENGINES[0])

    def _check_model_source(self) -> None:
        if self.model_dir is not None and self.model_uri is not None:
            raise InvalidArgument(
                "model_uri", "give a team's own model by `model_dir` or by `model_uri`, not both"
            )
        source = self.own_model_source
        if source is None:
            if self.model_flavour is not None:
                raise InvalidArgument(
                    "model_flavour", "applies to a team's own model only (`model_dir` or `model_uri`)"
                )
            return
        if self.image_uri is not None:
            raise InvalidArgument(
                source, "builds an image, so it cannot go with `image_uri` (an image built elsewhere)"
            )
        if self.model_flavour is not None:
            check_choice("model_flavour", self.model_flavour, FLAVOURS)
        if self.model_uri is not None and not S3_URI.fullmatch(self.model_uri):
            raise InvalidArgument(
                "model_uri", f"{self.model_uri!r} is not an S3 URI like s3://bucket/models/parts/"
            )
        if self.model_dir is not None:
            directory = Path(self.model_dir)
            if not directory.is_dir():
                raise InvalidArgument("model_dir", f"{self.model_dir} is not a directory")
            missing = [name for name in self.model_file_names if not (directory / name).is_file()]
            if missing:
                raise InvalidArgument(
                    "model_dir",
                    f"{self.model_dir} lacks {', '.join(missing)} (model {self.model!r}: its files are "
                    f"{', '.join(self.model_file_names)})",
                )

    @property
    def own_model_source(self) -> str | None:
        """The argument naming a team's own model (`model_dir`, `model_uri`); None for a manifest model."""
        if self.model_dir is not None:
            return "model_dir"
        if self.model_uri is not None:
            return "model_uri"
        return None

    @property
    def model_file_names(self) -> list[str]:
        return [f"{self.model}.{suffix}" for suffix in MODEL_FILE_SUFFIXES]

    @property
    def flavour(self) -> str:
        """The Darknet that trained the own model."""
        return self.model_flavour or OWN_MODEL_DEFAULT_FLAVOUR

    @property
    def build_context(self) -> Path:
        return Path(self.context) if self.context else DEFAULT_BUILD_CONTEXT

    @property
    def builds_reference(self) -> bool:
        """Whether the image built is the reference variant, the only one that runs the darknet engine."""
        return self.engine == "darknet"

    @property
    def tag(self) -> str:
        """The image tag: the model and the version of the recipe that built it (and the variant)."""
        tag = f"{self.model}-{VERSION}"
        return reference_tag(tag) if self.builds_reference else tag

    def check_engine(self, engine: str) -> None:
        """Deploy-time check of the model against the manifest the image is built from.

        An image given by URI was built elsewhere, possibly with a custom model: its model is checked
        against the manifest only when the manifest knows it. A team's own model is not in the manifest:
        its flavour says whether the image's Darknet CLI can run it."""
        if self.own_model_source is not None:
            if engine == "darknet" and self.flavour != "pjreddie":
                raise InvalidArgument(
                    "model_flavour",
                    f"{self.model!r} was trained by the maintained Darknet fork (model_flavour "
                    f"{self.flavour!r}), whose layers the image's Darknet CLI does not run: use engine "
                    "'onnx', or model_flavour 'pjreddie' for a model trained by the original Darknet",
                )
            return
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
    repository: aws.ecr.Repository | None
    """The ECR repository when the image is pushed."""

    def __init__(self, name: str, args: DarknetImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("darknet:index:DarknetImage", name, None, opts)
        args = args_from(DarknetImageArgs, args)
        self.repository = None
        self.repository_url = None
        self.build_context = (
            stage_own_model(args, staging_directory(name)) if args.own_model_source else args.build_context
        )

        if args.image_uri is not None:
            self.image_uri = pulumi.Output.from_input(args.image_uri)
        elif args.push_to_ecr:
            self.image_uri = self._build_and_push(name, args)
        else:
            local_name = args.local_image_name or f"{SERVICE_NAME}:{args.tag}"
            image = docker.Image(
                name,
                image_name=local_name,
                build=image_build_args(args, self.build_context),
                skip_push=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.image_uri = image.image_name

        self.register_outputs(
            {
                "image_uri": self.image_uri,
                "repository_url": self.repository_url,
                "repository": self.repository,
            }
        )

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
            build=image_build_args(args, self.build_context),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=credentials.user_name,
                password=pulumi.Output.secret(credentials.password),
            ),
            opts=child,
        )
        self.repository_url = repository.repository_url
        return image.repo_digest


def image_build_args(args: DarknetImageArgs, context: Path) -> docker.DockerBuildArgs:
    """How the image is built from `context`: Dockerfile, build arguments, platform, and the reference
    target for the darknet engine (the Dockerfile's last stage, the default image, otherwise)."""
    build_args = {"MODEL": args.model}
    if args.own_model_source:
        build_args["MODEL_FLAVOUR"] = args.flavour
    return docker.DockerBuildArgs(
        context=str(context),
        dockerfile=str(context / "Dockerfile"),
        args=build_args,
        platform=ARCHITECTURE_PLATFORMS[args.architecture],
        target=REFERENCE_TARGET if args.builds_reference else None,
    )


def staging_directory(name: str) -> Path:
    """Where a stack's image with its own model gets its build context: the same place on every run (so
    the Docker provider sees an unchanged context as unchanged), one per project, stack and image."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / SERVICE_NAME / "build-contexts" / f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"


def stage_own_model(args: DarknetImageArgs, staging: Path) -> Path:
    """A build context for a team's own model: a copy of the recipe (hard links where the file system
    allows), the model's three files in its model/ folder, checked by the recipe's own model check."""
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(args.build_context, staging, ignore=_recipe_only, copy_function=_link_or_copy)
    model_folder = staging / MODEL_FOLDER
    model_folder.mkdir(exist_ok=True)
    if args.model_dir is not None:
        for file_name in args.model_file_names:
            shutil.copyfile(Path(args.model_dir) / file_name, model_folder / file_name)
    else:
        _download_model(args, model_folder)
    _check_model_files(args, staging)
    return staging


def _recipe_only(directory: str, names: list[str]) -> set[str]:
    """Leaves out bytecode and whatever model/ holds besides its README (another build's own model)."""
    ignored = {name for name in names if name == "__pycache__"}
    if Path(directory).name == MODEL_FOLDER:
        ignored.update(name for name in names if name != "README.md")
    return ignored


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _download_model(args: DarknetImageArgs, model_folder: Path) -> None:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    match = S3_URI.fullmatch(args.model_uri or "")
    assert match is not None, "checked by DarknetImageArgs"
    bucket, prefix = match["bucket"], match["prefix"]
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    client = boto3.client("s3")
    for file_name in args.model_file_names:
        uri = f"s3://{bucket}/{prefix}{file_name}"
        try:
            client.download_file(bucket, prefix + file_name, str(model_folder / file_name))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reason = (
                "does not exist"
                if code in ("404", "NoSuchKey", "NoSuchBucket")
                else f"cannot be read with the deploying credentials ({code or error})"
            )
            raise InvalidArgument("model_uri", f"{uri} {reason}") from None
        except BotoCoreError as error:
            raise InvalidArgument("model_uri", f"{uri} cannot be read: {error}") from None


MODEL_CHECK_FAILED = "model check failed: "


def _check_model_files(args: DarknetImageArgs, staging: Path) -> None:
    """Runs the staged recipe's `darknet_detector.building.model_dir check`, as its image build does."""
    model_folder = staging / MODEL_FOLDER
    cfg, weights, names = (model_folder / file_name for file_name in args.model_file_names)
    completed = subprocess.run(
        [sys.executable, "-m", "darknet_detector.building.model_dir", "check", "--cfg", str(cfg), "--weights",
         str(weights), "--names", str(names), "--flavour", args.flavour],
        cwd=staging, env={**os.environ, "PYTHONPATH": str(staging)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode == 0:
        return
    if completed.stderr.startswith(MODEL_CHECK_FAILED):
        raise InvalidArgument(
            args.own_model_source or "model", completed.stderr[len(MODEL_CHECK_FAILED) :].strip()
        )
    raise RuntimeError(
        f"the model check of {staging} could not run with {sys.executable}: "
        + "".join(completed.stderr.strip().splitlines()[-1:])
    )
