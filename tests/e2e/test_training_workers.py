"""Data-parallel training in the page: two Pyodide workers share every batch (nn/parallel.py).

One page for the module: the second worker boots once, at the first two-worker run, and is
reused. Exact equality is asserted only where the computation is the same: the same seed and
worker count (the same shards, the same kernels, the same fixed-order sum), and the replicas
against the lead (they apply the one reduced step). One worker against two differs in the
order float32 sums are taken, so those compare within a bound (see test_two_workers_...).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import READY_TIMEOUT_MS, ROOT, open_page, wait_ready
from pages import call
from playwright.sync_api import Browser, Page

from tests.e2e.static_site import StaticSite

CODELAB = {"model": "tutorial", "trainSize": 5500, "validationSize": 1000, "epochs": 10,
           "batchSize": 512, "learningRate": 0.001, "seed": 0}
SMALL = {**CODELAB, "trainSize": 2048, "validationSize": 256, "epochs": 2, "batchSize": 256,
         "seed": 7}
# Long enough to be stopped or lost mid-run: 40 batches of 128.
LONG = {**CODELAB, "trainSize": 5120, "validationSize": 0, "epochs": 1, "batchSize": 128,
        "seed": 11}


@pytest.fixture(scope="module")
def lab(browser: Browser, server_url: str) -> Iterator[Page]:
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(server_url)
    wait_ready(page)
    yield page
    assert not page.errors, page.errors
    context.close()


def train(page: Page, config: dict) -> dict:
    return call(page, "window.digitlab.train(arg)", config)


def checksums(page: Page) -> list[str]:
    return [replica["checksum"] for replica in call(page, "window.digitlab.replicas()")]


def start_training(page: Page, config: dict, batches: int) -> None:
    """Start a run in the background (window.__run) and wait until `batches` are done."""
    page.evaluate("config => { window.__run = window.digitlab.train(config)"
                  ".catch(e => ({error: String(e.message), code: e.code ?? null})); }", config)
    page.wait_for_function(f"() => window.digitlab.state().batch >= {batches}")


def test_the_state_says_how_many_workers_a_run_uses(lab: Page) -> None:
    workers = lab.evaluate("window.digitlab.state().workers")
    assert workers["parallel"] is True  # Chromium has JSPI: Python can wait inside a batch
    assert workers["cores"] >= 1 and workers["requested"] == "auto"
    assert "error" not in train(lab, {**SMALL, "epochs": 1, "workers": 2})
    workers = lab.evaluate("window.digitlab.state().workers")
    assert (workers["requested"], workers["active"], workers["ready"]) == (2, 2, 2)
    assert lab.get_by_test_id("workers-status").inner_text() != ""


def test_replicas_stay_identical_and_reruns_are_bit_identical(lab: Page) -> None:
    first = train(lab, {**SMALL, "workers": 2})
    after_first = checksums(lab)
    assert len(after_first) == 2 and after_first[0] == after_first[1], after_first
    again = train(lab, {**SMALL, "workers": 2})
    assert checksums(lab) == after_first
    assert again == first  # every batch's loss and accuracy, every epoch's figures


def test_two_workers_match_one_on_the_codelab_run(lab: Page) -> None:
    """The same batches; only the float32 summation order differs, so the curves agree to
    rounding, not bit for bit. The first batch's loss (a forward pass on the same weights, the
    mean summed in two halves) agrees to a few float32 ulps. After that the differences
    compound through the Adam steps: measured here (Chromium, the plain SIMD kernels) the
    worst of the 110 batch losses differed by 2.9e-4 relative; the bound allows 1e-3 for other
    CPUs. A mistake in the shards' scaling or sum would be off by whole factors."""
    one = train(lab, {**CODELAB, "workers": 1})
    accuracy_one = call(lab, "window.digitlab.evaluate({size: 10000})")["accuracy"]
    two = train(lab, {**CODELAB, "workers": 2})
    accuracy_two = call(lab, "window.digitlab.evaluate({size: 10000})")["accuracy"]
    assert len(one["batches"]) == len(two["batches"]) == 110
    differences = [abs(a["loss"] - b["loss"]) / abs(a["loss"])
                   for a, b in zip(one["batches"], two["batches"], strict=True)]
    print(f"\nN=1 vs N=2: relative batch-loss difference {differences[0]:.1e} at the first "
          f"batch, {max(differences):.2e} at worst; test accuracy {accuracy_one:.4f} vs "
          f"{accuracy_two:.4f}")
    assert differences[0] < 1e-6
    assert max(differences) < 1e-3
    assert abs(accuracy_one - accuracy_two) <= 0.003  # the 0.3 points


def test_stop_with_two_workers_ends_within_a_batch(lab: Page) -> None:
    start_training(lab, {**LONG, "workers": 2}, batches=3)
    lab.evaluate("window.digitlab.stop()")
    history = lab.evaluate("window.__run")
    stopped_at = lab.evaluate("window.digitlab.state().run")
    assert stopped_at["stopped"] and 3 <= stopped_at["batch"] < 40
    assert len(history["batches"]) == stopped_at["batch"]
    # The replica took the run's last step too: it holds the lead's weights.
    replicas = checksums(lab)
    assert len(replicas) == 2 and replicas[0] == replicas[1]


def test_a_lost_worker_ends_the_run_and_keeps_the_last_completed_batch(lab: Page) -> None:
    """A worker killed mid-run (as a crash would end it): the run stops with WORKER_LOST, and
    the lead keeps exactly the weights of the last completed batch. Continue then trains on (a
    new second worker boots) and must end bit for bit where an uninterrupted run ends."""
    uninterrupted = train(lab, {**LONG, "workers": 2})
    expected = checksums(lab)[0]
    start_training(lab, {**LONG, "workers": 2}, batches=5)
    lab.evaluate("window.digitlab.killWorker(2)")
    lost = lab.evaluate("window.__run")
    assert lost["code"] == "WORKER_LOST", lost
    assert "worker 2 of 2" in lost["error"] and "kept" in lost["error"]
    state = lab.evaluate("window.digitlab.state()")
    assert state["phase"] == "ready" and state["run"]["stopped"]
    assert state["workers"]["lost"] >= 1
    assert len(checksums(lab)) == 1  # the lost worker is gone; the lab still evaluates
    assert call(lab, "window.digitlab.evaluate({size: 100})")["accuracy"] > 0
    resumed = train(lab, {"continue": True, "workers": 2})
    assert resumed["batches"] == uninterrupted["batches"]
    assert checksums(lab) == [expected, expected]


def test_without_isolation_the_batches_go_as_messages_and_train_the_same_run(
        lab: Page, browser: Browser) -> None:
    """The lab's page is cross-origin isolated (build.py's headers): its batches cross through
    shared memory. A page that is not (a plain static server, no service worker to add the
    headers) has no SharedArrayBuffer, and they cross as messages. Only the transport
    differs: the same run, bit for bit."""
    shared = train(lab, {**SMALL, "workers": 2})
    assert lab.evaluate("window.digitlab.state().workers.exchange") == "shared"
    site = StaticSite(ROOT / "site", prefix="/digitlab/")
    context, page, _ = open_page(browser)
    try:
        page.set_default_timeout(READY_TIMEOUT_MS)
        page.goto(site.url)
        wait_ready(page)
        assert page.evaluate("crossOriginIsolated") is False
        messages = train(page, {**SMALL, "workers": 2})
        workers = page.evaluate("window.digitlab.state().workers")
        assert (workers["active"], workers["exchange"]) == (2, "messages")
        assert messages == shared
        assert checksums(page) == checksums(lab)
        assert page.errors == []
    finally:
        context.close()
        site.stop()
