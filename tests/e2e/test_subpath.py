"""The GitHub Pages rehearsal: site/ served by a plain static server (no COOP/COEP, no CSP
header) under a sub-path, as a project site is (https://USER.github.io/REPO/). The first
visit reloads once through the service worker and is then cross-origin isolated; it boots and
trains; with the server gone and the browser offline, a reload boots and trains again."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from tests.e2e.conftest import READY_TIMEOUT_MS, ROOT, open_page
from tests.e2e.pages import call
from tests.e2e.static_site import StaticSite

ISOLATED = "() => crossOriginIsolated === true && typeof SharedArrayBuffer === 'function'"
SHORT_RUN = {"model": "tutorial", "epochs": 1, "trainSize": 500, "validationSize": 100,
             "batchSize": 100}


def count_loads(page: Page) -> list[str]:
    """The URLs the page's main frame loads, in order (a reload counts as one more)."""
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url)
            if frame == page.main_frame else None)
    return loads


def boot(page: Page) -> None:
    page.wait_for_function("() => window.digitlab && window.digitlab.ready",
                           timeout=READY_TIMEOUT_MS)
    page.evaluate("window.digitlab.ready")


def train_one_epoch(page: Page) -> None:
    history = call(page, "window.digitlab.train(arg)", SHORT_RUN)
    assert "error" not in history, history
    assert len(history["acc"]) == 1 and history["acc"][0] > 0.1


def test_pages_rehearsal_under_a_sub_path(browser: Browser) -> None:
    site = StaticSite(ROOT / "site", prefix="/digitlab/")
    context, page, log = open_page(browser, service_workers="allow")
    page.set_default_timeout(READY_TIMEOUT_MS)
    loads = count_loads(page)
    try:
        page.goto(site.url)
        boot(page)
        assert page.evaluate(ISOLATED), "not cross-origin isolated after the first visit"
        assert len(loads) == 2, f"the first visit should reload once, loaded {loads}"
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == site.url + "sw.js"
        train_one_epoch(page)
        page.wait_for_function("() => document.documentElement.dataset.offline === 'ready'")

        site.stop()
        context.set_offline(True)
        served = len(site.paths)
        page.reload()
        boot(page)
        assert page.evaluate(ISOLATED)
        train_one_epoch(page)
        assert len(loads) == 3
        assert len(site.paths) == served

        requested = [url for url in log.urls if url.startswith("http")]
        # Only the service worker fetches the maskable icon: its requests are in the log too.
        assert log.matching("icons/icon-maskable-512.png"), "the worker's requests went unseen"
        assert not log.foreign(), f"requests left 127.0.0.1: {log.foreign()}"
        outside = [url for url in requested if not url.startswith(site.url)]
        assert not outside, f"requests outside the sub-path: {outside}"
        assert page.errors == []
    finally:
        context.close()
        site.stop()
