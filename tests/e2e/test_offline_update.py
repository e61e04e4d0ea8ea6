"""A new deploy: the page keeps loading the build that controls it, offers the new one in a
banner (both languages), and after Reload serves only the new build's files, with the old
build's cache deleted. Two real builds of a copy of the sources, one changed file apart,
served in turn by a plain static server under a sub-path."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Browser

from digitlab.i18n import text
from tests.e2e.conftest import READY_TIMEOUT_MS, open_page
from tests.e2e.static_site import StaticSite, build_site, copy_sources


def precached(site: Path) -> dict[str, str]:
    """The build's files (path -> sha256), as its sw.js lists them."""
    files = re.search(r"const FILES = (\{.*?\});", (site / "sw.js").read_text(), re.S)[1]
    return json.loads(files)


def version(site: Path) -> str:
    return re.search(r'const VERSION = "(\w+)";', (site / "sw.js").read_text())[1]


def worker_file(site: Path) -> str:
    return next(path for path in precached(site) if re.fullmatch(r"js/worker\.\w+\.js", path))


def test_a_new_build_waits_for_reload_then_serves_only_its_files(
        browser: Browser, tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "src")
    old = build_site(tree, tmp_path / "v1")
    worker = tree / "js" / "worker.js"
    worker.write_text(worker.read_text() + "\n// the second build\n")
    new = build_site(tree, tmp_path / "v2")
    assert worker_file(old) != worker_file(new) and version(old) != version(new)
    only_old = set(precached(old)) - set(precached(new))  # names the new build lacks
    changed = {path for path, sha in precached(new).items() if precached(old).get(path) != sha}

    site = StaticSite(old, prefix="/digitlab/")
    context, page, log = open_page(browser, service_workers="allow")
    page.set_default_timeout(READY_TIMEOUT_MS)
    page_requests: list[str] = []  # the page's and its worker's (the service worker's apart)
    page.on("request", lambda request: page_requests.append(request.url))
    try:
        page.goto(site.url)
        page.wait_for_function("() => crossOriginIsolated && navigator.serviceWorker.controller"
                               " && document.documentElement.dataset.offline === 'ready'")

        site.root = new  # the deploy
        served = len(site.paths)
        before = len(page_requests)
        page.reload()  # answered by the old build; the browser finds the new sw.js
        banner = page.get_by_test_id("update-ready")
        banner.wait_for(state="visible")
        assert text("en", "update.ready") in banner.inner_text()
        page.get_by_test_id("lang").select_option("zh-CN")
        assert text("zh-CN", "update.ready") in banner.inner_text()
        assert page.get_by_test_id("update-reload").inner_text() == text("zh-CN", "update.reload")
        # The new build installed beside the old one, reusing its copies of unchanged files.
        fetched = {path.split("?")[0].removeprefix("/digitlab/") for path in site.paths[served:]}
        assert fetched - {"sw.js"} <= changed, sorted(fetched - changed)
        assert worker_file(new) in fetched and "index.html" in fetched
        reloaded = page_requests[before:]
        assert any(worker_file(old) in url for url in reloaded), "the old build's page changed"
        assert not any(worker_file(new) in url for url in reloaded), "a new file in the old page"

        before = len(page_requests)
        with page.expect_navigation():
            page.get_by_test_id("update-reload").click()
        page.wait_for_function("() => window.digitlab && window.digitlab.ready")
        page.evaluate("window.digitlab.ready")
        after = page_requests[before:]
        assert any(worker_file(new) in url for url in after), after
        assert page.evaluate("caches.keys()") == [f"digitlab /digitlab/ {version(new)}"]
        assert page.get_by_test_id("update-ready").is_hidden()
        stale = [url for url in after if url.split("?")[0].removeprefix(site.url) in only_old]
        assert not stale, f"the new page loaded files of the old build: {stale}"
        assert not log.foreign(), f"requests left 127.0.0.1: {log.foreign()}"
        assert page.errors == []
    finally:
        context.close()
        site.stop()
