"""Each fact lives once, in darknet_detector.contract: the code imports it, the files that cannot import
Python (Makefile, shell scripts) read it through the contract's accessor, and the rest (the Dockerfile's
ARG defaults, the LocalStack stack's image, the model manifest) are held equal to it here."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
import yaml
from support import ROOT

from darknet_detector.contract import (
    DEFAULT_IMAGE_TAG,
    DEFAULT_MODEL,
    DETECT_ROUTE,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MAX_TIMEOUT_SECONDS,
    LAMBDA_MB_PER_VCPU,
    MANIFEST_FILE,
    RESULT_IMAGE,
    RESULT_JSON,
    RESULT_ROUTE,
    RESULT_TEXT,
    SERVICE_NAME,
    UPLOADS_ROUTE,
    image_tag,
    reference_tag,
)

CONTAINER = ROOT / "container"
CODE = ("components", "container/darknet_detector", "container/scripts", "localstack")
FACTS = {DEFAULT_MODEL, DEFAULT_IMAGE_TAG, RESULT_IMAGE, RESULT_TEXT, RESULT_JSON, SERVICE_NAME}
ROUTES = {DETECT_ROUTE, UPLOADS_ROUTE, RESULT_ROUTE}
LIMITS = {LAMBDA_MB_PER_VCPU, LAMBDA_MAX_MEMORY_MB, LAMBDA_MAX_TIMEOUT_SECONDS}
# Literals equal to a fact by coincidence, not restating it: (file, line's text it appears in).
NOT_RESTATED = {
    # An alarm's default threshold (15 minutes of waiting), not Lambda's timeout.
    ("components/monitoring.py", "max_queue_age_seconds: int = 900"),
    # The Pulumi project's name, which Pulumi.yaml defines (held equal below).
    ("localstack/e2e_harness/program.py", 'PROJECT = "darknet-lambda"'),
}


def contract_accessor(*arguments: str) -> subprocess.CompletedProcess:
    """The accessor as the Makefile and the scripts call it: no site-packages (-S), so no virtualenv and
    no editable install, only container/ on the path."""
    return subprocess.run(
        [sys.executable, "-S", "-m", "darknet_detector.contract", *arguments],
        env={**os.environ, "PYTHONPATH": str(CONTAINER)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def restated_literals(path: Path) -> list[tuple[int, str]]:
    """Whole string literals equal to a fact, and numbers equal to a Lambda limit, in one Python file
    (docstrings and messages that mention a fact among other words do not count)."""
    found = []
    source = path.read_text()
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.STRING, tokenize.NUMBER):
            continue
        try:
            value = ast.literal_eval(token.string)
        except (ValueError, SyntaxError):
            continue  # an f-string
        if (isinstance(value, str) and value in FACTS | ROUTES) or (
            token.type == tokenize.NUMBER and value in LIMITS
        ):
            found.append((token.start[0], lines[token.start[0] - 1].strip()))
    return found


def test_the_code_imports_each_fact_rather_than_restating_it():
    restated = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for folder in CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "contract.py"
        for line, text in restated_literals(path)
        if not any(str(path.relative_to(ROOT)) == file and snippet in text for file, snippet in NOT_RESTATED)
    ]
    assert restated == [], "import these from darknet_detector.contract:\n" + "\n".join(restated)


def test_the_accessor_answers_with_the_standard_library_alone():
    assert contract_accessor("default-model").stdout == f"{DEFAULT_MODEL}\n"
    assert contract_accessor("image-tag").stdout == f"{DEFAULT_IMAGE_TAG}\n"
    assert contract_accessor("image-tag", "yolov3").stdout == f"{image_tag('yolov3')}\n"
    assert contract_accessor("reference-tag", "x:y").stdout == f"{reference_tag('x:y')}\n"
    for wrong in ((), ("no-such-fact",), ("image-tag", "a", "b")):
        answered = contract_accessor(*wrong)
        assert (answered.returncode, answered.stdout) == (2, ""), wrong
        assert answered.stderr, "a caller is told what went wrong"


def test_make_reads_the_default_model_and_tags_its_image_by_the_contract():
    env = {name: value for name, value in os.environ.items() if name not in ("MODEL", "IMAGE_TAG", "ARCH")}
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval=facts: ; @echo $(MODEL) $(IMAGE_TAG)", "facts"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.stdout.split() == [DEFAULT_MODEL, DEFAULT_IMAGE_TAG], printed.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert "darknet_detector.contract default-model" in makefile
    (tag_default,) = re.findall(r"^IMAGE_TAG \?= (.+)$", makefile, flags=re.MULTILINE)
    assert tag_default == image_tag("$(MODEL)"), "make image's tag is the contract's image_tag(MODEL)"


@pytest.mark.parametrize(
    "script", ["container/scripts/build-image.sh", "localstack/run.sh", "localstack/demo.sh"]
)
def test_shell_scripts_read_the_defaults_from_the_contract(script):
    text = (ROOT / script).read_text()
    assert "darknet_detector.contract" in text
    assert DEFAULT_MODEL not in text and SERVICE_NAME + ":" not in text, f"{script} restates a default"


def test_the_dockerfile_s_model_argument_defaults_to_the_contract_s_model():
    """A Dockerfile cannot run Python before its ARGs: build-image.sh passes MODEL, and a bare
    `docker build container/` gets this default."""
    defaults = re.findall(r"^ARG MODEL=(.*)$", (CONTAINER / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert defaults and set(defaults) == {DEFAULT_MODEL}


def test_the_default_model_is_in_the_manifest_and_the_local_stack_deploys_its_image():
    assert DEFAULT_MODEL in json.loads((CONTAINER / MANIFEST_FILE).read_text())
    stack = yaml.safe_load((ROOT / "Pulumi.localstack.yaml").read_text())
    assert stack["config"]["darknet-lambda:image"]["imageUri"] == DEFAULT_IMAGE_TAG


def test_the_pulumi_project_is_named_as_the_harness_names_it():
    from e2e_harness.program import PROJECT

    assert yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"] == PROJECT
