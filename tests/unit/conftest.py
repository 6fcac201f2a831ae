"""Runs Pulumi programs under pulumi.runtime.set_mocks: no CLI, no plugin, no network.

The mocks answer like AWS would (ARNs, names, the pushed image's digest) so that tests can assert on
the exact values that reach each resource, and they record each resource's parent and dependencies.
"""

from __future__ import annotations

import json
import runpy
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from support import ROOT

PROJECT = "darknet-lambda"
ACCOUNT = "123456789012"
REGION = "us-east-1"
IMAGE_DIGEST = "sha256:" + "ab" * 32


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict
    state: dict
    urn: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)

    @property
    def parent_type(self) -> str:
        return _type_of(self.parent)

    def policy(self, key: str = "policy") -> dict:
        return json.loads(self.inputs[key])


@dataclass
class Deployment:
    resources: list[Registered]
    exports: dict

    def of_type(self, type_token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_token} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    @property
    def types(self) -> set[str]:
        return {r.type for r in self.resources}


def secret(value: object) -> object:
    """The plain value of an input the program marked secret; fails if it was not marked."""
    assert isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig, value
    return value["value"]


def _type_of(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1] if urn else ""


def _fake_state(typ: str, name: str, inputs: dict) -> tuple[str, dict]:
    """What AWS would answer, for the properties the components read back."""
    state = dict(inputs)
    if typ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{name}-0a1b2c3"
        state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
        return bucket, state
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        group = inputs.get("name") or inputs["namePrefix"] + "0a1b2c3"
        state.update(name=group, arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}")
        return group, state
    if typ == "aws:sqs/queue:Queue":
        queue = f"{name}-0a1b2c3"
        state.update(
            name=queue,
            arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
            url=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}",
        )
        return state["url"], state
    if typ == "aws:iam/role:Role":
        role = f"{name}-0a1b2c3"
        state.update(name=role, arn=f"arn:aws:iam::{ACCOUNT}:role/{role}")
        return role, state
    if typ == "aws:lambda/function:Function":
        function = inputs.get("name") or f"{name}-0a1b2c3"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        state.update(
            name=function,
            arn=arn,
            invokeArn=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations",
        )
        return function, state
    if typ == "aws:ecr/repository:Repository":
        repository = f"{name}-0a1b2c3"
        state.update(
            name=repository,
            registryId=ACCOUNT,
            repositoryUrl=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}",
        )
        return repository, state
    if typ == "docker:index/image:Image":
        repository = inputs["imageName"].rsplit(":", 1)[0]
        state["repoDigest"] = "" if inputs.get("skipPush") else f"{repository}@{IMAGE_DIGEST}"
        return inputs["imageName"], state
    if typ == "aws:apigateway/restApi:RestApi":
        state.update(
            rootResourceId="root0a1b2c", executionArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api0a1b2c3"
        )
        return "api0a1b2c3", state
    if typ == "aws:cloudwatch/eventRule:EventRule":
        rule = f"{name}-0a1b2c3"
        state.update(name=rule, arn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")
        return rule, state
    if typ == "aws:cloudwatch/eventBus:EventBus":
        bus = inputs.get("name") or f"{name}-0a1b2c3"
        state.update(name=bus, arn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}")
        return bus, state
    if typ == "aws:sns/topic:Topic":
        topic = f"{name}-0a1b2c3"
        state.update(name=topic, arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}")
        return state["arn"], state
    if typ == "aws:apigateway/stage:Stage":
        state["invokeUrl"] = (
            f"https://{inputs['restApi']}.execute-api.{REGION}.amazonaws.com/{inputs['stageName']}"
        )
        return f"{name}-id", state
    return f"{name}-id", state


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Registered] = []
        self.registering = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource_id, state = _fake_state(args.typ, args.name, args.inputs)
        request = self.registering.request
        self.resources.append(
            Registered(
                args.typ,
                args.name,
                args.inputs,
                state,
                urn=self.registering.urn,
                parent=request.parent,
                dependencies=list(request.dependencies),
            )
        )
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "ecr-token",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
            }
        raise AssertionError(f"unexpected provider call {args.token}")


class RecordingMonitor(MockMonitor):
    """Adds each resource's URN, parent and dependencies to what the mocks record."""

    def RegisterResource(self, request):
        # Registrations run concurrently on worker threads; new_resource runs on the same thread.
        self.mocks.registering.urn = self.make_urn(request.parent, request.type, request.name)
        self.mocks.registering.request = request
        return super().RegisterResource(request)


def run_program(
    program: Callable[[], object], config: dict[str, str] | None = None, project: str = PROJECT
) -> Deployment:
    """Runs `program` under mocks with `config` and returns its resources and resolved exports."""
    mocks = RecordingMocks()
    pulumi.runtime.set_all_config(config or {})
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack="test", preview=False, monitor=monitor)
    exports: dict = {}
    resolved: dict = {}

    @pulumi.runtime.test
    def deploy():
        with mock.patch.object(pulumi, "export", exports.__setitem__):
            program()
        return pulumi.Output.all(**exports).apply(resolved.update) if exports else None

    deploy()
    return Deployment(mocks.resources, resolved)


class PulumiMocks:
    """What the Pulumi tests use, handed out by the `mocked` fixture."""

    account = ACCOUNT
    region = REGION
    image_digest = IMAGE_DIGEST
    root = ROOT
    secret = staticmethod(secret)

    @staticmethod
    def run(
        program: Callable[[], object], config: dict[str, str] | None = None, project: str = PROJECT
    ) -> Deployment:
        return run_program(program, config, project)

    @staticmethod
    def stack_config(stack: str) -> dict[str, str]:
        """A stack file's configuration as the Pulumi engine hands it to the program (objects as JSON)."""
        values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}

    @staticmethod
    def run_main(config: dict[str, str]) -> Deployment:
        return run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), config)


@pytest.fixture
def mocked() -> PulumiMocks:
    return PulumiMocks()


@pytest.fixture
def build_context(tmp_path: Path) -> Path:
    """A stand-in build context: the components check that it holds a Dockerfile and a model manifest."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    shutil.copy(ROOT / "container" / "models.json", tmp_path / "models.json")
    return tmp_path


@pytest.fixture
def aws_env(monkeypatch):
    """Standard SDK settings for moto: fake credentials and a region, no endpoint or profile of the host."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def cli_stack(aws_env, tmp_path):
    """darknet-lambda against a stack on moto: its bucket exists, its outputs file is written."""
    import boto3
    from moto import mock_aws
    from support.cli import BUCKET, CliStack, outputs

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        stack = CliStack(tmp_path / "outputs.json", outputs())
        stack.write()
        yield stack
