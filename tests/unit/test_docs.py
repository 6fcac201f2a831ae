"""The documentation against the code: what a newcomer reads must be true and must lead somewhere.

- every relative link of README.md, CONTRIBUTING.md, CHANGELOG.md and docs/*.md points at a file that
  exists (and at a heading that exists, when it names one);
- docs/configuration.md's settings tables are what docs/configuration_doc.py renders from the Args
  (`make docs`), every key Pulumi.yaml declares is documented there, and no page names a camelCase
  setting that is no Args field;
- the README stays short, names the two set-up commands and exactly the command's verbs;
- operations.md explains every alarm the monitoring component creates; models.md names every model of
  the manifest; CHANGELOG.md follows the contract's version; every docs page is linked from the README.
"""

from __future__ import annotations

import dataclasses
import json
import re
import runpy
from pathlib import Path

import click
import pytest
import yaml
from support import ROOT

from darknet_detector.contract import VERSION
from darknet_lambda import DarknetMonitoring, DarknetMonitoringArgs
from darknet_lambda.cli import cli
from darknet_lambda.service import PARTS
from darknet_lambda.stack_config import camel_case

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 170
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_points_at_an_existing_file_and_heading(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(
                f"{target} (no file {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked})"
            )
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {rel(linked)})")
    assert not broken, f"{rel(page)} has broken links: " + "; ".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    unlinked = [
        page.name for page in [*DOCS.glob("*.md"), DOCS / "openapi.yaml"] if f"docs/{page.name}" not in readme
    ]
    assert not unlinked, (
        f"README.md links no docs page {', '.join(unlinked)}: add it to its Documentation table"
    )


# --- configuration ----------------------------------------------------------------------------------------


def generator() -> dict:
    return runpy.run_path(str(DOCS / "configuration_doc.py"), run_name="configuration_doc")


def test_the_configuration_tables_are_generated_from_the_args():
    page = (DOCS / "configuration.md").read_text()
    assert page == generator()["rewritten"](page), (
        "docs/configuration.md differs from the components' Args (a field, its type, default or "
        "docstring changed): run `make docs` and commit the page"
    )


def test_every_key_pulumi_yaml_declares_is_documented():
    page = (DOCS / "configuration.md").read_text()
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    missing = []
    for key, declaration in declared.items():
        if key in {camel_case(part) for part in PARTS}:
            # A part's declaration lists its keys after the colon: each must have its own row.
            listed = re.findall(r"\b([a-z][A-Za-z0-9]*)\b", declaration["description"].split(":", 1)[1])
            fields = {camel_case(f.name) for f in dataclasses.fields(PARTS[_snake(key)])}
            missing += [
                f"{key}.{name}" for name in listed if name in fields and f"`{key}.{name}`" not in page
            ]
            if f"### `{key}`" not in page:
                missing.append(key)
        elif f"| `{key}` |" not in page:
            missing.append(key)
    assert not missing, f"keys Pulumi.yaml declares that docs/configuration.md lacks: {', '.join(missing)}"


def _snake(key: str) -> str:
    return re.sub(r"([A-Z])", lambda match: "_" + match.group(1).lower(), key)


SETTING = re.compile(
    r"`(?:darknet-lambda:)?(" + "|".join(camel_case(p) for p in PARTS) + r")\.([a-z]+[A-Z][A-Za-z0-9]*)`"
)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_no_page_names_a_setting_that_is_no_args_field(page):
    """A removed or misspelt key (`function.memory`) must not stay documented."""
    parts = {camel_case(name): cls for name, cls in PARTS.items()}
    unknown = sorted(
        {
            f"{part}.{key}"
            for part, key in SETTING.findall(page.read_text())
            if key not in {camel_case(field.name) for field in dataclasses.fields(parts[part])}
        }
    )
    assert not unknown, f"{rel(page)} documents settings no Args has: {', '.join(unknown)}"


# --- the README and the other pages ----------------------------------------------------------------------


def test_the_readme_is_short_and_sets_up_with_make_demo_and_make_test():
    readme = (ROOT / "README.md").read_text()
    lines = len(readme.splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines: move detail to a docs/ page (at most {README_MAX_LINES})"
    )
    for command in ("make demo", "make test"):
        assert command in readme, f"README.md does not show `{command}`"


def test_the_readme_shows_exactly_the_command_s_verbs():
    assert isinstance(cli, click.Group)
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"^darknet-lambda ([a-z-]+)", readme, flags=re.MULTILINE))
    verbs = set(cli.commands)
    assert shown == verbs, (
        f"README.md shows darknet-lambda {', '.join(sorted(shown - verbs)) or '-'} that the command lacks, "
        f"and not {', '.join(sorted(verbs - shown)) or '-'}"
    )


def test_operations_explains_every_alarm_the_monitoring_component_creates(mocked):
    def program():
        DarknetMonitoring(
            "watch",
            DarknetMonitoringArgs(
                function_name="detector",
                function_arn="arn:aws:lambda:us-east-1:123456789012:function:detector",
                function_timeout=60,
                queue_name="images",
                dead_letter_queue_name="dead",
                failure_queue_name="failed",
                completion_events=True,
            ),
        )

    alarms = {
        r.name.removeprefix("watch-")
        for r in mocked.run(program).of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    page = (DOCS / "operations.md").read_text()
    unexplained = sorted(key for key in alarms if f"| `{key}` |" not in page)
    assert alarms and not unexplained, (
        f"docs/operations.md has no row for the alarms {', '.join(unexplained)}"
    )


def test_models_names_every_model_of_the_manifest():
    models = json.loads((ROOT / "container" / "models.json").read_text())
    page = (DOCS / "models.md").read_text()
    missing = [model for model in models if f"| {model} " not in page]
    assert not missing, f"docs/models.md has no row for {', '.join(missing)} of container/models.json"


def test_the_changelog_follows_the_contract_s_version():
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), flags=re.MULTILINE)
    assert VERSION in headings, f"CHANGELOG.md has no section for the contract's VERSION {VERSION}"
    newer = headings[: headings.index(VERSION)]
    assert newer in ([], ["Unreleased"]), f"CHANGELOG.md sections above {VERSION}: {newer}"
