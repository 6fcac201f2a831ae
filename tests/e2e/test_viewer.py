"""The viewer page on LocalStack, in a real headless browser (Debian's chromium, driven by Playwright).

The page is loaded from the stack's own URL (GET / on the stage, no trailing slash); photos generated from
dog.jpg are picked as a person picks them: dog.jpg goes through POST /detect, a sideways 12 MP photo over
the synchronous body limit through POST /uploads, S3 and GET /results/{request_id}; an HEIC (which
Chromium cannot decode) and a text file show what the page does with what it cannot show. Screenshots
are kept under out/e2e/.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from e2e_harness.client import classes
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from support import ROOT, corpus

from darknet_detector.contract import SYNC_BODY_LIMIT_BYTES, VIEWER_THRESHOLD, DetectorConfig

ARTIFACTS = ROOT / "out" / "e2e"
EXPECTED = {"dog", "truck", "bicycle"}
NOT_AN_IMAGE = b"shopping list: milk, eggs\n"
PIXEL_TOLERANCE = 1.5


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "no chromium on PATH: `make e2e` installs it (localstack/ensure-browser.sh)", pytrace=False
        )
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root here, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("console", lambda message: print(f"browser console {message.type}: {message.text}"))
    opened.on(
        "requestfailed", lambda request: print(f"browser request failed: {request.url} {request.failure}")
    )
    yield opened
    # Kept whether the test passed or not: what the page showed at the end.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.set_viewport_size({"width": 1280, "height": 900})
    opened.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
    assert problems == [], f"the page's script failed: {problems}"


def viewer_url(stack) -> str:
    """The stage's root as a person types it: the API URL without /detect, and no trailing slash."""
    url = stack.api_url.removesuffix("/detect")
    assert url != stack.api_url, stack.api_url
    return url


@pytest.fixture(scope="module")
def photos(tmp_path_factory, dog_jpg: bytes) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("viewer")
    sideways_12mp = corpus.oriented(corpus.grainy_photo(dog_jpg, "12mp"), 6)
    assert len(sideways_12mp) > SYNC_BODY_LIMIT_BYTES, "the 12 MP photo must take the uploads route"
    files = {
        "dog.jpg": dog_jpg,
        "sideways-12mp.jpg": sideways_12mp,
        "IMG_0001.HEIC": corpus.encode(corpus.upright(dog_jpg), "HEIF", quality=90),
        "notes.txt": NOT_AN_IMAGE,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


def card(page: Page, name: str) -> Locator:
    return page.locator(f'article[data-file="{name}"]')


def wait_until_settled(page: Page, name: str, state: str, timeout_s: float) -> Locator:
    found = card(page, name)
    page.wait_for_selector(
        f'article[data-file="{name}"][data-state="done"], article[data-file="{name}"][data-state="error"]',
        timeout=timeout_s * 1000,
    )
    actual = found.get_attribute("data-state")
    assert actual == state, f"{name}: {actual}: {found.locator('.status').inner_text()}"
    return found


def downloaded(page: Page, button: Locator) -> bytes:
    with page.expect_download() as download:
        button.click()
    return Path(download.value.path()).read_bytes()


def drawn_boxes(found: Locator) -> tuple[dict, list[dict]]:
    """The picture's displayed rectangle and natural size, and each drawn box's rectangle and index."""
    return found.evaluate(
        """(card) => {
            const img = card.querySelector("img"), r = img.getBoundingClientRect();
            const boxes = [...card.querySelectorAll(".box")].map((box) => {
                const b = box.getBoundingClientRect();
                return {index: Number(box.dataset.index), x: b.x, y: b.y, width: b.width, height: b.height};
            });
            return [{x: r.x, y: r.y, width: r.width, height: r.height,
                     naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight}, boxes];
        }"""
    )


def assert_boxes_where_result_json_says(found: Locator, document: dict, threshold: float) -> None:
    picture, boxes = drawn_boxes(found)
    width, height = document["image"]["width"], document["image"]["height"]
    # Upright: the browser shows the photo the way result.json measured it (EXIF orientation applied).
    assert (picture["naturalWidth"], picture["naturalHeight"]) == (width, height)
    expected = [i for i, d in enumerate(document["detections"]) if d["confidence"] > threshold]
    assert sorted(box["index"] for box in boxes) == expected
    scale_x, scale_y = picture["width"] / width, picture["height"] / height
    for box in boxes:
        b = document["detections"][box["index"]]["box"]
        want = {
            "x": picture["x"] + b["left"] * scale_x,
            "y": picture["y"] + b["top"] * scale_y,
            "width": (b["right"] - b["left"]) * scale_x,
            "height": (b["bottom"] - b["top"]) * scale_y,
        }
        off = {k: round(abs(box[k] - v), 2) for k, v in want.items() if abs(box[k] - v) > PIXEL_TOLERANCE}
        assert off == {}, f"box {box['index']} is drawn off result.json's by {off} px"


def visible_boxes(found: Locator) -> int:
    return found.locator(".box").count()


def test_the_viewer_draws_result_json_s_boxes_filters_them_and_shows_the_api_s_errors(
    page: Page, stack, s3, photos: dict[str, Path]
):
    response = page.goto(viewer_url(stack))
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert page.title().startswith("darknet-lambda")
    default = DetectorConfig().threshold
    assert float(page.locator("#threshold").input_value()) == default

    page.locator("#files").set_input_files(list(photos.values()))

    # dog.jpg: POST /detect once, at the low threshold; the slider starts at the stack's default.
    dog = wait_until_settled(page, "dog.jpg", "done", 120)
    dog_document = json.loads(downloaded(page, dog.locator(".download-json")))
    assert dog_document["status"] == "ok" and dog_document["threshold"] == VIEWER_THRESHOLD
    assert classes(dog_document) >= EXPECTED
    assert dog.get_attribute("data-request-id") == dog_document["request_id"]
    assert_boxes_where_result_json_says(dog, dog_document, default)
    rows = dog.locator("tbody tr:not(.filtered)")
    assert rows.count() == visible_boxes(dog) > 0

    # The 12 MP photo, stored sideways: uploaded to S3 with the form, polled, shown upright.
    large = wait_until_settled(page, "sideways-12mp.jpg", "done", 300)
    large_document = json.loads(downloaded(page, large.locator(".download-json")))
    stored = s3.get_object(Bucket=stack.bucket, Key=f"output/{large_document['request_id']}/result.json")
    assert json.loads(stored["Body"].read()) == large_document, "the page shows what the detector wrote"
    assert large_document["source"]["key"].endswith("/sideways-12mp.jpg")
    assert {k: large_document["image"][k] for k in ("width", "height", "orientation")} == {
        "width": 4000,
        "height": 3000,
        "orientation": 6,
    }
    # The same scene, grainier and at the stack's threshold: fewer of the same objects (a grainy photo's
    # confidences drop), never others.
    assert set() < classes(large_document) <= classes(dog_document)
    assert_boxes_where_result_json_says(large, large_document, default)

    # The slider filters in the page, without a request: every detection at its lowest, fewer at the
    # default, fewer still at its highest.
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    slider = page.locator("#threshold")
    at_default = visible_boxes(dog)
    slider.focus()
    page.keyboard.press("Home")
    assert float(slider.input_value()) == VIEWER_THRESHOLD
    at_lowest = visible_boxes(dog)
    assert at_lowest == len(dog_document["detections"]) > at_default, (at_lowest, at_default)
    assert_boxes_where_result_json_says(dog, dog_document, VIEWER_THRESHOLD)
    page.keyboard.press("End")
    above_95 = [d for d in dog_document["detections"] if d["confidence"] > float(slider.input_value())]
    assert visible_boxes(dog) == len(above_95) < at_default
    slider.fill(str(default))
    assert visible_boxes(dog) == at_default

    # The class filter hides one class's boxes and rows everywhere, and brings them back.
    dogs = sum(1 for d in dog_document["detections"] if d["class"] == "dog" and d["confidence"] > default)
    assert dogs > 0
    dog_filter = page.locator('#classes input[value="dog"]')
    dog_filter.uncheck()
    assert visible_boxes(dog) == at_default - dogs
    assert rows.count() == at_default - dogs
    dog_filter.check()
    assert visible_boxes(dog) == at_default
    assert [url for url in sent if not url.startswith("blob:")] == [], "filters ask the API nothing"

    # The annotated PNG is drawn in the page at the photo's own size, boxes in the class's colour.
    png = Image.open(io.BytesIO(downloaded(page, dog.locator(".download-png")))).convert("RGB")
    assert png.size == (768, 576)
    first = dog.locator(".box").first
    index = int(first.get_attribute("data-index"))
    colour = first.evaluate("(box) => getComputedStyle(box).borderTopColor")
    box = dog_document["detections"][index]["box"]
    edge = png.getpixel((box["left"], (box["top"] + box["bottom"]) // 2))
    want = tuple(int(part) for part in colour.removeprefix("rgb(").removesuffix(")").split(","))
    assert max(abs(a - b) for a, b in zip(edge, want, strict=True)) <= 12, (edge, want)

    # HEIC: Chromium cannot decode it; the detections are still listed and the page says why.
    heic = wait_until_settled(page, "IMG_0001.HEIC", "done", 120)
    assert "cannot display" in heic.locator(".note").inner_text()
    assert heic.locator("tbody tr").count() > 0
    assert heic.locator(".download-png").is_disabled()

    # A text file: the API's own error message, word for word.
    text = wait_until_settled(page, "notes.txt", "error", 120)
    direct = requests.post(
        stack.api_url,
        params={"threshold": VIEWER_THRESHOLD},
        data=NOT_AN_IMAGE,
        headers={"Content-Type": "text/plain"},
        timeout=60,
    )
    assert direct.status_code == 415, direct.text
    assert text.locator(".status").inner_text() == direct.json()["error"]["message"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page fits a phone's width"
    page.screenshot(path=ARTIFACTS / "viewer-phone.png", full_page=True)


def test_the_viewer_is_the_api_s_root_with_or_without_a_trailing_slash(stack):
    for url in (viewer_url(stack), viewer_url(stack) + "/"):
        answer = requests.get(url, timeout=60)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "__VIEWER_CONFIG__" not in answer.text


def test_under_api_key_authorization_the_page_asks_for_the_key_and_keeps_it_for_the_tab(
    page: Page, photos: dict[str, Path]
):
    outputs = json.loads(Path(os.environ["E2E_OUTPUTS"]).read_text())
    url, key = outputs["apiKeyApiUrl"].removesuffix("/detect"), outputs["apiKeyValue"]
    assert page.goto(url).status == 200, "the page itself needs no key"
    dialog = page.locator("#key-dialog")

    page.locator("#files").set_input_files([photos["dog.jpg"]])
    dialog.wait_for(state="visible", timeout=60_000)
    assert "needs a key" in page.locator("#key-reason").inner_text()
    page.locator("#key-input").fill("not-the-key")
    page.locator("#key-form button[type=submit]").click()
    # A locator wait, not wait_for_function: the page's CSP refuses the eval a polling predicate needs.
    page.locator("#key-reason").filter(has_text="refused").wait_for(timeout=60_000)
    assert dialog.is_visible()
    page.locator("#key-input").fill(key)
    page.locator("#key-form button[type=submit]").click()

    done = wait_until_settled(page, "dog.jpg", "done", 120)
    assert done.locator(".box").count() > 0
    assert page.evaluate("sessionStorage.getItem('darknet-lambda.api-key')") == key
    assert page.evaluate("localStorage.length") == 0, "the key is kept for the tab only"
    other_tab = page.context.new_page()
    other_tab.goto(url)
    assert other_tab.evaluate("sessionStorage.getItem('darknet-lambda.api-key')") is None
    other_tab.close()

    # The next photo in this tab goes with the key, without asking.
    page.locator("#files").set_input_files([photos["notes.txt"]])
    text = wait_until_settled(page, "notes.txt", "error", 120)
    assert not dialog.is_visible()
    assert "not an image" in text.locator(".status").inner_text()
