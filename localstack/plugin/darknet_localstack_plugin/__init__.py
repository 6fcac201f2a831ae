"""LocalStack plugin: run image-based Lambda functions from the local Docker daemon.

LocalStack Community refuses image functions ("Container images are a Pro feature") only when
no image was chosen for the function's container; the public executor hook may choose one. This
hook picks the function's ImageUri, as present in the local daemon, and passes the image's own
entrypoint and command (or the function's ImageConfig overrides) as arguments to the Lambda init
at /var/rapid/init, which runs them under AWS's Runtime Interface Emulator (mounted from the host:
the image does not carry it). A second hook keeps LocalStack from asking a registry for images the
daemon already has, a third keeps S3's object store inside LocalStack's own filesystem root instead
of a fixed folder under /tmp, and a fourth sends each function's logs to the log group its logging
config names, as Lambda does.
"""

import os

from localstack.runtime.hooks import on_infra_start
from localstack.services.lambda_.hooks import start_docker_executor
from localstack.services.lambda_.invocation.execution_environment import ExecutionEnvironment
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, PackageType
from localstack.services.s3 import provider as s3_provider
from localstack.utils.container_utils.container_client import BindMount, ContainerConfiguration, NoSuchImage
from localstack.utils.docker_utils import DOCKER_CLIENT

from localstack import config


def image_command(image_config: dict, function_version: FunctionVersion) -> list[str]:
    """The process the function's image runs: ImageConfig overrides first, as Lambda does."""
    overrides = function_version.config.image_config
    entrypoint = (overrides and overrides.entrypoint) or image_config.get("Entrypoint") or []
    command = (overrides and overrides.command) or image_config.get("Cmd") or []
    if not entrypoint and not command:
        raise ValueError(f"image {function_version.config.image.image_uri} has no entrypoint or command")
    return [*entrypoint, *command]


# The function image does not carry AWS's Runtime Interface Emulator (Lambda never runs it): the
# harness names the host's copy, the one local runs use, mounted where the image's entrypoint looks.
EMULATOR_ENV = "DARKNET_LAMBDA_EMULATOR"
EMULATOR_IN_CONTAINER = "/usr/local/bin/aws-lambda-rie"


@start_docker_executor()
def run_image_from_local_daemon(container_config: ContainerConfiguration, function_version: FunctionVersion):
    if function_version.config.package_type != PackageType.Image:
        return
    image_uri = function_version.config.image.image_uri
    image_config = DOCKER_CLIENT.inspect_image(image_uri, pull=False)["Config"] or {}
    container_config.image_name = image_uri
    container_config.command = image_command(image_config, function_version)
    overrides = function_version.config.image_config
    container_config.workdir = (
        (overrides and overrides.working_directory) or image_config.get("WorkingDir") or None
    )
    emulator = os.environ.get(EMULATOR_ENV)
    if emulator:
        container_config.volumes.add(BindMount(emulator, EMULATOR_IN_CONTAINER, read_only=True))


@on_infra_start()
def use_local_images_without_pulling():
    """LocalStack asks the daemon to pull every ImageUri on CreateFunction; an image the daemon
    already holds must not send it to a registry (there is none offline)."""
    pull_image = DOCKER_CLIENT.pull_image

    def pull_unless_present(docker_image: str, *args, **kwargs):
        try:
            DOCKER_CLIENT.inspect_image(docker_image, pull=False)
        except NoSuchImage:
            return pull_image(docker_image, *args, **kwargs)

    DOCKER_CLIENT.pull_image = pull_unless_present


@on_infra_start()
def keep_s3_storage_in_filesystem_root():
    s3_provider.DEFAULT_S3_TMP_DIR = os.path.join(config.dirs.tmp, "s3-storage")


@on_infra_start()
def write_logs_to_the_configured_group():
    """LocalStack writes every function's logs to /aws/lambda/<function name> whatever its
    LoggingConfig.LogGroup says; Lambda writes them to that group, the stack's logGroupName output,
    where `darknet-lambda logs` and the alarms read them."""
    default_group = ExecutionEnvironment.get_log_group_name

    def configured_group(self: ExecutionEnvironment) -> str:
        return (self.function_version.config.logging_config or {}).get("LogGroup") or default_group(self)

    ExecutionEnvironment.get_log_group_name = configured_group
