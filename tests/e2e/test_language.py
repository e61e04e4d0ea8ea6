"""Every string the reader sees is in the reader's language: the Chinese page walked through
boot, training, evaluation, a drawing, an error and the builder shows no Latin word outside
<code> but names and units; a language switch redraws every canvas and its text alternative
in every state, without evaluating again."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import alert_text, call, canvas_rgba, canvas_rgba_changed, draw_one

# Latin words the Chinese page may show outside <code>, each a name or a unit that Chinese
# text writes in Latin letters too: the product, the data set, the language and library the
# tagline names, the image format, the model family, the optimisers and activations the
# tutorial teaches by name, byte units, and TensorFlow.js (the library models are exported for).
ALLOWED = {"DigitLab", "MNIST", "Python", "NumPy", "PNG", "CNN", "Adam", "SGD", "ReLU", "softmax",
           "MB", "GB", "TensorFlow", "js"}
LATIN_WORD = re.compile(r"[A-Za-z]+")
CJK = re.compile(r"[\u3400-\u9fff]")
ALT_IDS = ["class-balance-alt", "chart-batch-alt", "chart-epoch-alt", "per-class-alt",
           "confusion-alt", "misclassified-alt", "predictions-alt", "pad-probs-alt",
           "filters-alt", "feature-maps-alt"]

# Everything a reader meets: visible text nodes (a closed <select> shows its chosen option),
# the screen-reader texts (alt texts are hidden from the eye on purpose), aria-labels, titles,
# alts and placeholders, and the document's title. Left out: <code> (Python is Python) and
# text marked as another language (the language switch names English in English).
READER_TEXT = """() => {
    const texts = [];
    const where = (el) => {
        const box = el.closest('[id], [data-testid]');
        return box ? (box.id || box.dataset.testid) : el.tagName;
    };
    const shown = (el) => el.checkVisibility({visibilityProperty: true});
    const foreign = (el) => el.closest('[lang]') !== document.documentElement;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        const text = node.textContent.trim();
        if (!text || parent.closest('code, script, style, noscript') || foreign(parent)) continue;
        const option = parent.closest('option');
        if (option && !option.selected) continue;
        const box = option ? option.closest('select') : parent;
        if (!shown(box) && !parent.closest('.alt-text')) continue;
        texts.push([where(parent), text]);
    }
    for (const el of document.querySelectorAll('[aria-label], [title], [alt], [placeholder]')) {
        if (!shown(el) || foreign(el)) continue;
        for (const name of ['aria-label', 'title', 'alt', 'placeholder']) {
            if (el.getAttribute(name)) texts.push([`${where(el)}[${name}]`, el.getAttribute(name)]);
        }
    }
    texts.push(['title', document.title]);
    return texts;
}"""


def latin_words(page: Page) -> list[tuple[str, str]]:
    """(where, text) of every text the reader meets with a Latin word not on the list."""
    return [(where, text) for where, text in page.evaluate(READER_TEXT)
            if set(LATIN_WORD.findall(text)) - ALLOWED]


def chinese(text: str) -> bool:
    return bool(CJK.search(text)) and not set(LATIN_WORD.findall(text)) - ALLOWED


def english(text: str) -> bool:
    return bool(LATIN_WORD.search(text)) and not CJK.search(text)


def alt_texts(page: Page) -> dict[str, str]:
    return page.evaluate("ids => Object.fromEntries(ids.map(id => "
                         "[id, document.getElementById(id).textContent]))", ALT_IDS)


def wait_alts(page: Page, language: str) -> None:
    """Until every canvas's alt text is in `language` ('zh' or 'en')."""
    test = ("t => /[\\u3400-\\u9fff]/.test(t)" if language == "zh"
            else "t => /[A-Za-z]/.test(t) && !/[\\u3400-\\u9fff]/.test(t)")
    page.wait_for_function(f"ids => ids.every(id => ({test})(document.getElementById(id)"
                           ".textContent))", arg=ALT_IDS, timeout=30_000)


def wait_ready_phase(page: Page) -> None:
    page.wait_for_function("() => window.digitlab.state().phase === 'ready'",
                           timeout=READY_TIMEOUT_MS)




def train_through_the_form(page: Page, train_size: str, epochs: str) -> None:
    page.get_by_test_id("train-size").fill(train_size)
    page.get_by_test_id("epochs").fill(epochs)
    page.get_by_test_id("train").click()


# Counts the calls the page makes into Python, so a test can tell a redraw from a new run.
COUNT_CALLS = """(() => {
    const post = Worker.prototype.postMessage;
    window.__calls = [];
    Worker.prototype.postMessage = function (message, transfer) {
        if (message && message.type === 'call') window.__calls.push(message.method);
        return post.call(this, message, transfer);
    };
})()"""


def boot(browser: Browser, url: str) -> tuple:
    context, page, log = open_page(browser)
    page.add_init_script(COUNT_CALLS)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(url)
    wait_ready(page)
    return context, page, log


@pytest.fixture()
def booted(browser: Browser, server_url: str, request) -> Iterator[Page]:
    context, page, log = boot(browser, f"{server_url}?lang={request.param}")
    yield page
    assert not log.foreign() and not page.errors, (log.foreign(), page.errors)
    context.close()


@pytest.mark.parametrize("booted", ["zh-CN"], indirect=True)
def test_the_chinese_page_shows_no_latin_word_outside_code_in_any_state(booted: Page,
                                                                      tmp_path) -> None:
    page = booted
    assert latin_words(page) == [], "after boot"
    assert page.get_by_text("未选择文件。").is_visible()

    train_through_the_form(page, "1000", "1")
    page.wait_for_function("() => window.digitlab.state().phase === 'ready' && document"
                           ".getElementById('chart-epoch-alt').textContent.includes('第 1 轮')")
    assert latin_words(page) == [], "after training"

    page.get_by_test_id("evaluate").click()
    page.wait_for_function("() => window.digitlab.state().phase === 'ready' && "
                           "document.getElementById('misclassified-alt').textContent !== ''")
    assert page.get_by_test_id("test-accuracy").inner_text().startswith("测试准确率")
    assert latin_words(page) == [], "after evaluation"

    draw_one(page)
    page.wait_for_function("() => !document.getElementById('pad-probs-alt').textContent"
                           ".includes(': 0%, 1: 0%, 2: 0%, 3: 0%')")
    weights = tmp_path / "weights.npz"
    weights.write_bytes(bytes(call(page, "window.digitlab.saveWeights().then(Array.from)")))
    page.get_by_label("加载权重").set_input_files(str(weights))  # the input, by its label
    page.wait_for_function("() => document.getElementById('load-weights-status')"
                           ".textContent === '已加载 weights.npz。'")
    assert page.locator("#load-weights-status code").inner_text() == "weights.npz"
    assert latin_words(page) == [], "with a drawing and a loaded file"

    page.get_by_test_id("batch-size").fill("0")
    page.get_by_test_id("train").click()
    page.get_by_test_id("alert").wait_for(state="visible")
    assert "批大小" in alert_text(page)
    assert page.locator("#alert-text code").all_inner_texts() == ["batchSize"]
    assert latin_words(page) == [], "with an error shown"
    page.get_by_test_id("alert-dismiss").click()
    page.get_by_test_id("batch-size").fill("512")

    page.get_by_test_id("model-select").select_option("custom")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=layer]').length > 0")
    page.locator("details.source[data-step=model] > summary").click()
    page.locator("details.source[data-step=model] .source-title code").first.wait_for()
    assert page.locator("#model .explain code").first.inner_text() == "TUTORIAL_SPEC"
    assert latin_words(page) == [], "with the builder and a source panel open"


@pytest.mark.parametrize("booted", ["en"], indirect=True)
def test_a_switch_redraws_every_canvas_and_alt_text_in_every_state(booted: Page) -> None:
    page = booted
    page.get_by_test_id("lang").select_option("zh-CN")  # after boot: the data step
    page.wait_for_function("() => /每个数字/.test(document.getElementById('class-balance-alt')"
                           ".textContent)", timeout=30_000)
    page.get_by_test_id("lang").select_option("en")

    train_through_the_form(page, "1000", "1")
    wait_ready_phase(page)
    page.get_by_test_id("evaluate").click()
    page.wait_for_function("() => document.getElementById('misclassified-alt').textContent")
    wait_ready_phase(page)
    draw_one(page)
    wait_alts(page, "en")
    evaluations = page.evaluate("window.__calls.filter(m => m === 'evaluate').length")
    before = canvas_rgba(page, "per-class")

    page.get_by_test_id("lang").select_option("zh-CN")
    wait_alts(page, "zh")
    assert [t for t in alt_texts(page).values() if not chinese(t)] == []
    after = canvas_rgba_changed(page, "per-class", before, timeout_s=10)
    assert not np.array_equal(before, after), "the per-class chart was not redrawn"
    assert page.evaluate("window.__calls.filter(m => m === 'evaluate').length") == evaluations
    assert page.get_by_test_id("test-accuracy").inner_text().startswith("测试准确率")
    assert latin_words(page) == [], "switched after an evaluation"

    # During a run: the live charts switch at once, the run goes on.
    page.evaluate("() => { window.__run = window.digitlab.train({trainSize: 50000, epochs: 3, "
                  "batchSize: 32, validationSize: 1000}); }")
    page.wait_for_function("() => window.digitlab.state().batch >= 3")
    page.get_by_test_id("lang").select_option("en")
    page.wait_for_function("() => document.getElementById('chart-batch-alt').textContent"
                           ".startsWith('Batch ')", timeout=30_000)
    assert page.evaluate("window.digitlab.state().phase") == "training"
    assert english(page.locator("#progress-text").inner_text())
    page.evaluate("window.digitlab.stop()")
    history = call(page, "window.__run")
    assert history["loss"] == [], "stopped within the first epoch"

    # A stopped run: its charts (no epoch finished) and the older evaluation, in Chinese.
    page.get_by_test_id("lang").select_option("zh-CN")
    wait_alts(page, "zh")
    texts = alt_texts(page)
    assert texts["chart-epoch-alt"] == "还没有完成任何一轮。", texts
    assert [t for t in texts.values() if not chinese(t)] == []
    assert latin_words(page) == [], "switched after a stopped run"
