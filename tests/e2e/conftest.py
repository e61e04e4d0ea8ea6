"""Fixtures for the end-to-end tests: the real site served by `build.py serve --port 0` on
127.0.0.1, driven in Debian's Chromium with Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
READY_TIMEOUT_MS = 120_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "serve", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip()
        while url and not url.startswith("http://"):  # build output precedes the URL
            url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"build.py serve printed {url!r}"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class RequestLog:
    """Every request the page and its workers make; foreign hosts are failures."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def record(self, request) -> None:
        self.urls.append(request.url)

    def foreign(self) -> list[str]:
        return [url for url in self.urls
                if urlparse(url).scheme in ("http", "https", "ws", "wss")
                and urlparse(url).hostname != "127.0.0.1"]

    def matching(self, fragment: str) -> list[str]:
        return [url for url in self.urls if fragment in url]


def open_page(browser: Browser, viewport: dict | None = None, **context_args):
    """A new context (empty cache and storage) and page, with its request log. Service workers
    are blocked unless a test passes service_workers="allow" (test_offline*, test_subpath):
    page.route must see the page's requests, and each page's background caching of the whole
    build would only load the machine."""
    context_args.setdefault("service_workers", "block")
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900},
                                  **context_args)
    log = RequestLog()
    context.on("request", log.record)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page, log


@pytest.fixture()
def fresh_page(browser: Browser) -> Iterator[tuple[Page, RequestLog]]:
    """A new browser context (empty cache and storage) per test."""
    context, page, log = open_page(browser)
    yield page, log
    assert not log.foreign(), f"requests left 127.0.0.1: {log.foreign()}"
    context.close()


def wait_ready(page: Page) -> None:
    page.wait_for_function("() => window.digitlab && window.digitlab.ready", timeout=30_000)
    page.evaluate("window.digitlab.ready")


@pytest.fixture(scope="session")
def ready_page(browser: Browser, server_url: str) -> Iterator[tuple[Page, RequestLog]]:
    """One booted page shared by the tests that only read from it or train small models."""
    context, page, log = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(server_url)
    wait_ready(page)
    yield page, log
    assert not log.foreign(), f"requests left 127.0.0.1: {log.foreign()}"
    context.close()
