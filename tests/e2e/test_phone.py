"""The page on phones: at 390 x 844 and 360 x 740, with touch and a mobile viewport, nothing is
wider than the window (after boot, with the builder open, after training and evaluation with
the confusion table open), every control is a tap target of at least 44 x 44 px, the charts
scale to the width and stay legible, and drawing on the pad with a finger draws instead of
scrolling the page. Full-page screenshots go to test-artifacts/phone-<w>x<h>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import ARTIFACTS, READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call, canvas_rgba

PHONES = [(390, 844), (360, 740)]
TAP_PX = 44
CHARTS = ["class-balance", "chart-batch", "chart-epoch", "per-class", "confusion", "pad-probs"]

# Every visible control's box (a file input is drawn by its label, which is what a finger hits).
TAP_TARGETS = """() => [...document.querySelectorAll(
        'button, select, input:not([type=file]), summary, .file-button, footer a')]
    .filter((el) => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden')
    .map((el) => { const r = el.getBoundingClientRect();
        return {name: el.dataset.testid || el.id || el.textContent.trim().slice(0, 30),
                width: r.width, height: r.height}; })"""


def no_horizontal_overflow(page: Page, state: str) -> None:
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{state}: {scroll_width}px in a {inner_width}px window"


def tap_targets_are_big_enough(page: Page, state: str) -> None:
    small = [t for t in page.evaluate(TAP_TARGETS)
             if t["width"] < TAP_PX - 0.5 or t["height"] < TAP_PX - 0.5]
    assert not small, f"{state}: {small}"


def charts_fill_the_width(page: Page) -> None:
    for testid in CHARTS:
        size = page.get_by_test_id(testid).evaluate("""(c) => ({width: c.clientWidth,
            natural: c.width, room: c.closest('.step').clientWidth - 40,
            height: c.clientHeight})""")
        # As wide as the drawing or the step allows, never a thumbnail.
        assert size["width"] >= 0.9 * min(size["natural"], size["room"]), (testid, size)
        assert size["height"] >= 120, (testid, size)


def swipe_down_on_the_pad(page: Page) -> None:
    """A finger drawn down the pad, as touch events from the device (not synthetic mouse)."""
    box = page.get_by_test_id("pad").bounding_box()
    x = box["x"] + box["width"] / 2
    top, bottom = box["y"] + box["height"] * 0.2, box["y"] + box["height"] * 0.8
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                          "touchPoints": [{"x": x, "y": top}]})
    steps = 12
    for step in range(1, steps + 1):
        y = top + (bottom - top) * step / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                              "touchPoints": [{"x": x + step, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


@pytest.mark.parametrize(("width", "height"), PHONES)
def test_the_page_fits_a_phone_and_draws_with_a_finger(browser: Browser, server_url: str,
                                                       width: int, height: int) -> None:
    context, page, _ = open_page(browser, viewport={"width": width, "height": height},
                                 has_touch=True, is_mobile=True, device_scale_factor=2)
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        no_horizontal_overflow(page, "ready")
        tap_targets_are_big_enough(page, "ready")

        page.get_by_test_id("model-select").select_option("custom")
        page.get_by_test_id("builder-layers").locator("li").first.wait_for()
        no_horizontal_overflow(page, "builder open")
        tap_targets_are_big_enough(page, "builder open")
        page.get_by_test_id("model-select").select_option("tutorial")

        call(page, "window.digitlab.train({trainSize: 1000, validationSize: 200, epochs: 2,"
                   " batchSize: 100})")
        call(page, "window.digitlab.evaluate({size: 1000})")
        page.get_by_test_id("confusion-table-toggle").tap()
        page.get_by_test_id("confusion-table").locator("table").wait_for()
        no_horizontal_overflow(page, "evaluated")
        tap_targets_are_big_enough(page, "evaluated")
        charts_fill_the_width(page)

        page.get_by_test_id("pad").scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        assert canvas_rgba(page, "pad")[..., 3].max() == 0
        swipe_down_on_the_pad(page)
        page.wait_for_function(
            "() => document.getElementById('pad-probs-alt').textContent.includes('Most likely')")
        assert page.evaluate("window.scrollY") == scrolled, "the swipe scrolled the page"
        ink = canvas_rgba(page, "pad")[..., 3]
        rows = [r for r in range(ink.shape[0]) if ink[r].max() > 128]
        assert rows and rows[-1] - rows[0] > 0.5 * ink.shape[0], "the stroke was not drawn"
        assert call(page, "window.digitlab.predictPad()") is not None
        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"phone-{width}x{height}.png"), full_page=True)
    finally:
        context.close()
