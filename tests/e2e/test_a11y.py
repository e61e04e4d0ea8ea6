"""Accessibility audit of the real page with axe-core, in English and in Chinese, in every
state a reader meets: booting, ready, the model builder open, training, trained, evaluated
(with the confusion matrix's table open) and with the error banner shown. No violation of
impact serious or critical may remain; each state prints its summary line. Then the text
alternatives: every canvas is named and described with its numbers, the confusion matrix is a
real table, and a polite live region announces each epoch's end and the run's, not batches."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.a11y import audit
from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call, wait_phase

RUN = {"trainSize": 1500, "validationSize": 200, "epochs": 3, "batchSize": 50}
CANVASES = ["examples", "class-balance", "chart-batch", "chart-epoch", "per-class", "confusion",
            "misclassified", "predictions", "pad-probs", "filters", "feature-maps"]


def clean(page: Page, state: str) -> None:
    blocking = audit(page, state)
    assert not blocking, f"{state}: {blocking}"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_serious_violation_in_any_state(browser: Browser, server_url: str, lang: str) -> None:
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        held = []  # the labels' download, held back so the page stays in its booting state

        def hold(route) -> None:
            held.append(route)

        page.route("**/data/mnist_labels_uint8", hold)
        page.goto(f"{server_url}?lang={lang}")
        # (a boolean: a returned promise would be awaited, and it settles only after boot)
        page.wait_for_function("() => Boolean(document.querySelector('.boot-stages li.done'))")
        assert page.evaluate("window.digitlab.state().phase") == "booting"
        clean(page, "booting")
        page.wait_for_timeout(100)
        for route in held:
            route.continue_()
        page.unroute("**/data/mnist_labels_uint8", hold)
        wait_ready(page)
        assert page.evaluate("document.documentElement.lang") == lang
        clean(page, "ready")

        page.get_by_test_id("model-select").select_option("custom")
        page.get_by_test_id("builder-layers").locator("li").first.wait_for()
        clean(page, "builder open")
        page.get_by_test_id("model-select").select_option("tutorial")

        page.evaluate("(config) => { window.run = window.digitlab.train(config); }", RUN)
        page.wait_for_function("() => window.digitlab.state().batch > 0")
        clean(page, "training")
        page.evaluate("window.run")
        wait_phase(page, "ready")
        clean(page, "trained")

        call(page, "window.digitlab.evaluate({size: 1000})")
        page.get_by_test_id("confusion-table-toggle").click()
        page.get_by_test_id("confusion-table").locator("table").wait_for()
        clean(page, "evaluated")

        result = call(page, "window.digitlab.loadWeights(new Uint8Array([1, 2, 3]))")
        assert result["code"] == "BAD_WEIGHTS"
        page.get_by_test_id("alert").wait_for(state="visible")
        clean(page, "error banner")
    finally:
        context.close()


def described(page: Page, testid: str) -> str:
    """A canvas's description: the text of the elements its aria-describedby names."""
    return page.evaluate("""(id) => {
        const canvas = document.querySelector(`[data-testid='${id}']`);
        return (canvas.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)
            .map((ref) => document.getElementById(ref).textContent.trim()).join(' ');
    }""", testid)


def test_text_alternatives_carry_the_numbers(browser: Browser, server_url: str) -> None:
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        # Everything the live region says, as it says it.
        page.evaluate("""() => { window.spoken = [];
            new MutationObserver(() => window.spoken.push(
                document.getElementById('announcer').textContent))
              .observe(document.getElementById('announcer'),
                       {childList: true, characterData: true, subtree: true}); }""")
        history = call(page, "window.digitlab.train(config)".replace("config", str(RUN)
                                                                     .replace("'", '"')))
        assert len(history["loss"]) == 3
        spoken = page.evaluate("window.spoken")
        assert [s.split(":")[0] for s in spoken] == [
            "Epoch 1 of 3 done", "Epoch 2 of 3 done", "Epoch 3 of 3 done",
            "Training finished at epoch 3"], spoken
        assert page.get_by_test_id("announcer").get_attribute("aria-live") == "polite"
        assert page.get_by_test_id("progress-text").get_attribute("aria-live") is None

        evaluation = call(page, "window.digitlab.evaluate({size: 1000})")
        call(page, "window.digitlab.pickTestDigit(0)")
        page.wait_for_function(
            "() => document.getElementById('pad-probs-alt').textContent.includes('Most likely')")
        for testid in CANVASES:
            canvas = page.get_by_test_id(testid)
            assert canvas.get_attribute("role") == "img", testid
            assert canvas.get_attribute("aria-label"), testid
            assert any(ch.isdigit() for ch in described(page, testid)), testid
        last = f"accuracy {history['acc'][-1]:.3f}"
        assert last in described(page, "chart-epoch")
        assert f"0: {evaluation['perClass'][0]:.1%}" in described(page, "per-class")
        assert described(page, "predictions").count(",") >= 20  # top 3 of each digit shown
        assert "Most likely: 7" in described(page, "pad-probs")  # test digit 0 is a 7

        toggle = page.get_by_test_id("confusion-table-toggle")
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "true"
        table = page.get_by_test_id("confusion-table").locator("table")
        assert table.locator("caption").inner_text()
        cells = table.evaluate("""(t) => [...t.tBodies[0].rows].map((row) =>
            [...row.cells].slice(1, 11).map((c) => Number(c.textContent.replace(/,/g, ''))))""")
        assert cells == evaluation["confusion"]
        assert table.locator("th[scope=row]").count() == 10
        page.get_by_test_id("lang").select_option("zh-CN")
        assert "混淆矩阵" in table.locator("caption").inner_text()  # worded again, still open
        toggle.press("Enter")
        assert page.get_by_test_id("confusion-table").is_hidden()
    finally:
        context.close()
