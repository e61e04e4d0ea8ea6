"""The page by keyboard alone: Tab reaches every control in reading order, each with a visible
focus ring, and nothing traps the focus (in a code cell's editor Tab indents, and Escape then
Tab leaves it, as the page says); then a whole session with the keyboard only, from boot
to a prediction: a small run set up in the form, Train, Stop, Continue, Evaluate, a test digit
put on the pad, Save and Load."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from digitlab.i18n import text
from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import wait_phase

# The focused element: its test id (or id), whether it follows the previous one in the
# document, and whether a focus ring shows (outline or box-shadow; a file input's ring is on
# the label drawn in its place).
FOCUSED = """(previous) => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const ringOf = (node) => { const s = getComputedStyle(node);
        return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
            || s.boxShadow !== 'none'; };
    const shown = el.type === 'file' ? el.parentElement.querySelector('label') : el;
    const after = !window.lastFocused || Boolean(
        window.lastFocused.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    window.lastFocused = el;
    return {name: el.dataset.testid || el.id || el.tagName.toLowerCase(), after,
            ring: ringOf(shown), tag: el.tagName.toLowerCase()};
}"""
EXPECTED_ORDER = ["lang", "share", "code-data", "run-data", "reset-data", "model-select",
                  "code-model", "run-model", "reset-model", "train-size", "validation-size",
                  "epochs", "batch-size", "learning-rate", "optimizer", "workers", "train",
                  "code-train", "run-train", "reset-train", "evaluate", "code-evaluate",
                  "run-evaluate", "reset-evaluate", "clear", "upload-digit", "pick-index",
                  "pick-digit", "inspect-index", "save-weights", "load-weights", "code-try",
                  "run-try", "reset-try"]
STEPS = ("data", "model", "train", "evaluate", "try")
# The editors fill in once Python has sent the cells' code, a moment after ready.
CELLS_FILLED = ("() => [...document.querySelectorAll('.cell-editor')].length === 5 && "
                "[...document.querySelectorAll('.cell-editor')].every((host) => host.shadowRoot)")
IN_EDITOR = "() => Boolean(document.activeElement?.classList.contains('cell-editor'))"


def press_tab(page: Page, key: str = "Tab") -> None:
    """Tab to the next control; in a code cell's editor (where Tab indents) Escape first, the
    way the page tells a keyboard user to leave it."""
    if page.evaluate(IN_EDITOR):
        page.keyboard.press("Escape")
    page.keyboard.press(key)


def tab_through(page: Page) -> list[dict]:
    """Every stop of Tab from the top of the page until the focus leaves it."""
    page.evaluate("() => { document.activeElement?.blur(); window.lastFocused = null; "
                  "window.scrollTo(0, 0); }")
    stops = []
    for _ in range(200):
        press_tab(page)
        focused = page.evaluate(FOCUSED)
        if focused is None or (stops and not focused["after"]):
            break  # past the last control: the focus went back to the browser or the top
        stops.append(focused)
    return stops


def tab_to(page: Page, testid: str, limit: int = 200) -> None:
    """Press Tab until the element with this test id has the focus."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement?.dataset?.testid") == testid:
            return
        press_tab(page)
    raise AssertionError(f"Tab never reached {testid}")


def type_into(page: Page, testid: str, value: str) -> None:
    tab_to(page, testid)
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


def test_tab_reaches_every_control_in_reading_order_with_a_ring(browser: Browser,
                                                                   server_url: str) -> None:
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        page.wait_for_function(CELLS_FILLED)
        page.evaluate("window.digitlab.train({trainSize: 300, validationSize: 0, epochs: 1})")
        stops = tab_through(page)
        names = [stop["name"] for stop in stops]
        assert all(stop["after"] for stop in stops[1:]), names  # document order: reading order
        missing = [name for name in EXPECTED_ORDER if name not in names]
        assert not missing, (missing, names)
        positions = [names.index(name) for name in EXPECTED_ORDER]
        assert positions == sorted(positions), names
        assert [stop["name"] for stop in stops if not stop["ring"]] == []
        # The step's source panels are disclosures a keyboard opens.
        assert sum(stop["tag"] == "summary" for stop in stops) >= 5
        # No trap: Shift+Tab walks back out of the last control too.
        press_tab(page, "Shift+Tab")
        assert page.evaluate(FOCUSED.replace("window.lastFocused = el;", "")) is not None
    finally:
        context.close()


def test_a_keyboard_only_session_from_boot_to_a_prediction(browser: Browser,
                                                            server_url: str, tmp_path) -> None:
    context, page, _ = open_page(browser, accept_downloads=True)
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        page.evaluate("() => window.scrollTo(0, 0)")
        for testid, value in (("train-size", "1500"), ("validation-size", "200"),
                              ("epochs", "3"), ("batch-size", "25")):
            type_into(page, testid, value)
        tab_to(page, "train")
        page.keyboard.press("Enter")
        wait_phase(page, "training")
        page.wait_for_function("() => window.digitlab.state().batch > 0")
        tab_to(page, "stop")  # the next stop after Train while it trains
        page.keyboard.press("Enter")
        wait_phase(page, "ready")
        assert page.evaluate("window.digitlab.state().run.stopped")
        tab_to(page, "continue")  # the next stop: Stop is disabled again
        page.keyboard.press("Space")
        wait_phase(page, "training")
        wait_phase(page, "ready")
        assert page.evaluate("window.digitlab.state().run.finished")
        assert "After epoch 3" in page.get_by_test_id("train-result").inner_text()

        tab_to(page, "evaluate")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('test-accuracy').textContent")
        tab_to(page, "pick-index")
        page.keyboard.press("Control+A")
        page.keyboard.type("0")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('upload-status').textContent"
                               ".includes('Test digit 0')")
        page.wait_for_function(
            "() => document.getElementById('pad-probs-alt').textContent.includes('Most likely')")
        probabilities = page.evaluate("window.digitlab.predictPad()")
        assert probabilities is not None and max(range(10), key=probabilities.__getitem__) == 7

        tab_to(page, "save-weights")
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        saved = tmp_path / "weights.npz"
        download.value.save_as(saved)
        tab_to(page, "load-weights")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Space")
        chooser.value.set_files(saved)
        page.wait_for_function("() => document.getElementById('load-weights-status')"
                               ".textContent.startsWith('Loaded')")
        assert page.evaluate("window.digitlab.state().model.source") == "file"
    finally:
        context.close()


# The editor's accessible description: the hidden text its aria-describedby names, in its root.
DESCRIPTION = """(testid) => {
    const root = document.querySelector(`[data-testid="${testid}"]`).shadowRoot;
    const content = root.querySelector('.cm-content');
    return root.getElementById(content.getAttribute('aria-describedby')).textContent;
}"""


def test_escape_then_tab_leaves_every_editor_as_it_says(browser: Browser, server_url: str) -> None:
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    try:
        page.goto(f"{server_url}?lang=en")
        wait_ready(page)
        page.wait_for_function(CELLS_FILLED)
        for step in STEPS:
            editor = f"code-{step}"
            assert page.evaluate(DESCRIPTION, editor) == text("en", "cell.keys").replace("`", "")
            page.evaluate("(id) => document.querySelector(`[data-testid=${id}]`).shadowRoot"
                          ".querySelector('.cm-content').focus()", editor)
            before = page.evaluate("(id) => document.querySelector(`[data-testid=${id}]`)"
                                   ".shadowRoot.querySelector('.cm-content').textContent", editor)
            page.keyboard.press("Tab")  # indents: the focus stays in the editor
            assert page.evaluate("() => document.activeElement.dataset.testid") == editor
            assert page.evaluate("(id) => document.querySelector(`[data-testid=${id}]`)"
                                 ".shadowRoot.querySelector('.cm-content').textContent",
                                 editor) != before
            page.keyboard.press("Escape")
            page.keyboard.press("Tab")  # leaves, to the cell's Run button
            assert page.evaluate("() => document.activeElement.dataset.testid") == f"run-{step}"
            page.keyboard.press("Shift+Tab")  # back in
            assert page.evaluate("() => document.activeElement.dataset.testid") == editor
            page.keyboard.press("Escape")
            page.keyboard.press("Shift+Tab")  # and out the other way
            assert page.evaluate("() => document.activeElement.dataset.testid") != editor
        # The description follows the language.
        page.get_by_test_id("lang").select_option("zh-CN")
        page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
        chinese = text("zh-CN", "cell.keys").replace("`", "")
        assert page.evaluate(DESCRIPTION, "code-model") == chinese
    finally:
        context.close()
