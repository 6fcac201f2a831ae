"""How the command finds its stack and session, and how every bad situation ends: one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from support.cli import BUCKET, outputs

from darknet_lambda.cli import cli, stack
from darknet_lambda.cli.errors import CliError, translate


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def no_stack(monkeypatch, tmp_path, aws_env):
    monkeypatch.delenv(stack.OUTPUTS_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


def test_no_stack_found_names_the_discovery_rule(no_stack):
    result = run("ls")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("darknet-lambda: no stack found:")
    for part in ("--outputs FILE", "--stack NAME", "$DARKNET_LAMBDA_OUTPUTS", "make up"):
        assert part in line
    assert str(no_stack / "state" / "darknet-lambda" / "localstack-outputs.json") in line


def test_the_rule_takes_the_first_that_applies(no_stack, monkeypatch):
    files = {}
    for name in ("flag", "env", "made"):
        path = no_stack / f"{name}.json"
        path.write_text(json.dumps(outputs(), indent=1).replace(BUCKET, f"bucket-{name}"))
        files[name] = path
    made = stack.outputs_file_of_make_up()
    made.parent.mkdir(parents=True)
    made.write_text(files["made"].read_text())
    assert stack.find_outputs(None, None)[0]["bucketName"] == "bucket-made"
    monkeypatch.setenv(stack.OUTPUTS_ENV, str(files["env"]))
    assert stack.find_outputs(None, None)[0]["bucketName"] == "bucket-env"
    assert stack.find_outputs(str(files["flag"]), None)[0]["bucketName"] == "bucket-flag"


def test_the_make_up_file_follows_xdg_state_home():
    assert stack.outputs_file_of_make_up({"HOME": "/home/u"}) == stack.Path(
        "/home/u/.local/state/darknet-lambda/localstack-outputs.json"
    )
    assert stack.outputs_file_of_make_up({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == stack.Path(
        "/s/darknet-lambda/localstack-outputs.json"
    )


def test_stack_name_without_the_pulumi_cli_says_so(no_stack, monkeypatch):
    monkeypatch.setenv("PATH", str(no_stack))
    result = run("--stack", "dev", "status")
    assert result.exit_code == 2
    assert "needs the Pulumi CLI, which is not installed" in result.stderr


def test_stack_name_reads_the_outputs_through_the_pulumi_cli(no_stack, monkeypatch):
    """A stand-in `pulumi` on PATH records what it was asked and answers as `pulumi stack output --json`."""
    asked = no_stack / "asked"
    fake = no_stack / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(
        f'#!/bin/sh\necho "$*" > {asked}\n'
        f"cat <<'JSON'\n{json.dumps(outputs()).replace(BUCKET, 'bucket-of-dev')}\nJSON\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    found, where = stack.find_outputs(None, "dev")
    assert found["bucketName"] == "bucket-of-dev" and where == "pulumi stack dev"
    assert asked.read_text().split() == ["stack", "output", "--json", "--show-secrets", "--stack", "dev"]
    fake.write_text("#!/bin/sh\necho 'error: no stack named dev found' >&2\nexit 255\n")
    result = run("--stack", "dev", "status")
    assert result.exit_code == 2
    assert "pulumi stack output --stack dev failed" in result.stderr and "no stack named dev" in result.stderr


def test_a_file_that_is_no_outputs_file(no_stack):
    bad = no_stack / "bad.json"
    bad.write_text('{"hello": 1}')
    result = run("--outputs", str(bad), "ls")
    assert result.exit_code == 2 and "is not a stack's outputs (no bucketName)" in result.stderr
    bad.write_text("bucketName: darknet")
    result = run("--outputs", str(bad), "ls")
    assert result.exit_code == 2 and f"{bad} is not JSON" in result.stderr
    result = run("--outputs", str(no_stack / "missing.json"), "ls")
    assert result.exit_code == 2 and "no outputs file at" in result.stderr


def test_the_localstack_block_sets_the_sdk_unless_aws_endpoint_url_is_set(monkeypatch, no_stack):
    block = {
        "endpointUrl": "http://127.0.0.1:4566",
        "region": "eu-west-3",
        "accessKeyId": "012345678912",
        "secretAccessKey": "test",
    }
    found = stack.Stack({**outputs(), "localstack": block}, "test")
    assert found.region == "eu-west-3"
    assert found.credentials().access_key == "012345678912"
    assert found.client("s3").meta.endpoint_url == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4567")
    standard = stack.Stack({**outputs(), "localstack": block}, "test")
    assert standard.localstack is None
    assert standard.credentials().access_key == "testing"  # the standard SDK configuration


def test_prefixes_come_from_the_exports_or_the_uris_of_older_stacks():
    older = {k: v for k, v in outputs().items() if k not in ("inputPrefix", "outputPrefix")}
    older["inputUri"] = f"s3://{BUCKET}/in/"
    found = stack.Stack(older, "test")
    assert (found.input_prefix, found.output_prefix) == ("in/", "output/")


def test_no_credentials_is_one_line(no_stack, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs()))
    result = run("--outputs", str(path), "ls")
    assert result.exit_code == 2
    assert result.stderr.startswith("darknet-lambda: no AWS credentials found")


def test_an_unreachable_endpoint_is_one_line(no_stack, tmp_path):
    block = {
        "endpointUrl": "http://127.0.0.1:9",
        "region": "us-east-1",
        "accessKeyId": "a",
        "secretAccessKey": "b",
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**outputs(), "localstack": block}))
    result = run("--outputs", str(path), "ls", env={"AWS_MAX_ATTEMPTS": "1"})
    assert result.exit_code == 2
    assert (
        result.stderr
        == "darknet-lambda: cannot reach AWS at http://127.0.0.1:9/darknet-bucket: is the network up?\n"
    )


def test_known_errors_map_to_one_line_and_the_unexpected_too(monkeypatch):
    import botocore.exceptions

    denied = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not yours"}}, "ListObjectsV2"
    )
    assert translate(denied).format_message() == "AWS refused ListObjectsV2: AccessDenied: not yours"
    assert translate(ValueError("x")) is None

    @cli.command("boom", hidden=True)
    def boom():
        raise RuntimeError("something odd")

    try:
        result = run("boom")
    finally:
        cli.commands.pop("boom")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "darknet-lambda: unexpected error: RuntimeError: something odd "
        "(set DARKNET_LAMBDA_DEBUG=1 for the traceback)"
    )
    assert isinstance(CliError("x"), Exception)


def test_every_verb_has_help_with_an_example_and_the_version_is_printed():
    for verb in ("put", "invoke", "ls", "get", "logs", "backfill", "status"):
        result = run(verb, "--help")
        assert result.exit_code == 0
        assert "Examples:" in result.stdout and f"darknet-lambda {verb}" in result.stdout
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("darknet-lambda, version ")


def test_the_console_script_starts_without_pulumi():
    """The command imports no Pulumi SDK: its start-up stays a tenth of a second, not one."""
    code = (
        "import sys; from darknet_lambda.cli import cli; "
        "print(any(m.startswith('pulumi') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
