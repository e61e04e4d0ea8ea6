"""The code cells in the real page: typed into with the keyboard and run with Ctrl-Enter; the
model cell's get_model() becomes the model in use and trains; errors name their line; Stop
ends `while True: pass` both with Pyodide's interrupt buffer (the page is cross-origin
isolated) and by restarting the worker (served without COOP/COEP), and the lab predicts
after either; a share link with code opens with the code unrun under a notice; Reset; edits
kept across a reload; BUSY.

Most tests share one page, in order. Stop's recovery times are printed (run with -s to see
them); nothing asserts a time.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page

import build
from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call, wait_phase

ZEROS = "new Array(784).fill(0.2)"


@pytest.fixture(scope="module")
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.add_init_script("document.addEventListener('securitypolicyviolation', (e) => "
                         "console.error(`CSP ${e.violatedDirective} ${e.sourceFile}:${e.lineNumber}"
                         ":${e.columnNumber} ${e.sample}`), true)")
    page.on("console", lambda m: page.errors.append(m.text) if m.text.startswith("CSP ")
            else None)
    page.goto(f"{server_url}?lang=en")
    wait_ready(page)
    editor(page, "model").wait_for()
    yield page
    assert not page.errors, page.errors  # no CSP violation, no uncaught error
    context.close()


def editor(page: Page, step: str):
    return page.locator(f"[data-testid=code-{step}] .cm-content")


def output(page: Page, step: str) -> str:
    return page.get_by_test_id(f"output-{step}").text_content()


def status(page: Page, step: str) -> str:
    return page.locator(f".cell[data-step={step}] .cell-status").inner_text()


PASTE = """(content, text) => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    content.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true,
                                                       cancelable: true}));
}"""


def replace_code(page: Page, step: str, code: str) -> None:
    """Select all with the keyboard and paste `code` over it, as a reader pasting would
    (typed newlines would be re-indented, and Playwright's insert_text goes through the
    browser's own contenteditable editing, which writes style attributes the CSP refuses)."""
    editor(page, step).click()
    page.keyboard.press("Control+A")
    editor(page, step).evaluate(PASTE, code)
    page.wait_for_function("([step, code]) => window.digitlab.cells()[step] === code",
                           arg=[step, code])


def link_changes(page: Page, edit: Callable[[], None]) -> None:
    """Make `edit` and wait until the address bar holds the link it leads to."""
    before = page.evaluate("location.href")
    edit()
    page.wait_for_function("(before) => location.href !== before", arg=before)


def run_with_keyboard(page: Page, step: str) -> None:
    editor(page, step).click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"() => !document.querySelector('.cell[data-step={step}] .cell-status')"
                           ".textContent.startsWith('Running')")
    wait_phase(page, "ready")


def test_typing_and_ctrl_enter_run_the_cell_and_its_output_streams_as_text(page: Page) -> None:
    editor(page, "data").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint('<b>six</b> times seven is', 6 * 7)\n")
    assert "6 * 7" in page.evaluate("window.digitlab.cells().data")
    run_with_keyboard(page, "data")
    assert "<b>six</b> times seven is 42" in output(page, "data")  # text, not markup
    assert page.locator("[data-testid=output-data] b").count() == 0
    assert status(page, "data") == "Done."
    # The documented way out of the editor for keyboard users: Escape, then Tab.
    editor(page, "data").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "run-data"


def test_a_syntax_error_names_its_line(page: Page) -> None:
    result = call(page, "window.digitlab.runCode({step: 'data', "
                        "code: 'x = 1\\nif x\\n    pass\\n'})")
    assert result["ok"] is False and result["error"]["type"] == "SyntaxError"
    assert result["error"]["line"] == 2
    assert status(page, "data").startswith("SyntaxError on line 2")


def test_a_runtime_error_names_its_line_and_type(page: Page) -> None:
    replace_code(page, "evaluate", "a = 1\nb = a + undefined_name\n")
    run_with_keyboard(page, "evaluate")
    assert status(page, "evaluate").startswith("NameError on line 2:")
    assert "undefined_name" in page.locator(".cell[data-step=evaluate] .cell-hint").inner_text()
    result = call(page, "window.digitlab.runCode({step: 'evaluate', "
                        "code: window.digitlab.cells().evaluate})")
    assert result["error"]["line"] == 2 and "undefined_name" in result["error"]["message"]
    assert "undefined_name" in result["error"]["hint"]


def test_16_first_layer_filters_in_get_model_give_9402_parameters_and_train(page: Page) -> None:
    before = page.evaluate("window.digitlab.state().model")
    original = page.evaluate("window.digitlab.cells().model")
    edited, count = re.subn(r"(filters['\"\]]*\s*[=:]\s*)8\b", r"\g<1>16", original, count=1)
    assert count == 1, original
    replace_code(page, "model", edited)
    run_with_keyboard(page, "model")
    assert status(page, "model") == "Done."
    page.wait_for_function("() => document.getElementById('summary-total').textContent === '9,402'")
    assert page.get_by_test_id("model-select").input_value() == "code"
    model = page.evaluate("window.digitlab.state().model")
    assert (model["source"], model["params"]) == ("code", 9402), (before, model)
    history = call(page, "window.digitlab.train({model: 'code', epochs: 1, trainSize: 500, "
                         "validationSize: 100, batchSize: 100})")
    assert len(history["loss"]) == 1, history
    assert page.evaluate("window.digitlab.state().model.params") == 9402


def test_a_failing_get_model_leaves_the_model_in_use(page: Page) -> None:
    before = page.evaluate("window.digitlab.state().model")
    result = call(page, "window.digitlab.runCode({step: 'model', code: "
                        "'def get_model():\\n    raise ValueError(\"no\")\\n'})")
    assert result["ok"] is False, result
    assert page.evaluate("window.digitlab.state().model") == before


def long_training(page: Page) -> str:
    """The train cell, made to run long: 30 epochs of 1024 images in batches of 64."""
    code = page.evaluate("window.digitlab.cells().train")
    for setting, value in [("EPOCHS", 30), ("TRAIN_DATA_SIZE", 1024), ("BATCH_SIZE", 64)]:
        code, count = re.subn(rf"{setting} = \d+", f"{setting} = {value}", code)
        assert count == 1, (setting, code)
    return code


def stop_training_cell(page: Page) -> dict:
    """Run the model cell, then a long train cell: its chart and output change while it
    runs (the worker pauses between batches); Stop ends it: by KeyboardInterrupt where the
    page is isolated, else by ending its fit after the batch (Keras's stop_training), when
    the cell goes on to its end. The stop's answer."""
    assert call(page, "window.digitlab.runCode({step: 'model', "
                      "code: window.digitlab.cells().model})")["ok"]
    page.evaluate("window.chartBefore = document.getElementById('chart-batch').toDataURL()")
    page.evaluate("code => void (window.training = window.digitlab.runCode({step: 'train', code}))",
                  long_training(page))
    page.wait_for_function("() => window.digitlab.state().phase === 'running' && "
                           "document.getElementById('chart-batch').toDataURL() !== "
                           "window.chartBefore && document.querySelector("
                           "'[data-testid=output-train]').textContent.includes('Epoch 1/30')")
    stop = page.evaluate("window.digitlab.stopCode()")
    result = page.evaluate("window.training")
    if page.evaluate("crossOriginIsolated"):
        assert result["ok"] is False and result["error"]["type"] == "KeyboardInterrupt", result
    else:
        assert result["ok"] is True and "Epoch 30/30" not in result["stdout"], result
    assert page.evaluate("window.digitlab.state().model.trained") is True  # its batches stay
    return stop


def stop_stuck_cell(page: Page) -> dict:
    """Run `while True: pass`, check BUSY for a second run and for training, press Stop;
    {result, stop} with the times it took."""
    page.evaluate("void (window.stuck = window.digitlab.runCode({step: 'try', "
                  "code: 'n = 0\\nwhile True:\\n    n += 1\\n'}))")
    wait_phase(page, "running")
    busy = call(page, "window.digitlab.runCode({step: 'data', code: 'print(1)'})")
    assert busy["code"] == "BUSY" and "cell is running" in busy["error"], busy
    assert call(page, "window.digitlab.train({epochs: 1})")["code"] == "BUSY"
    page.get_by_test_id("run-data").click()  # the button says it too, in the cell
    page.wait_for_function("() => document.querySelector('.cell[data-step=data] .cell-status')"
                           ".textContent.includes('cell is running')")
    page.wait_for_timeout(300)
    return page.evaluate("""async () => {
        const start = performance.now();
        const stopping = window.digitlab.stopCode();
        const result = await window.stuck;
        const stoppedMs = performance.now() - start;
        const stop = await stopping;
        await window.digitlab.ready;
        return {result, stop, stoppedMs, usableMs: performance.now() - start};
    }""")


def test_a_training_cell_draws_live_and_stops(page: Page) -> None:
    assert stop_training_cell(page)["restarted"] is False


def test_stop_interrupts_a_stuck_cell_and_the_lab_still_predicts(page: Page) -> None:
    assert page.evaluate("crossOriginIsolated")
    before = page.evaluate(f"window.digitlab.predict({ZEROS})")
    stopped = stop_stuck_cell(page)
    print(f"\ninterrupt buffer: cell stopped in {stopped['stoppedMs']:.0f} ms, lab usable in "
          f"{stopped['usableMs']:.0f} ms")
    assert stopped["stop"]["restarted"] is False
    assert stopped["result"]["error"]["type"] == "KeyboardInterrupt"
    assert page.evaluate("window.digitlab.state().phase") == "ready"
    assert page.evaluate(f"window.digitlab.predict({ZEROS})") == before
    # The namespace lives on: the next cell runs in the same session.
    assert call(page, "window.digitlab.runCode({step: 'data', code: 'print(40 + 2)'})")["ok"]


def test_reset_restores_the_original_and_edits_survive_a_reload(page: Page) -> None:
    original = page.evaluate("window.digitlab.cells().train")
    # A reload brings back the address bar's cells, which the page rewrites only after
    # compressing them (asynchronously): each edit waits for its link before the next.
    link_changes(page, lambda: replace_code(page, "data", "print(6 * 7)\n"))
    link_changes(page, lambda: replace_code(page, "train", "# mine\nprint('kept')\n"))
    link_changes(page, lambda: page.get_by_test_id("reset-data").click())
    assert "6 * 7" not in page.evaluate("window.digitlab.cells().data")
    page.reload()
    wait_ready(page)
    editor(page, "train").wait_for()
    page.wait_for_function("() => window.digitlab.cells().train !== undefined")
    assert page.evaluate("window.digitlab.cells().train") == "# mine\nprint('kept')\n"
    assert "6 * 7" not in page.evaluate("window.digitlab.cells().data")
    page.get_by_test_id("reset-train").click()
    assert page.evaluate("window.digitlab.cells().train") == original
    assert page.evaluate("localStorage.getItem('digitlab.cell.train')") is None
    assert output(page, "train") == ""  # nothing ran at load


def test_a_shared_link_with_code_opens_unrun_with_a_notice(page: Page, browser: Browser) -> None:
    replace_code(page, "data", "print('from the link')\n")
    page.wait_for_function("() => location.hash.includes('&cells=')")
    link = page.evaluate("window.digitlab.shareUrl()")
    assert "&cells=" in link
    page.get_by_test_id("reset-data").click()
    context, other, _ = open_page(browser)
    other.set_default_timeout(READY_TIMEOUT_MS)
    try:
        other.goto(link)
        wait_ready(other)
        editor(other, "data").wait_for()
        other.wait_for_function("() => window.digitlab.cells().data === "
                                "\"print('from the link')\\n\"")
        notice = other.get_by_test_id("code-notice")
        assert notice.is_visible() and notice.get_attribute("role") == "status"
        assert "has run" in notice.inner_text() or "None of it has run" in notice.inner_text()
        other.wait_for_timeout(500)
        assert output(other, "data") == "" and not other.get_by_test_id("output-data").is_visible()
        assert other.evaluate("window.digitlab.state().phase") == "ready"
        run_with_keyboard(other, "data")
        assert "from the link" in output(other, "data")
        assert not notice.is_visible()  # the reader ran it on purpose
    finally:
        context.close()


class NotIsolatedHandler(build.SiteHandler):
    """The site with its CSP but without COOP/COEP: no SharedArrayBuffer, so Stop has to
    restart the worker."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", build.CSP)
        http.server.SimpleHTTPRequestHandler.end_headers(self)


@pytest.fixture(scope="module")
def not_isolated_url(server_url: str) -> Iterator[str]:
    del server_url  # built and served once by the session fixture; site/ is what we serve
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotIsolatedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_without_isolation_stop_restarts_the_worker_with_the_weights(
        browser: Browser, not_isolated_url: str) -> None:
    context, other, _ = open_page(browser)
    other.set_default_timeout(READY_TIMEOUT_MS)
    try:
        other.goto(f"{not_isolated_url}?lang=en")
        wait_ready(other)
        assert other.evaluate("crossOriginIsolated") is False
        # A cell inside a fit hears Stop between batches, without the interrupt buffer.
        editor(other, "train").wait_for()
        assert stop_training_cell(other)["restarted"] is False
        call(other, "window.digitlab.train({epochs: 1, trainSize: 300, validationSize: 0, "
                    "batchSize: 100})")
        before = other.evaluate(f"window.digitlab.predict({ZEROS})")
        started = time.monotonic()
        stopped = stop_stuck_cell(other)
        print(f"\nworker restart: cell stopped in {stopped['stoppedMs']:.0f} ms, lab usable "
              f"(booted, weights back) in {stopped['usableMs']:.0f} ms "
              f"({time.monotonic() - started:.1f} s with the test's own steps)")
        assert stopped["stop"]["restarted"] is True and stopped["result"]["restarted"] is True
        assert stopped["result"]["error"]["type"] == "KeyboardInterrupt"
        assert "restarted" in other.locator(".cell[data-step=try] .cell-status").inner_text()
        assert other.evaluate("window.digitlab.state().phase") == "ready"
        assert other.evaluate("window.digitlab.state().model.source") == "trained"
        assert other.evaluate(f"window.digitlab.predict({ZEROS})") == before
    finally:
        context.close()
