"""Offline use under `build.py serve`, which sends COOP/COEP itself: the first load is isolated
and never reloads; once the service worker has cached the build, an offline reload boots and
trains. And where no service worker may register, the page boots as before, quietly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from playwright.sync_api import Browser

from tests.e2e.conftest import READY_TIMEOUT_MS, ROOT, open_page
from tests.e2e.pages import alert_text
from tests.e2e.static_site import StaticSite
from tests.e2e.test_subpath import ISOLATED, boot, count_loads, train_one_epoch


def test_offline_reload_under_build_serve(browser: Browser, server_url: str) -> None:
    context, page, log = open_page(browser, service_workers="allow")
    page.set_default_timeout(READY_TIMEOUT_MS)
    loads = count_loads(page)
    try:
        page.goto(server_url)
        assert page.evaluate(ISOLATED), "build.py serve's first load is not isolated"
        boot(page)
        page.wait_for_function("() => document.documentElement.dataset.offline === 'ready'")
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert len(loads) == 1, f"an isolated first load reloaded: {loads}"
        # Chromium would offer to install it: the manifest, its icons and the worker pass
        # (a Playwright context is an incognito one, which Chromium never installs from).
        cdp = context.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert [error["errorId"] for error in errors] in ([], ["in-incognito"]), errors
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == server_url + "manifest.webmanifest" and not manifest["errors"]

        context.set_offline(True)
        page.reload()
        boot(page)
        assert page.evaluate(ISOLATED)
        train_one_epoch(page)
        assert len(loads) == 2
        assert not log.foreign(), f"requests left 127.0.0.1: {log.foreign()}"
        assert page.errors == []
    finally:
        context.close()


def test_without_a_service_worker_the_page_boots_quietly(browser: Browser) -> None:
    site = StaticSite(ROOT / "site", prefix="/digitlab/")
    context, page, log = open_page(browser, service_workers="block")
    page.set_default_timeout(READY_TIMEOUT_MS)
    loads = count_loads(page)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    try:
        page.goto(site.url)
        boot(page)
        assert page.evaluate("crossOriginIsolated") is False
        assert len(loads) == 1, f"reloaded without a service worker: {loads}"
        assert alert_text(page) == ""
        assert page.get_by_test_id("update-ready").is_hidden()
        # Playwright's own notice of the block is a warning (its register() then resolves
        # to nothing); the page adds no warning or error of its own.
        ours = [m for m in messages if "blocked by Playwright" not in m]
        assert not [m for m in ours if m.startswith(("error", "warning"))], messages
        assert page.errors == []
        assert not log.foreign()
    finally:
        context.close()
        site.stop()


def test_a_worker_that_cannot_isolate_reloads_once_and_never_loops(
        browser: Browser, tmp_path: Path) -> None:
    """Whatever keeps the page from isolation (here: a worker that adds no headers), the first
    visit reloads at most once, and a controlled page never reloads itself."""
    site_dir = tmp_path / "site"
    shutil.copytree(ROOT / "site", site_dir)
    worker = site_dir / "sw.js"
    worker.write_text(re.sub(r"const HEADERS = \{.*?\};", "const HEADERS = {};",
                             worker.read_text()))
    site = StaticSite(site_dir, prefix="/digitlab/")
    context, page, _ = open_page(browser, service_workers="allow")
    page.set_default_timeout(READY_TIMEOUT_MS)
    loads = count_loads(page)
    try:
        page.goto(site.url)
        boot(page)
        assert page.evaluate("crossOriginIsolated") is False
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert len(loads) == 2, loads
        page.reload()
        boot(page)
        assert len(loads) == 3, loads
        assert alert_text(page) == "" and page.errors == []
    finally:
        context.close()
        site.stop()
