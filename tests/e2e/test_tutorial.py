"""The page as the tutorial: both languages everywhere, live Python source, the model builder
with its memory budget, and links that reproduce a set-up."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import ARTIFACTS, READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import alert_text, call, canvas_rgba, canvas_rgba_changed, wait_phase

# Words allowed on the Chinese page: units, proper names and the names the tutorial teaches.
ALLOWED_ENGLISH = {"NumPy", "Pyodide", "Pillow", "MNIST", "CNN", "Adam", "SGD", "ReLU", "softmax",
                   "DigitLab", "Python", "PNG", "JavaScript", "WebAssembly", "MB", "GB",
                   "TensorFlow"}  # the library a model can be exported for
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

# Every visible text node, except the language switch (it names both languages), the code
# panels (Python is Python) and code in prose (<code>: names, like the summary's layers).
VISIBLE_TEXT = """() => {
    const skip = '[data-testid="lang"], .source-body, code';
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        const text = node.textContent.trim();
        if (!text || parent.closest(skip) || parent.closest('noscript, script, style')) continue;
        const option = parent.closest('option');
        if (option && !option.selected) continue; // a closed select shows its chosen option only
        const box = (option ? option.parentElement : parent);
        if (!box.checkVisibility({visibilityProperty: true})) continue;
        texts.push(text);
    }
    return texts;
}"""


def boot(browser: Browser, url: str, width: int = 1280, **context_args) -> tuple:
    context, page, log = open_page(browser, viewport={"width": width, "height": 900},
                                   **context_args)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(url)
    wait_ready(page)
    return context, page, log


@pytest.fixture(scope="module")
def english(browser: Browser, server_url: str) -> Iterator[Page]:
    context, page, log = boot(browser, f"{server_url}?lang=en")
    yield page
    assert not log.foreign() and not page.errors, (log.foreign(), page.errors)
    context.close()


def open_builder(page: Page) -> None:
    page.get_by_test_id("model-select").select_option("custom")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=layer]').length > 0")


def wait_total(page: Page, total: str) -> None:
    page.wait_for_function("t => document.getElementById('summary-total').textContent === t",
                           arg=total, timeout=10_000)


def layer(page: Page, index: int):
    return page.get_by_test_id("layer").nth(index)


def builder_problems(page: Page) -> str:
    problems = page.get_by_test_id("builder-problems")
    problems.wait_for(state="visible", timeout=10_000)
    return problems.inner_text()


def reset_builder(page: Page) -> None:
    """Back to the tutorial's layers in the builder (its own count: once a model is trained,
    the summary table shows that one)."""
    page.get_by_test_id("builder-reset").click()
    page.wait_for_function("() => document.querySelector('[data-testid=builder-memory]')"
                           ".textContent.includes('(5,994 ')", timeout=10_000)


# ---------------------------------------------------------------- languages

def english_words(texts: list[str]) -> list[str]:
    words = {w for text in texts for w in re.findall(r"[A-Za-z]{3,}", text)}
    return sorted(words - ALLOWED_ENGLISH)


def test_the_chinese_page_shows_no_english(browser: Browser, server_url: str) -> None:
    context, page, log = boot(browser, f"{server_url}?lang=zh-CN")
    open_builder(page)  # the builder's labels and options count too
    page.locator("details.source[data-step=model] > summary").click()
    assert page.get_by_role("heading", level=2).first.inner_text() == "1. 加载数据"
    texts = page.evaluate(VISIBLE_TEXT)
    assert len(texts) > 40
    assert english_words(texts) == [], [t for t in texts if english_words([t])]
    # A refused model's banner is Chinese too (it names the layer in Chinese).
    error = call(page, "window.digitlab.train({model: [{type: 'dense', units: 3}]})")
    assert error["code"] == "BAD_CONFIG" and "第 1 层" in error["error"], error
    assert english_words([alert_text(page)]) == [], alert_text(page)
    assert not log.foreign() and not page.errors
    context.close()


def test_the_english_page_shows_no_chinese(english: Page) -> None:
    open_builder(english)
    english.locator("details.source[data-step=data] > summary").click()
    texts = english.evaluate(VISIBLE_TEXT)
    assert len(texts) > 40
    assert [t for t in texts if CJK.search(t)] == []
    assert english.get_by_test_id("lang").locator("option", has_text="简体中文").count() == 1
    english.get_by_test_id("model-select").select_option("tutorial")


def test_switching_language_needs_no_reload_and_redraws_canvases(
        browser: Browser, server_url: str) -> None:
    context, page, log = boot(browser, f"{server_url}?lang=en")
    page.evaluate("() => { window.__sameDocument = true; }")
    before = canvas_rgba(page, "class-balance")
    heading = page.locator("section#model h2")
    assert heading.inner_text() == "2. Define the model"
    page.get_by_test_id("lang").select_option("zh-CN")
    assert heading.inner_text() == "2. 定义模型结构"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.wait_for_function("() => document.getElementById('class-balance-alt')"
                           ".textContent.includes('每个数字')", timeout=20_000)
    # The worker's frame reaches the page's placeholder canvas a little after the alt text.
    after = canvas_rgba_changed(page, "class-balance", before, timeout_s=10)
    assert not np.array_equal(before, after), "the chart's title was not redrawn in Chinese"
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert page.evaluate("localStorage.getItem('digitlab.lang')") == "zh-CN"
    assert "lang=zh-CN" in page.url
    page.get_by_test_id("lang").select_option("en")
    assert heading.inner_text() == "2. Define the model"
    assert not log.foreign() and not page.errors
    context.close()


# ---------------------------------------------------------------- live source

def test_the_model_step_shows_the_python_the_page_loaded(browser: Browser,
                                                         server_url: str) -> None:
    marker = "# MARKER: served through the test's interception"
    context, page, log = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)

    def with_marker(route) -> None:
        source = route.fetch().text()
        anchor = "    layers = parse_spec(spec)\n"
        assert anchor in source, "build_model changed: update the test's anchor"
        route.fulfill(status=200, body=source.replace(anchor, f"    {marker}\n{anchor}"),
                      headers={"content-type": "text/x-python; charset=utf-8"})

    page.route("**/py/digitlab/nn/zoo.py*", with_marker)
    page.goto(server_url)
    wait_ready(page)
    panel = page.get_by_test_id("source-model")
    panel.locator("summary").click()
    code = panel.locator("pre").nth(1)  # TUTORIAL_SPEC, then build_model
    code.wait_for()
    assert "def build_model" in code.inner_text()
    assert marker in code.inner_text()
    # Highlighted: keywords and comments are spans, the text is unchanged.
    assert code.locator("span.tok-keyword", has_text="def").count() >= 1
    assert code.locator("span.tok-comment", has_text="MARKER").count() == 1
    for step, name in [("data", "train_set"), ("train", "train_steps"),
                       ("evaluate", "confusion_matrix")]:
        snippets = call(page, "window.digitlab.source(arg)", step)
        assert any(s["name"].endswith(name) and f"def {name}" in s["code"] for s in snippets)
    assert not log.foreign() and not page.errors
    context.close()


# ---------------------------------------------------------------- the model builder

def test_a_custom_model_built_in_the_form_trains_through_the_train_button(english: Page) -> None:
    open_builder(english)
    reset_builder(english)
    wait_total(english, "5,994")  # the builder starts from the tutorial's layers
    for _ in range(2):  # drop the second convolution and its pooling
        layer(english, 2).get_by_test_id("layer-remove").click()
    first = layer(english, 0)
    first.get_by_test_id("layer-filters").fill("4")
    first.get_by_test_id("layer-kernel").fill("3")
    # conv 4@3x3 (40) -> pool 13x13x4 -> flatten 676 -> dense 10 (6770)
    wait_total(english, "6,810")
    assert "MB" in english.get_by_test_id("builder-memory").inner_text()
    for testid, value in {"train-size": "500", "validation-size": "100", "epochs": "1",
                          "batch-size": "50", "learning-rate": "0.01"}.items():
        english.get_by_test_id(testid).fill(value)
    english.get_by_test_id("train").click()
    wait_phase(english, "training", 10_000)
    wait_phase(english, "ready", 120_000)
    assert not english.get_by_test_id("alert").is_visible(), alert_text(english)
    assert english.get_by_test_id("progress").evaluate("p => p.value") == 1
    trained = call(english, "window.digitlab.summary('current')")
    assert trained["total_params"] == 6810
    assert [row["type"] for row in trained["layers"]] == ["Conv2D", "MaxPooling2D", "Flatten",
                                                          "Dense"]
    # Ten Adam steps on 500 images: far from good, but clearly better than guessing (10%).
    assert call(english, "window.digitlab.evaluate({size: 500})")["accuracy"] > 0.3


def test_a_layer_shrinking_below_1x1_is_explained_and_refused(english: Page) -> None:
    open_builder(english)
    reset_builder(english)
    english.get_by_test_id("add-layer-type").select_option("conv2d")
    english.get_by_test_id("add-layer").click()  # lands above the output layer, after flatten
    assert "flatten" in builder_problems(english)
    layer(english, 5).get_by_test_id("layer-up").click()  # now a third conv, on 4x4 maps
    layer(english, 4).get_by_test_id("layer-kernel").fill("5")
    english.wait_for_function("() => document.querySelector('[data-testid=builder-problems]')"
                              ".textContent.includes('1x1')", timeout=10_000)
    problem = builder_problems(english)
    assert "layer 5" in problem and "4x4" in problem, problem
    assert "invalid" in layer(english, 4).get_attribute("class")
    assert english.locator("#summary-invalid").is_visible()
    english.get_by_test_id("train").click()
    english.get_by_test_id("alert").wait_for(state="visible", timeout=10_000)
    assert "1x1" in alert_text(english) and "layer 5" in alert_text(english)
    assert english.evaluate("window.digitlab.state().phase") == "ready"
    english.get_by_test_id("alert-dismiss").click()


def test_a_model_above_the_memory_budget_is_explained_and_refused(english: Page) -> None:
    open_builder(english)
    reset_builder(english)
    english.get_by_test_id("add-layer-type").select_option("dense")
    english.get_by_test_id("add-layer").click()
    layer(english, 5).get_by_test_id("layer-units").fill("1000000")
    english.wait_for_function("() => document.querySelector('[data-testid=builder-problems]')"
                              ".textContent.includes('budget')", timeout=10_000)
    problem = builder_problems(english)
    assert "layer 6" in problem and "GB" in problem, problem
    budget = english.evaluate("window.digitlab.budget()")
    assert 0 < budget["bytes"] <= 4 * 2**30 and budget["reachable"] >= budget["bytes"]
    english.get_by_test_id("train").click()
    english.get_by_test_id("alert").wait_for(state="visible", timeout=10_000)
    assert "budget" in alert_text(english)
    english.get_by_test_id("alert-dismiss").click()
    # The API refuses it the same way, and nothing was allocated for it.
    spec = english.evaluate("""() => [
        {type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu'}, {type: 'flatten'},
        {type: 'dense', units: 100000, activation: 'relu'},
        {type: 'dense', units: 10, activation: 'softmax'}]""")
    for expression in ("window.digitlab.train({model: arg, trainSize: 500})",
                       "window.digitlab.summary(arg)"):
        error = call(english, expression, spec)
        assert error["code"] == "BAD_CONFIG" and "budget" in error["error"], error
    english.get_by_test_id("alert-dismiss").click()
    english.get_by_test_id("model-select").select_option("tutorial")


# ---------------------------------------------------------------- sharing

def test_a_shared_link_restores_language_model_and_settings(english: Page, browser: Browser,
                                                            server_url: str) -> None:
    open_builder(english)
    reset_builder(english)
    layer(english, 2).get_by_test_id("layer-filters").fill("12")
    english.get_by_test_id("add-layer-type").select_option("dropout")
    english.get_by_test_id("add-layer").click()
    layer(english, 5).get_by_test_id("layer-rate").fill("0.3")
    for testid, value in {"epochs": "3", "learning-rate": "0.01", "batch-size": "64",
                          "train-size": "700"}.items():
        english.get_by_test_id(testid).fill(value)
    english.get_by_test_id("optimizer").select_option("sgd")
    english.get_by_test_id("lang").select_option("zh-CN")
    english.get_by_test_id("share").click()
    english.locator("#share-status").wait_for(state="visible")
    link = english.evaluate("window.digitlab.shareUrl()")
    assert "#config=" in link and "lang=zh-CN" in link
    assert english.url == link, "the address bar holds the set-up too"
    shown = english.get_by_test_id("share-link")
    assert not shown.is_visible() or shown.input_value() == link
    english.get_by_test_id("lang").select_option("en")

    context, page, log = boot(browser, link)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_test_id("lang").input_value() == "zh-CN"
    assert page.get_by_test_id("model-select").input_value() == "custom"
    assert page.get_by_test_id("builder").is_visible()
    for testid, value in {"epochs": "3", "learning-rate": "0.01", "batch-size": "64",
                          "train-size": "700", "optimizer": "sgd"}.items():
        assert page.get_by_test_id(testid).input_value() == value, testid
    assert page.get_by_test_id("layer").count() == 7
    assert layer(page, 2).get_by_test_id("layer-filters").input_value() == "12"
    assert layer(page, 5).get_by_test_id("layer-rate").input_value() == "0.3"
    # conv 8@5x5 208, conv 12@5x5 2412, dense 192*10+10 1930
    wait_total(page, "4,550")
    assert not log.foreign() and not page.errors
    context.close()


def test_a_mangled_link_falls_back_to_the_defaults(browser: Browser, server_url: str) -> None:
    context, page, _ = boot(browser, f"{server_url}?lang=en#config=not-json%%")
    assert page.get_by_test_id("model-select").input_value() == "tutorial"
    assert page.get_by_test_id("epochs").input_value() == "10"
    context.close()


# ---------------------------------------------------------------- screenshots

@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_in_both_languages(browser: Browser, server_url: str, lang: str,
                                       width: int) -> None:
    context, page, log = boot(browser, f"{server_url}?lang={lang}", width=width)
    open_builder(page)
    page.locator("details.source[data-step=model] > summary").click()
    page.locator("details.source[data-step=model] pre").first.wait_for()
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width + 1, f"the page scrolls sideways at {width}px: {page_width}"
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"tutorial-{lang}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    print(f"screenshot: {path}")
    assert not log.foreign() and not page.errors
    context.close()
