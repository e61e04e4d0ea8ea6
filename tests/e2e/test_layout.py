"""The page's layout, checked by the geometry of its boxes at a laptop's and a phone's width,
in English and in Chinese: during boot, after boot, and after a short training run and an
evaluation. Every check reads bounding boxes or computed styles, never pixels or timings; each
case also saves a full-page screenshot to test-artifacts/layout-<width>-<lang>.png to look at.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import ARTIFACTS, READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call

CASES = [(1280, 900, "en"), (1280, 900, "zh-CN"), (390, 844, "en"), (390, 844, "zh-CN")]
SMALL_RUN = {"train-size": "1000", "validation-size": "200", "epochs": "1", "batch-size": "100"}
BYTES_NEAR_BAR_PX = 40  # "beside its bar": at most this far right of the bar's end
EDGE_PX = 1.5  # boxes that should touch may differ by sub-pixel rounding and a 1 px border
MIN_CONTRAST = 4.5  # WCAG AA for text

# In the page, at the first frame where a boot stage shows a byte count (boot is still on
# screen then, so this cannot miss it): each counted stage's bar and count boxes.
BOOT_GEOMETRY = """() => {
    const rows = [...document.querySelectorAll('.boot-stages li')]
        .filter((li) => li.querySelector('.bytes').textContent.trim() !== '');
    if (!rows.length || document.getElementById('boot').hidden) return null;
    const box = (el) => { const r = el.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    return rows.map((li) => ({stage: li.dataset.stage, bar: box(li.querySelector('progress')),
                              bytes: box(li.querySelector('.bytes'))}));
}"""

BOX = """(el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
            height: r.height}; }"""

# A control "stretches" when it is wider than its own content needs (its max-content width).
NATURAL_WIDTH = """(el) => {
    const width = el.getBoundingClientRect().width;
    const saved = el.style.width;
    el.style.width = 'max-content';
    const natural = el.getBoundingClientRect().width;
    el.style.width = saved;
    return {width, natural};
}"""

# Text colour against the background behind it, for each visible button, in the page's
# current colour scheme, with WCAG's relative luminance. A button's opacity blends its text and
# its fill with what is behind it, so it counts too (a faded disabled button is what users see).
BUTTON_CONTRASTS = """() => {
    const rgba = (css) => { const v = (css.match(/[\\d.]+/g) || []).map(Number);
        return v.length === 3 ? [...v, 1] : v; };
    const opaque = (c) => c.length === 4 && c[3] === 1;
    const behind = (el) => {
        for (let node = el.parentElement; node; node = node.parentElement) {
            const c = rgba(getComputedStyle(node).backgroundColor);
            if (opaque(c)) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const over = (top, alpha, bottom) => top.map((v, i) => alpha * v + (1 - alpha) * bottom[i]);
    const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
        .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
        .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    return [...document.querySelectorAll('button')].filter((b) => b.offsetParent !== null)
        .map((b) => {
            const style = getComputedStyle(b);
            const opacity = Number(style.opacity);
            const back = behind(b);
            const fill = rgba(style.backgroundColor);
            const face = over(fill.slice(0, 3), fill[3], back);
            const text = rgba(style.color);
            const shownFace = over(face, opacity, back);
            const shownText = over(over(text.slice(0, 3), text[3], face), opacity, back);
            const [hi, lo] = [lum(shownText), lum(shownFace)].sort((x, y) => y - x);
            return {button: b.id || b.textContent.trim(), disabled: b.disabled,
                    ratio: (hi + 0.05) / (lo + 0.05)};
        });
}"""


def box(page: Page, selector: str) -> dict:
    return page.locator(selector).first.evaluate(BOX)


def no_horizontal_overflow(page: Page) -> None:
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"page is {scroll_width}px wide in a {inner_width}px window"


def buttons_share_one_row(page: Page) -> None:
    # Measured in one go: the page may still grow above them just after ready (the source
    # panels, Python's answers after the boot), which would move the later boxes only.
    boxes = page.evaluate(f"""() => ['train', 'stop', 'continue'].map((name) =>
        ({BOX})(document.querySelector(`[data-testid=${{name}}]`)))""")
    tops = [b["top"] for b in boxes]
    assert max(tops) - min(tops) <= 0.5, f"Train/Stop/Continue tops differ: {tops}"
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left["right"] <= right["left"], "the buttons overlap"
    assert boxes[-1]["right"] <= page.evaluate("window.innerWidth")


def controls_keep_natural_widths(page: Page) -> None:
    for testid in ("model-select", "inspect-index"):
        size = page.get_by_test_id(testid).evaluate(NATURAL_WIDTH)
        assert size["width"] <= size["natural"] + 1, f"{testid} stretches: {size}"


def clear_sits_at_the_pads_corner(page: Page) -> None:
    pad, clear = box(page, "[data-testid=pad]"), box(page, "[data-testid=clear]")
    corners = [(x, y) for x in (pad["left"], pad["right"]) for y in (pad["top"], pad["bottom"])]
    assert any(clear["left"] - EDGE_PX <= x <= clear["right"] + EDGE_PX
               and clear["top"] - EDGE_PX <= y <= clear["bottom"] + EDGE_PX
               for x, y in corners), f"Clear {clear} touches no corner of the pad {pad}"


def filters_and_maps_line_up(page: Page) -> None:
    filters, maps = box(page, "[data-testid=filters]"), box(page, "#feature-maps")
    assert abs(filters["left"] - maps["left"]) <= 0.5, (filters, maps)
    assert maps["top"] >= filters["bottom"], "the panels overlap instead of stacking"


def header_keeps_its_height_when_sharing(page: Page) -> None:
    header = "header.top"
    before = box(page, header)["height"]
    page.get_by_test_id("share").click()
    page.locator("#share-status").wait_for(state="visible")
    assert box(page, header)["height"] == before, "the header grew for the share status"
    # A browser that refuses the clipboard gets the link in a field to copy by hand.
    page.evaluate("""() => Object.defineProperty(navigator.clipboard, 'writeText', {
        configurable: true,
        value: () => Promise.reject(new DOMException('refused', 'NotAllowedError'))})""")
    page.get_by_test_id("share").click()
    page.get_by_test_id("share-link").wait_for(state="visible")
    assert page.locator("#share-status").get_attribute("data-i18n") == "share.manual"
    assert box(page, header)["height"] == before, "the header grew for the link field"
    no_horizontal_overflow(page)


def alert_leaves_headings_visible(page: Page) -> None:
    banner = page.get_by_test_id("alert")

    def raise_alert() -> dict:
        result = call(page, "window.digitlab.train({learningRate: -1})")
        assert result.get("code") == "BAD_CONFIG", result
        banner.wait_for(state="visible")
        return banner.evaluate(BOX)

    # At the top of the page: the first heading after the banner starts below it.
    page.evaluate("window.scrollTo(0, 0)")
    alert = raise_alert()
    first = page.locator("main h2").first.evaluate(BOX)
    assert first["top"] >= alert["bottom"], (alert, first)
    page.get_by_test_id("alert-dismiss").click()
    # Scrolled to a step, its heading at the top of the window: the banner that appears (and
    # sticks to the top) pushes the heading down rather than covering it.
    heading = page.locator("#train h2")
    page.evaluate("(h) => window.scrollTo(0, h.getBoundingClientRect().top + scrollY - 8)",
                  heading.element_handle())
    alert = raise_alert()
    shown = heading.evaluate(BOX)
    assert alert["top"] <= 1, "the banner should stick to the top of the window"
    assert shown["top"] >= alert["bottom"], f"banner {alert} covers the heading {shown}"
    page.get_by_test_id("alert-dismiss").click()
    page.evaluate("window.scrollTo(0, 0)")


def buttons_have_contrast(page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        contrasts = page.evaluate(BUTTON_CONTRASTS)
        assert contrasts, "no visible buttons"
        low = [c for c in contrasts if c["ratio"] < MIN_CONTRAST]
        assert not low, f"{scheme}: buttons below {MIN_CONTRAST}:1: {low}"
    page.emulate_media(color_scheme="light")


def boot_counts_sit_beside_their_bars(page: Page) -> None:
    stages = page.wait_for_function(BOOT_GEOMETRY, polling="raf",
                                    timeout=READY_TIMEOUT_MS).json_value()
    for stage in stages:
        bar, count = stage["bar"], stage["bytes"]
        gap = count["left"] - bar["right"]
        assert 0 <= gap <= BYTES_NEAR_BAR_PX, f"{stage['stage']}: count {gap:.0f}px from its bar"
        middle = (count["top"] + count["bottom"]) / 2
        assert bar["top"] - EDGE_PX <= middle <= bar["bottom"] + 8, \
            f"{stage['stage']}: the count is not on its bar's row"


def train_and_evaluate(page: Page) -> None:
    for testid, value in SMALL_RUN.items():
        page.get_by_test_id(testid).fill(value)
    page.get_by_test_id("train").click()
    # The bar is full only when the run is over; "ready" alone may be the phase before it.
    page.wait_for_function("""() => document.getElementById('progress').value === 1
                                     && window.digitlab.state().phase === 'ready'""")
    page.get_by_test_id("evaluate").click()
    page.wait_for_function("() => document.getElementById('test-accuracy').textContent !== ''")
    page.wait_for_function("() => window.digitlab.state().phase === 'ready'")


@pytest.mark.parametrize(("width", "height", "lang"), CASES,
                         ids=[f"{w}-{lang}" for w, _, lang in CASES])
def test_layout(browser: Browser, server_url: str, width: int, height: int, lang: str) -> None:
    context, page, log = open_page(browser, {"width": width, "height": height})
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        boot_counts_sit_beside_their_bars(page)
        no_horizontal_overflow(page)
        wait_ready(page)

        buttons_share_one_row(page)
        controls_keep_natural_widths(page)
        clear_sits_at_the_pads_corner(page)
        buttons_have_contrast(page)
        header_keeps_its_height_when_sharing(page)
        alert_leaves_headings_visible(page)
        no_horizontal_overflow(page)

        train_and_evaluate(page)
        buttons_share_one_row(page)
        controls_keep_natural_widths(page)
        clear_sits_at_the_pads_corner(page)
        filters_and_maps_line_up(page)
        buttons_have_contrast(page)
        no_horizontal_overflow(page)

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"layout-{width}-{lang}.png"), full_page=True)
        assert not page.errors, page.errors
        assert not log.foreign(), f"requests left 127.0.0.1: {log.foreign()}"
    finally:
        context.close()
