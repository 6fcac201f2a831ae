"""`make up`, `make down` and `make demo` as a person runs them: the local stack that stays up.

Run by `make local-stack-test` (part of `make test`), not by `make e2e`: these tests start and stop the
harness themselves, which the e2e run, holding LocalStack's port, cannot. The make-up outputs file goes
to a temporary XDG_STATE_HOME, so a developer's own file is never touched; a stack already up stops the
run instead of being taken down.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness.applier import ENDPOINT
from support import ROOT

from darknet_lambda.cli.stack import LOCALSTACK_BLOCK, outputs_file_of_make_up

pytestmark = pytest.mark.local_stack

COMMAND = ROOT / ".venv" / "bin" / "darknet-lambda"


def port_answers() -> bool:
    try:
        urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=2).close()
    except (urllib.error.URLError, OSError):
        return False
    return True


def run(*command: str | Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make(target: str, env: dict[str, str], *prefix: str | Path) -> subprocess.CompletedProcess:
    return run(*prefix, "make", "--no-print-directory", target, env=env)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    if port_answers():
        pytest.fail("port 4566 already answers (a stack is up): run make down first", pytrace=False)
    state = tmp_path_factory.mktemp("state")
    # No AWS_* settings of the caller's: the command must find the local stack by the make-up file alone.
    # Nor what a make running these tests passes on (make test's IMAGE_READY=1, in the environment and in
    # MAKEFLAGS): a person's make up builds the image first.
    inherited = ("AWS_", "IMAGE_READY", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    clean = {name: value for name, value in os.environ.items() if not name.startswith(inherited)}
    return {**clean, "XDG_STATE_HOME": str(state), "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def lock(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lock") / "caller.lock"


@pytest.fixture(scope="module")
def up(env, lock) -> Iterator[subprocess.CompletedProcess]:
    """`make up` under a lock its caller holds, as `flock LOCK make up` would; `make down` at the end."""
    try:
        yield make("up", env, "flock", lock)
    finally:
        make("down", env)


def test_make_down_with_nothing_up_says_so(env):
    result = make("down", env)
    assert result.returncode == 0, result.stderr
    assert "nothing is up" in result.stdout


def test_make_up_prints_what_a_person_needs_and_writes_the_outputs_file(up, env):
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    outputs = json.loads(outputs_file_of_make_up(env).read_text())
    for name in ("apiUrl", "viewerUrl", "bucketName"):
        assert outputs[name] in up.stdout, f"make up does not print {name}"
    assert str(outputs_file_of_make_up(env)) in up.stdout
    assert f"AWS_ENDPOINT_URL={ENDPOINT}" in up.stdout, "the aws CLI's exports"
    assert "darknet-lambda put" in up.stdout and "curl " in up.stdout
    assert outputs[LOCALSTACK_BLOCK]["endpointUrl"] == ENDPOINT


def test_the_daemons_make_up_started_keep_none_of_the_callers_files(up, lock):
    """dockerd and LocalStack run on after `flock LOCK make up` returns: the lock must be free."""
    assert up.returncode == 0
    assert port_answers(), "LocalStack stays up after make up"
    free = subprocess.run(["flock", "--nonblock", str(lock), "true"], check=False)
    assert free.returncode == 0, "a daemon make up started still holds the caller's lock"


def test_make_up_again_leaves_the_stack_as_it_is(up, env):
    before = outputs_file_of_make_up(env).read_text()
    again = make("up", env)
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout
    assert outputs_file_of_make_up(env).read_text() == before


def test_the_command_curl_and_the_aws_cli_reach_the_running_stack(up, env):
    outputs = json.loads(outputs_file_of_make_up(env).read_text())
    status = run(COMMAND, "status", "--json", env=env, timeout=120)
    assert status.returncode == 0, status.stderr
    assert outputs["bucketName"] in status.stdout
    page = run(
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{content_type}", outputs["viewerUrl"], env=env
    )
    assert page.stdout.startswith("200 text/html"), page.stdout + page.stderr
    local = outputs[LOCALSTACK_BLOCK]
    aws_env = {
        **env,
        "AWS_ENDPOINT_URL": local["endpointUrl"],
        "AWS_DEFAULT_REGION": local["region"],
        "AWS_ACCESS_KEY_ID": local["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": local["secretAccessKey"],
    }
    listed = run(
        ROOT / ".venv" / "bin" / "aws",
        "lambda",
        "get-function",
        "--function-name",
        outputs["functionName"],
        env=aws_env,
    )
    assert listed.returncode == 0, listed.stderr


def test_make_demo_on_an_up_stack_runs_the_verbs_and_leaves_it_up(up, env):
    demo = make("demo", env)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    for verb in ("put", "invoke", "ls", "get", "status", "logs"):
        assert f"$ darknet-lambda {verb}" in demo.stdout, f"the demo does not show {verb}"
    assert "dog: " in demo.stdout
    assert port_answers() and outputs_file_of_make_up(env).exists(), "the stack that was up stays up"


def test_make_down_takes_everything_down_and_again_says_nothing_is_up(up, env):
    down = make("down", env)
    assert down.returncode == 0, down.stderr
    assert not port_answers()
    assert not outputs_file_of_make_up(env).exists()
    again = make("down", env)
    assert again.returncode == 0 and "nothing is up" in again.stdout
