"""The viewer page at GET /: one self-contained HTML file, served by the uploads function with the
contract's facts filled in, under a policy that runs only its own inline script and style."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest
from lambda_events import response_headers
from test_uploads import SETTINGS, Context, route_event

from darknet_detector.contract import (
    DETECT_ROUTE,
    RESULT_ROUTE,
    S3_IMAGE_LIMIT_BYTES,
    SYNC_BODY_LIMIT_BYTES,
    UPLOADS_ROUTE,
    VERSION,
    VIEWER_THRESHOLD,
    DetectorConfig,
)
from darknet_detector.serving import uploads_api


class Parts(HTMLParser):
    """The page's scripts (attributes and text), styles, and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.styles: list[str] = []
        self.urls: list[str] = []
        self._open: tuple[str, dict] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "action", "srcset")]
        if tag in ("script", "style"):
            self._open = (tag, attributes)

    def handle_data(self, data):
        if self._open and self._open[0] == "script":
            self.scripts.append((self._open[1], data))
        elif self._open:
            self.styles.append(data)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._open = None


@pytest.fixture(scope="module")
def served() -> tuple[int, dict, str]:
    response = uploads_api.resolve(
        route_event("GET", "/"), Context(), uploads_api.Uploads(SETTINGS, lambda: pytest.fail("no S3"))
    )
    return response["statusCode"], response_headers(response), response["body"]


def parts(page: str) -> Parts:
    parser = Parts()
    parser.feed(page)
    return parser


def test_get_root_answers_the_page_as_html(served):
    status, headers, page = served
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.startswith("<!doctype html>")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Request-Id"] == Context().aws_request_id


def test_the_contract_s_facts_are_filled_in_not_restated(served):
    _, _, page = served
    assert uploads_api.CONFIG_SLOT not in page
    (config_text,) = [text for attrs, text in parts(page).scripts if attrs.get("id") == "viewer-config"]
    config = json.loads(config_text)
    assert config == {
        "version": VERSION,
        "routes": {"detect": "detect", "uploads": "uploads", "results": "results/"},
        "syncBodyLimitBytes": SYNC_BODY_LIMIT_BYTES,
        "uploadLimitBytes": S3_IMAGE_LIMIT_BYTES,
        "askThreshold": VIEWER_THRESHOLD,
        "defaultThreshold": DetectorConfig().threshold,
    }
    assert f"/{config['routes']['detect']}" == DETECT_ROUTE
    assert f"/{config['routes']['uploads']}" == UPLOADS_ROUTE
    assert RESULT_ROUTE.startswith(f"/{config['routes']['results']}{{")
    # The script reads them from the config; it restates none of them.
    (script,) = [text for attrs, text in parts(page).scripts if not attrs]
    for fact in (str(SYNC_BODY_LIMIT_BYTES), str(S3_IMAGE_LIMIT_BYTES), '"detect"', '"uploads"', "results/"):
        assert fact not in script


def test_the_page_is_self_contained(served):
    _, _, page = served
    found = parts(page)
    assert [attrs for attrs, _ in found.scripts if "src" in attrs] == []
    assert [url for url in found.urls if url] == [], "no external scripts, styles, fonts or links"
    assert "<link" not in page and "@import" not in page and "url(" not in "".join(found.styles)


def test_the_policy_runs_only_the_page_s_own_script_and_style(served):
    _, headers, page = served
    directives = (directive.partition(" ") for directive in headers["Content-Security-Policy"].split("; "))
    policy = {name: value for name, _, value in directives}
    found = parts(page)

    def digest(text: str) -> str:
        return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"

    (script,) = [text for attrs, text in found.scripts if not attrs]
    assert policy["script-src"] == digest(script)
    assert policy["style-src"] == " ".join(digest(style) for style in found.styles)
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"


def test_the_page_names_no_internal_path_or_machine(served):
    _, _, page = served
    for internal in ("/var/task", "/opt/", "darknet_detector/", "localhost", "127.0.0.1", "amazonaws.com/"):
        assert internal not in page
    assert not re.search(r"https?://", page), "no absolute URL: routes are relative to the page"


def test_a_config_value_cannot_close_the_script_it_sits_in(monkeypatch):
    uploads_api.viewer_page.cache_clear()
    monkeypatch.setattr(uploads_api, "viewer_config", lambda: {"version": "</script><script>alert(1)"})
    try:
        page, _ = uploads_api.viewer_page()
    finally:
        uploads_api.viewer_page.cache_clear()
    assert "</script><script>alert(1)" not in page
    (config_text,) = [text for attrs, text in parts(page).scripts if attrs.get("id") == "viewer-config"]
    assert json.loads(config_text)["version"] == "</script><script>alert(1)"


def test_other_methods_on_the_root_are_not_the_page():
    response = uploads_api.resolve(
        route_event("POST", "/", "{}"), Context(), uploads_api.Uploads(SETTINGS, lambda: None)
    )
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
