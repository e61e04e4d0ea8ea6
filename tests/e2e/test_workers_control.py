"""The training form's Workers control: labelled in the reader's language, Auto by default,
numbers up to the machine's cores (at least 2, at most the schema's limit), and the value
chosen is what the Train button sends to `digitlab.train`. The parallel training
itself is tested elsewhere."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from digitlab import schema
from digitlab.i18n import STRINGS
from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready

# The options' values in the page's order.
OPTIONS = "() => [...document.querySelectorAll('#workers option')].map((o) => o.value)"
# The label the select is named by (its <label for>), and the shown option's text.
LABEL = "() => document.querySelector('label[for=workers]').textContent"
SHOWN = "() => document.getElementById('workers').selectedOptions[0].text"


@pytest.fixture(scope="module")
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    context, page, log = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(f"{server_url}/?lang=en")
    yield page
    assert not page.errors, page.errors
    assert not log.foreign(), log.foreign()
    context.close()


def test_the_control_is_labelled_auto_by_default_and_offers_the_cores(page: Page) -> None:
    select = page.get_by_test_id("workers")
    assert select.evaluate("el => el.tagName") == "SELECT"
    assert page.evaluate(LABEL) == STRINGS["en"]["train.workers"]
    named = page.get_by_label(STRINGS["en"]["train.workers"], exact=True)
    assert named.get_attribute("data-testid") == "workers"
    assert select.input_value() == "auto"
    assert page.evaluate(SHOWN) == STRINGS["en"]["train.workers.auto"]
    cores = page.evaluate("navigator.hardwareConcurrency || 1")
    most = min(schema.MAX_WORKERS, max(cores, 2))
    assert page.evaluate(OPTIONS) == ["auto", *(str(n) for n in range(1, most + 1))]


def test_a_big_machine_is_offered_the_schemas_limit(browser: Browser, server_url: str) -> None:
    context, page, _ = open_page(browser)
    try:
        page.add_init_script(
            "Object.defineProperty(navigator, 'hardwareConcurrency', {get: () => 64})")
        page.goto(f"{server_url}/?lang=en")
        page.get_by_test_id("workers").wait_for(state="attached")
        page.wait_for_function("() => document.querySelectorAll('#workers option').length > 1")
        most = schema.MAX_WORKERS
        assert page.evaluate(OPTIONS) == ["auto", *(str(n) for n in range(1, most + 1))]
    finally:
        context.close()


def test_the_label_and_auto_follow_the_language(page: Page) -> None:
    page.get_by_test_id("lang").select_option("zh-CN")
    try:
        assert page.evaluate(LABEL) == STRINGS["zh-CN"]["train.workers"]
        assert page.evaluate(SHOWN) == STRINGS["zh-CN"]["train.workers.auto"] == "自动"
    finally:
        page.get_by_test_id("lang").select_option("en")
    assert page.evaluate(LABEL) == STRINGS["en"]["train.workers"]


def test_train_sends_the_chosen_count(page: Page) -> None:
    wait_ready(page)
    # Record the buttons' calls instead of training: the count's effect is not this test's.
    page.evaluate("""() => { window.__configs = [];
        window.digitlab.train = (config) => { window.__configs.push(config);
            return Promise.resolve({loss: [], acc: [], val_loss: [], val_acc: [],
                                    batches: []}); }; }""")
    page.get_by_test_id("train").click()
    page.get_by_test_id("workers").select_option("2")
    page.get_by_test_id("train").click()
    page.get_by_test_id("workers").select_option("1")
    page.get_by_test_id("train").click()
    configs = page.evaluate("window.__configs")
    assert [config["workers"] for config in configs] == ["auto", 2, 1]  # a number, not "2"
    assert configs[1]["batchSize"] == schema.TRAINING["batchSize"]["default"]  # the rest as before
    # The count is this machine's choice: a shared link does not carry it.
    link = page.evaluate("window.digitlab.shareUrl()")
    packed = link.split("#config=")[1].split("&")[0]
    shared = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    assert shared["batchSize"] == configs[-1]["batchSize"] and "workers" not in shared
    page.get_by_test_id("workers").select_option("auto")


def idle_status(workers: dict) -> str:
    """What the status says between runs: the page's rules (js/controls.js), in English."""
    en = STRINGS["en"]
    parts = [en["train.workers.single"]] if not workers["parallel"] else [
        en[key].format(count=workers[field])
        for key, field in (("train.workers.ready", "ready"), ("train.workers.booting", "booting"))
        if workers[field] > 0]
    if workers["lost"] > 0:
        parts.append(en["train.workers.lost"].format(count=workers["lost"]))
    return en["train.workers.separator"].join(parts)


def test_the_status_says_what_the_workers_do_and_nothing_before_there_are_any(page: Page) -> None:
    wait_ready(page)
    status = page.get_by_test_id("workers-status")
    assert status.evaluate("el => el.tagName") == "OUTPUT"
    assert status.get_attribute("id") in page.get_by_test_id("workers").get_attribute(
        "aria-describedby").split()
    # Until the page reports its workers (state().workers), no words about them.
    workers = page.evaluate("window.digitlab.state().workers ?? null")
    assert status.text_content() == ("" if workers is None else idle_status(workers))
