"""The page tells the truth about its state: nothing to evaluate before a model exists, Stop
then Continue resumes the same run, the final figures as text, loaded weights named, and a
share link's model replaces the saved one only when the reader says so.

The tests share one browser context, in order: its IndexedDB holds the model the earlier tests
trained when the last one opens a share link."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call, canvas_rgba, wait_phase

# 4000 images in batches of 50: 80 batches an epoch, so an epoch lasts long enough (about half a
# second) for a Stop pressed once the page shows its third batch to land inside it: the page
# hears of batches at most 10 times a second.
RUN = {"train-size": "4000", "validation-size": "200", "epochs": "3", "batch-size": "50"}
BATCHES = 80
SAVED_MODEL = """() => new Promise((resolve) => {
    const open = indexedDB.open('digitlab', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('models');
    open.onsuccess = () => {
        const get = open.result.transaction('models').objectStore('models')
            .get('digitlab:last-model');
        get.onsuccess = () => { resolve(get.result ? get.result.length : 0); open.result.close(); };
    };
})"""


@pytest.fixture(scope="module")
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    context, page, log = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(f"{server_url}?lang=en")
    wait_ready(page)
    page.server_url = server_url
    yield page
    assert not log.foreign() and not page.errors, (log.foreign(), page.errors)
    context.close()


def state(page: Page) -> dict:
    return page.evaluate("window.digitlab.state()")


def text(page: Page, testid: str) -> str:
    return page.get_by_test_id(testid).inner_text()


def draw_stroke(page: Page) -> None:
    box = page.get_by_test_id("pad").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=10)
    page.mouse.up()


def test_before_a_model_evaluate_and_save_are_disabled_and_the_pad_says_why(page: Page) -> None:
    assert state(page)["model"] is None and state(page)["run"] is None
    for testid in ("evaluate", "save-weights", "continue"):
        assert page.get_by_test_id(testid).is_disabled(), testid
    assert page.get_by_test_id("train").is_enabled()
    assert text(page, "model-status") == "Not trained yet: Train builds it."
    page.get_by_test_id("pad").scroll_into_view_if_needed()
    draw_stroke(page)
    hint = page.locator("#pad-hint")
    assert hint.is_visible() and "Train a model first" in hint.inner_text()
    assert call(page, "window.digitlab.predictPad()") is None
    page.wait_for_function("() => document.getElementById('pad-probs-alt').textContent"
                           ".startsWith('Train a model first')", timeout=10_000)
    page.get_by_test_id("clear").click()


def test_stop_then_continue_resumes_the_run_in_the_page(page: Page) -> None:
    for testid, value in RUN.items():
        page.get_by_test_id(testid).fill(value)
    # The button's train() call, so the test can read the history it resolves with.
    page.evaluate("""() => { const train = window.digitlab.train;
        window.digitlab.train = (config) => (window.__run = train(config)); }""")
    page.get_by_test_id("train").click()
    page.wait_for_function("() => { const s = window.digitlab.state(); "
                           "return s.phase === 'training' && s.epoch === 2 && s.batch >= 3; }",
                           timeout=120_000)
    page.get_by_test_id("stop").click()
    wait_phase(page, "ready")
    first = call(page, "window.__run")
    run = state(page)["run"]
    assert run["stopped"] and not run["finished"]
    assert (run["epoch"], run["epochs"], run["completed"]) == (2, 3, 1)
    assert text(page, "progress-text") == "Stopped at epoch 2 of 3 - Continue resumes."
    assert len(first["loss"]) == 1 and len(first["batches"]) == BATCHES + run["batch"]
    assert page.get_by_test_id("continue").is_enabled()
    # The first model of the page was trained from the selection: the selection is in use.
    assert "In use: Tutorial CNN" in text(page, "model-status")
    page.wait_for_function("() => document.querySelector('[data-testid=model-other]').hidden",
                           timeout=10_000)

    page.get_by_test_id("continue").click()
    page.wait_for_function("() => window.digitlab.state().phase === 'training'", timeout=10_000)
    # The batch chart's text names its last batch: the first one after Continue numbers on.
    page.wait_for_function("""n => {
        const m = /^Batch (\\d+)/.exec(document.getElementById('chart-batch-alt').textContent);
        return m && Number(m[1]) !== n; }""", arg=len(first["batches"]), timeout=60_000)
    alt = page.locator("#chart-batch-alt").text_content()
    assert int(re.match(r"Batch (\d+)", alt)[1]) > len(first["batches"]), \
        "the batch chart numbers on, it was not cleared"
    assert state(page)["epoch"] >= 2, "epochs number on"
    wait_phase(page, "ready")
    history = call(page, "window.__run")
    assert len(history["loss"]) == 3, "one entry per epoch of the whole run"
    assert len(history["batches"]) == 3 * BATCHES
    assert history["batches"][: len(first["batches"])] == first["batches"]
    run = state(page)["run"]
    assert run["finished"] and not run["stopped"] and run["epoch"] == 3
    assert text(page, "progress-text").startswith("Finished all 3 epochs.")
    assert canvas_rgba(page, "chart-epoch")[..., :3].std() > 10

    # The final figures, as text.
    percent = f"{100 * history['acc'][-1]:.1f}%"
    validation = f"{100 * history['val_acc'][-1]:.1f}%"
    assert text(page, "train-result") == (f"After epoch 3: training accuracy {percent}, "
                                          f"validation accuracy {validation}.")
    model = state(page)["model"]
    assert model == {"name": "tutorial", "params": 5994, "source": "trained", "trained": True}
    for testid in ("evaluate", "save-weights", "continue"):
        assert page.get_by_test_id(testid).is_enabled(), testid
    assert text(page, "model-status") == \
        "In use: Tutorial CNN (the codelab's), 5,994 parameters, trained here."


def test_loaded_weights_are_named_and_counted(page: Page, tmp_path) -> None:
    saved = bytes(call(page, "window.digitlab.saveWeights().then(b => Array.from(b))"))
    path = tmp_path / "weights.npz"
    path.write_bytes(saved)
    page.get_by_test_id("load-weights").set_input_files(str(path))
    status = page.get_by_test_id("weights-status")
    status.wait_for(state="visible", timeout=10_000)
    assert status.inner_text() == "Loaded Tutorial CNN (the codelab's) with 5,994 parameters."
    assert state(page)["model"]["source"] == "file" and state(page)["run"] is None
    assert "loaded from a weights file" in text(page, "model-status")
    assert text(page, "train-result") == "" and text(page, "progress-text") == ""
    page.wait_for_function(f"async () => (await ({SAVED_MODEL})()) === {len(saved)}",
                           timeout=10_000)


def link_to(page: Page, config: dict) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(config).encode()).decode().rstrip("=")
    return f"{page.server_url}?lang=en#config={encoded}"


def open_link(page: Page, url: str) -> None:
    page.goto("about:blank")
    page.goto(url)
    wait_ready(page)
    page.get_by_test_id("link-choice").wait_for(state="visible", timeout=20_000)


def test_a_link_replaces_the_saved_model_only_if_the_reader_says_so(page: Page) -> None:
    link = link_to(page, {"lang": "en", "model": "strong"})
    open_link(page, link)
    assert "This link sets up the Strong CNN" in text(page, "link-choice")
    assert page.evaluate("document.activeElement.id") == "link-use"
    model = state(page)["model"]
    assert (model["name"], model["source"]) == ("tutorial", "stored")
    assert page.locator("#summary-total").inner_text() == "5,994", "the model in use"
    assert page.get_by_test_id("model-other").is_visible(), "the select shows an untrained model"

    page.keyboard.press("Tab")  # to "Keep my saved model"
    assert page.evaluate("document.activeElement.id") == "link-keep"
    page.keyboard.press("Enter")
    assert page.get_by_test_id("link-choice").is_hidden()
    assert page.get_by_test_id("model-select").input_value() == "tutorial"
    assert state(page)["model"]["source"] == "stored"
    page.wait_for_function("() => document.querySelector('[data-testid=model-other]').hidden")
    assert "Restored the model saved in this browser" in text(page, "weights-status")

    open_link(page, link)
    page.keyboard.press("Enter")  # "Use the link's model" has the focus
    page.wait_for_function("() => window.digitlab.state().model.source === 'link'",
                           timeout=10_000)
    model = state(page)["model"]
    assert (model["name"], model["params"], model["trained"]) == ("strong", 69530, False)
    page.wait_for_function("() => document.getElementById('summary-total').textContent"
                           " === '69,530'", timeout=10_000)
    assert "from the shared link, not trained yet" in text(page, "model-status")
    assert page.get_by_test_id("link-choice").is_hidden()
    # The state (the model in use) and the select's summary arrive as two answers: wait for both.
    page.wait_for_function("() => document.querySelector('[data-testid=model-other]').hidden")
    page.wait_for_function(f"async () => (await ({SAVED_MODEL})()) === 0", timeout=10_000)
