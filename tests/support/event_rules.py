"""The EventBridge rule patterns docs/events.md documents, for the tests that route real events with them,
and where the end-to-end tests keep the events as they arrived (out/e2e/events/, one file per path)."""

from __future__ import annotations

import json
import re

from support import ROOT

DOCS = ROOT / "docs" / "events.md"
SAVED_EVENTS = ROOT / "out" / "e2e" / "events"


def documented_patterns() -> dict[str, dict]:
    """Each JSON block of docs/events.md preceded by `<!-- rule-pattern: NAME -->`, by NAME."""
    blocks = re.findall(r"<!-- rule-pattern: ([a-z-]+) -->\s*```json\n(.*?)```", DOCS.read_text(), re.S)
    return {name: json.loads(body) for name, body in blocks}


def save_event(path: str, event: dict) -> None:
    """Keep an event as it arrived, for people to read (out/e2e/events/PATH.json)."""
    SAVED_EVENTS.mkdir(parents=True, exist_ok=True)
    (SAVED_EVENTS / f"{path}.json").write_text(json.dumps(event, indent=2) + "\n")
