"""The demo page in a real browser: Debian's chromium, headless, driven by Playwright.

No browser is downloaded (never ``playwright install``): Playwright launches the system
``/usr/bin/chromium``, which ``.ci/run`` installs with apt. Every request the page makes
outside the local server is blocked and recorded, so a page that needs the internet (CDN
fonts, analytics) fails here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
RESULT_TIMEOUT_MS = 120_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"Debian chromium not installed at {CHROMIUM} (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, demo_server: tuple[str, Path, int]) -> Iterator[Page]:
    """The demo page, loaded; ``page.outside`` lists the requests that tried to leave localhost."""
    url, server_log, _ = demo_server
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.outside = []
    page.server_log = server_log

    def local_only(route: Route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(url, wait_until="networkidle")
    yield page
    page.close()


def _pick_example(page: Page, row: int, content: str, style: str) -> None:
    """Click an examples row and wait until both photos are in their boxes."""
    page.locator("table tbody tr").nth(row).click()
    expect(page.locator("#content img")).to_have_attribute("src", re.compile(content))
    expect(page.locator("#style img")).to_have_attribute("src", re.compile(style))


def _outcome(page: Page) -> tuple[str | None, str | None]:
    """Click Stylise; (timing line, None) on success, (None, the page's error message) otherwise."""
    page.get_by_role("button", name="Stylise").click()
    result = page.locator("#info").filter(has_text="px in")
    error = page.locator(".toast-body")
    expect(result.or_(error).first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    if error.count():
        message = error.first.inner_text()
        page.locator(".toast-close").first.click()
        expect(error).to_have_count(0)
        return None, message
    return result.inner_text(), None


def _failed(page: Page, message: str) -> None:
    pytest.fail(f"the page showed an error: {message!r}\nserver log (tail):\n{page.server_log.read_text()[-4000:]}")


def _stylise(page: Page) -> str:
    """Click Stylise; the timing line, or a failure quoting the page's error and the server's log."""
    info, error = _outcome(page)
    if error is not None:
        _failed(page, error)
    return info


def _wait_for_editors(page: Page, settle_ms: int = 1000, timeout_ms: int = 60_000) -> None:
    """Wait until both image editors hold their photos: Undo enabled, zoom unchanged for ``settle_ms``.

    An editor fits its photo to the box once the photo has loaded (its zoom label jumps, say from
    27% to 48%); a stroke drawn before that is lost, and a loaded CPU makes that take seconds.
    """
    zoom, undo = page.get_by_role("button", name=re.compile(r"^\d+%$")), page.get_by_role("button", name="Undo")
    expect(undo).to_have_count(2, timeout=timeout_ms)
    for button in undo.all():
        expect(button).to_be_enabled(timeout=timeout_ms)
    last, since = None, time.monotonic()
    deadline = since + timeout_ms / 1000
    while time.monotonic() < deadline:
        labels = zoom.all_inner_texts()
        if labels != last:
            last, since = labels, time.monotonic()
        elif len(labels) == 2 and time.monotonic() - since >= settle_ms / 1000:
            return
        page.wait_for_timeout(100)
    pytest.fail(f"the image editors did not settle within {timeout_ms} ms (zoom labels {last})")


def _stroke(page: Page, canvas_index: int) -> None:
    """One horizontal brush stroke across the middle of an editor's canvas."""
    box = page.locator("canvas").nth(canvas_index).bounding_box()
    x0, x1, y = box["x"] + box["width"] * 0.3, box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.45
    page.mouse.move(x0, y)
    page.wait_for_timeout(300)  # the editor takes the pointer only once it has seen it arrive
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y)
    page.mouse.up()


def test_page_loads_offline_and_runs_an_example(page, tmp_path):
    expect(page.get_by_role("heading", name=re.compile("photonas"))).to_be_visible()
    _pick_example(page, 2, "creek_overcast", "golden_hour")  # creek_overcast.jpg is 800×533, under the working size
    info = _stylise(page)
    assert "800×533 px" in info and "PhotoNAS" in info
    expect(page.get_by_role("button", name=re.compile("Download result"))).to_be_visible()
    screenshot = tmp_path / "demo.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert page.outside == []


def test_painted_regions_reach_the_model(page):
    """Paint one stroke on each photo; the result says it used regions.

    A stroke the editor drops (on a loaded CPU it can miss the pointer's first events) makes the
    app ask for regions on that photo; the strokes are then painted again, twice at most.
    """
    _pick_example(page, 2, "creek_overcast", "golden_hour")
    page.get_by_role("button", name=re.compile("Regions")).click()
    _wait_for_editors(page)
    for _ in range(3):
        _stroke(page, 0)  # the content editor's canvas (each editor draws on two)
        _stroke(page, 2)  # the style editor's
        info, error = _outcome(page)
        if error is None or "Paint the matching regions" not in error:
            break
    if error is not None:
        _failed(page, error)
    assert "with regions" in info
    assert page.outside == []
