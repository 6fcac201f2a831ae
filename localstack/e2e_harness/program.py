"""Runs the project's Pulumi program (__main__.py) under Pulumi's mock monitor.

Every resource the program registers is handed, in registration order and with its inputs fully
resolved, to a callback that returns the resource's id and state; the program's exports are
returned. The stack's own config file supplies the configuration, as `pulumi up` would.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pulumi
import yaml

from darknet_lambda import DarknetApi, DarknetApiArgs

from .applier import ACCOUNT

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "darknet-lambda"

NewResource = Callable[[str, str, dict], tuple[str, dict]]


def stack_config(stack: str) -> dict[str, str]:
    """The stack file's config as the engine passes it: namespaced keys, non-strings as JSON."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    config = {}
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        config[full_key] = value if isinstance(value, str) else json.dumps(value)
    return config


class _ApplyingMocks(pulumi.runtime.Mocks):
    def __init__(self, new_resource: NewResource):
        self._new_resource = new_resource

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ.startswith("darknet:"):  # component resources own nothing themselves
            return f"{args.name}-component", dict(args.inputs)
        return self._new_resource(args.typ, args.name, dict(args.inputs))

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "userId": ACCOUNT}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        raise NotImplementedError(f"the harness does not answer the provider call {args.token}")


def run_program(stack: str, config: dict[str, str], new_resource: NewResource) -> dict:
    """Run __main__.py as `stack` with `config`, applying each resource through `new_resource`."""
    return run(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack, config, new_resource
    )


# Test-only wiring: the stack's function behind one more API per authorization mode, so that one
# deploy tests them all (the product's program deploys one API, with the stack's authorization).
AUTH_APIS = {"api_key": "apiKey", "iam": "iam"}
# The api_key API also allows several origins (the stack's own allows any), so that the answers that
# must echo a listed origin, which no static header can, are tested too.
LISTED_ORIGINS = ["https://a.example.com", "https://viewer.example.com"]


def run_program_with_auth_apis(stack: str, config: dict[str, str], new_resource: NewResource) -> dict:
    """run_program, then a DarknetApi per mode of AUTH_APIS in front of the same function; exports
    `<label>ApiUrl` for each and `apiKeyValue`, the api_key API's key."""

    def program() -> None:
        service = runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")["service"]
        uploads = service.uploads
        for authorization, label in AUTH_APIS.items():
            api = DarknetApi(
                f"darknet-{label.lower()}",
                DarknetApiArgs(
                    function_name=service.function.function_name,
                    function_invoke_arn=service.function.invoke_arn,
                    # The uploads routes and the viewer page too: the page asks for the key it lacks.
                    uploads_function_name=uploads.function_name if uploads else None,
                    uploads_function_invoke_arn=uploads.invoke_arn if uploads else None,
                    authorization=authorization,
                    cors_allowed_origins=LISTED_ORIGINS if authorization == "api_key" else [],
                ),
            )
            pulumi.export(f"{label}ApiUrl", api.url)
            if api.api_key is not None:
                pulumi.export("apiKeyValue", api.api_key.value)

    return run(program, stack, config, new_resource)


def run(program: Callable[[], object], stack: str, config: dict[str, str], new_resource: NewResource) -> dict:
    """Run any Pulumi program (a function) the same way; returns its resolved exports."""
    pulumi.runtime.set_all_config(config)
    pulumi.runtime.set_mocks(_ApplyingMocks(new_resource), project=PROJECT, stack=stack, preview=False)
    exports: dict = {}
    resolved: dict = {}

    @pulumi.runtime.test
    def deploy():
        with mock.patch.object(pulumi, "export", exports.__setitem__):
            program()
        return pulumi.Output.all(**exports).apply(resolved.update) if exports else None

    deploy()
    return resolved
