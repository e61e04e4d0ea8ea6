"""The reader's preferences: `prefers-color-scheme: dark` gives a dark page and dark charts
(Python's chart theme follows, also when the scheme changes while the page is open; audited
with axe in dark too), `prefers-reduced-motion` stops animations, and text at 200 % of the
browser's size neither overflows nor overlaps. Dark screenshots at 1280 and 390 px go to
test-artifacts/dark-<width>.png."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from digitlab.viz import charts
from tests.e2e.a11y import audit
from tests.e2e.conftest import ARTIFACTS, READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call, canvas_rgba

LUMINANCE = """(css) => { const [r, g, b] = css.match(/[\\d.]+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; }"""

# Pairs of visible controls and headings whose boxes intersect (a label and its own field may
# not, either: the label sits above it).
OVERLAPS = """() => {
    const items = [...document.querySelectorAll(
            'button, select, input:not([type=file]), .file-button, h1, h2, h3, label > span')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => ({name: el.dataset.testid || el.id || el.textContent.trim().slice(0, 20),
                       box: el.getBoundingClientRect()}));
    const hits = [];
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
        const a = items[i].box, b = items[j].box;
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1
            && b.top < a.bottom - 1) hits.push([items[i].name, items[j].name]);
    }
    return hits;
}"""


def hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def chart_background(page: Page) -> tuple[int, int, int]:
    return tuple(int(v) for v in canvas_rgba(page, "class-balance")[2, 2, :3])


def wait_chart_background(page: Page, color: str) -> None:
    for _ in range(50):
        if chart_background(page) == hex_rgb(color):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"chart background {chart_background(page)}, expected {color}")


@pytest.mark.parametrize("width", [1280, 390])
def test_dark_mode_darkens_the_page_and_the_charts(browser: Browser, server_url: str,
                                                   width: int) -> None:
    context, page, _ = open_page(browser, viewport={"width": width, "height": 900},
                                 color_scheme="dark")
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        body = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert page.evaluate(LUMINANCE, body) < 0.15, body
        wait_chart_background(page, charts.DARK.background)
        call(page, "window.digitlab.train({trainSize: 1000, validationSize: 200, epochs: 2,"
                   " batchSize: 100})")
        call(page, "window.digitlab.evaluate({size: 1000})")
        call(page, "window.digitlab.pickTestDigit(0)")
        page.get_by_test_id("confusion-table-toggle").click()
        assert not audit(page, f"dark, evaluated, {width} px")
        per_class = canvas_rgba(page, "per-class")[..., :3].reshape(-1, 3)
        assert np.median(per_class.mean(axis=1)) < 60  # a dark chart, not a white one
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dark-{width}.png"), full_page=True)
        # The system switches to light while the page is open: the charts follow.
        page.emulate_media(color_scheme="light")
        wait_chart_background(page, charts.LIGHT.background)
        page.emulate_media(color_scheme="dark")
        wait_chart_background(page, charts.DARK.background)
    finally:
        context.close()


def test_reduced_motion_stops_animations(browser: Browser, server_url: str) -> None:
    context, page, _ = open_page(browser, reduced_motion="reduce")
    try:
        page.goto(f"{server_url}?lang=en")
        page.wait_for_selector("main")
        styles = page.evaluate("""() => {
            const style = document.createElement('div');
            style.style.cssText = 'animation: pulse 1s infinite; transition: opacity 2s';
            document.body.append(style);
            const s = getComputedStyle(style);
            return [s.animationName, s.transitionDuration];
        }""")
        assert styles == ["none", "0s"], styles
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_text_at_200_percent_neither_overflows_nor_overlaps(browser: Browser, server_url: str,
                                                            width: int) -> None:
    context, page, _ = open_page(browser, viewport={"width": width, "height": 900})
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        # The browser's font-size setting scales the root font, which every size here uses.
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        call(page, "window.digitlab.train({trainSize: 500, validationSize: 100, epochs: 1,"
                   " batchSize: 100})")
        call(page, "window.digitlab.evaluate({size: 500})")
        page.get_by_test_id("confusion-table-toggle").click()
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 31
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll_width <= inner_width, (scroll_width, inner_width)
        assert page.evaluate(OVERLAPS) == []
        page.screenshot(path=str(ARTIFACTS / f"text-200-{width}.png"), full_page=True)
    finally:
        context.close()
