"""Finding the stack, and the AWS session that reaches it.

The rule, first that applies: `--outputs FILE`; `--stack NAME` (through the Pulumi CLI, where it is
installed); $DARKNET_LAMBDA_OUTPUTS; the file `make up` writes, `outputs_file_of_make_up()`.
An outputs file is the JSON object `pulumi stack output --json` writes. One that also carries a
`localstack` block ({"endpointUrl", "region", "accessKeyId", "secretAccessKey"}) names the AWS SDK's
settings, unless AWS_ENDPOINT_URL is set; otherwise the standard SDK configuration applies (profiles,
AWS_* variables), so the same command works against AWS and the local stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from darknet_detector.contract import AUTHORIZATIONS, SERVICE_NAME, DetectorConfig

from .errors import CliError

OUTPUTS_ENV = "DARKNET_LAMBDA_OUTPUTS"
API_KEY_ENV = "DARKNET_LAMBDA_API_KEY"
LOCALSTACK_BLOCK = "localstack"
MAKE_UP_OUTPUTS = Path(SERVICE_NAME) / "localstack-outputs.json"
"""Under ${XDG_STATE_HOME:-$HOME/.local/state}: where `make up` writes the local stack's outputs."""


def outputs_file_of_make_up(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/state")
    return Path(state) / MAKE_UP_OUTPUTS


def discovery_rule() -> str:
    return (
        f"--outputs FILE (the JSON of `pulumi stack output --json`), --stack NAME (with the Pulumi CLI), "
        f"set ${OUTPUTS_ENV}, or run `make up`, which writes {outputs_file_of_make_up()}"
    )


def find_outputs(outputs_file: str | None, stack_name: str | None) -> tuple[dict, str]:
    """The stack's outputs and where they came from, by the discovery rule."""
    if outputs_file:
        return _read(Path(outputs_file), "--outputs"), outputs_file
    if stack_name:
        return _pulumi_outputs(stack_name), f"pulumi stack {stack_name}"
    if os.environ.get(OUTPUTS_ENV):
        path = os.environ[OUTPUTS_ENV]
        return _read(Path(path), f"${OUTPUTS_ENV}"), path
    default = outputs_file_of_make_up()
    if default.is_file():
        return _read(default, "the file `make up` writes"), str(default)
    raise CliError(f"no stack found: {discovery_rule()}")


def _read(path: Path, named_by: str) -> dict:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"no outputs file at {path} (named by {named_by}): {discovery_rule()}") from None
    except ValueError as error:
        raise CliError(
            f"{path} is not JSON ({error}): give the file `pulumi stack output --json` writes"
        ) from None
    except OSError as error:
        raise CliError(f"cannot read the outputs file {path}: {error}") from None
    if not isinstance(document, dict) or "bucketName" not in document:
        raise CliError(f"{path} is not a stack's outputs (no bucketName): {discovery_rule()}")
    return document


def _pulumi_outputs(stack_name: str) -> dict:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise CliError(
            f"--stack {stack_name} needs the Pulumi CLI, which is not installed: use --outputs FILE"
        )
    done = subprocess.run(
        [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack_name],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CliError(f"pulumi stack output --stack {stack_name} failed: {reason}")
    return json.loads(done.stdout)


@dataclass
class Stack:
    """A deployed stack's outputs, and the AWS clients that reach it."""

    outputs: dict[str, Any]
    source: str
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def require(self, key: str, what: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise CliError(f"the stack ({self.source}) exports no {key}: {what}")
        return str(value)

    @property
    def bucket(self) -> str:
        return self.require("bucketName", "the bucket of input and results")

    @property
    def input_prefix(self) -> str:
        return self._prefix("inputPrefix", "inputUri", DetectorConfig().input_prefix)

    @property
    def output_prefix(self) -> str:
        return self._prefix("outputPrefix", "outputUri", DetectorConfig().output_prefix)

    def _prefix(self, key: str, uri_key: str, default: str) -> str:
        """The exported prefix; older stacks: the path of the s3:// URI; the default otherwise."""
        if self.outputs.get(key):
            return str(self.outputs[key])
        uri = self.outputs.get(uri_key)
        if uri:
            path = urlparse(str(uri)).path.lstrip("/")
            if path:
                return path
        return default

    @property
    def authorization(self) -> str:
        mode = self.outputs.get("apiAuthorization") or ("api_key" if self.outputs.get("apiKeyId") else "none")
        if mode not in AUTHORIZATIONS:
            raise CliError(f"the stack's apiAuthorization {mode!r} is not one of {', '.join(AUTHORIZATIONS)}")
        return str(mode)

    @property
    def localstack(self) -> dict | None:
        """The outputs file's SDK settings, unless AWS_ENDPOINT_URL says where AWS is."""
        block = self.outputs.get(LOCALSTACK_BLOCK)
        if isinstance(block, dict) and not os.environ.get("AWS_ENDPOINT_URL"):
            return block
        return None

    @cached_property
    def session(self):
        import boto3

        block = self.localstack
        if block:
            return boto3.Session(
                aws_access_key_id=block.get("accessKeyId"),
                aws_secret_access_key=block.get("secretAccessKey"),
                region_name=block.get("region", "us-east-1"),
            )
        return boto3.Session()

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise CliError("no AWS region set: set AWS_REGION or a profile's region")
        return region

    def credentials(self):
        credentials = self.session.get_credentials()
        if credentials is None:
            raise CliError(
                "no AWS credentials found: set a profile (AWS_PROFILE) or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or use an outputs file with a localstack block"
            )
        return credentials.get_frozen_credentials()

    def client(self, service: str):
        if service not in self._clients:
            from botocore.config import Config

            block = self.localstack
            options: dict[str, Any] = {}
            config = Config(max_pool_connections=16, retries={"mode": "standard"})
            if block:
                options["endpoint_url"] = block.get("endpointUrl")
                config = config.merge(Config(s3={"addressing_style": "path"}))
            self.credentials()
            self._clients[service] = self.session.client(
                service, region_name=self.region, config=config, **options
            )
        return self._clients[service]


def load_stack(outputs_file: str | None, stack_name: str | None) -> Stack:
    outputs, source = find_outputs(outputs_file, stack_name)
    return Stack(outputs, source)
