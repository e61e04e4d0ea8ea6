"""Ready times with and without the service worker, on a plain static host under a sub-path
(as GitHub Pages serves a project site), in Debian's Chromium.

Usage: python3 bench/offline_ready.py [--reps 3]   (build site/ first; time it alone: on a
shared machine run it under the timing lock, e.g. `flock /tmp/digitlab-timing.lock ...`)

Per repetition, seconds from navigation to `window.digitlab.ready`:
  sw first      a first visit, no headers: the worker takes over, the page reloads once
  sw reload     the next load, from the worker's cache
  sw offline    a load with the server stopped and the browser offline
  plain first   the host sending COOP/COEP itself, service workers blocked: a first visit
  plain reload  the same, the next load (the browser's HTTP cache, max-age=600)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "py"), str(ROOT)]

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.e2e.static_site import StaticSite  # noqa: E402

TIMEOUT_MS = 300_000
ISOLATING = {"Cross-Origin-Opener-Policy": "same-origin",
             "Cross-Origin-Embedder-Policy": "require-corp"}


def seconds_to_ready(page: Page, navigate: Callable[[], object]) -> float:
    start = time.perf_counter()
    navigate()
    page.wait_for_function("() => window.digitlab && window.digitlab.ready", timeout=TIMEOUT_MS)
    page.evaluate("window.digitlab.ready")
    return time.perf_counter() - start


def with_worker(browser: Browser) -> dict[str, float]:
    site = StaticSite(ROOT / "site", prefix="/digitlab/")
    context = browser.new_context(service_workers="allow")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        times = {"sw first": seconds_to_ready(page, lambda: page.goto(site.url))}
        page.wait_for_function("() => document.documentElement.dataset.offline === 'ready'")
        times["sw reload"] = seconds_to_ready(page, page.reload)
        site.stop()
        context.set_offline(True)
        times["sw offline"] = seconds_to_ready(page, page.reload)
        return times
    finally:
        context.close()
        site.stop()


def without_worker(browser: Browser) -> dict[str, float]:
    site = StaticSite(ROOT / "site", prefix="/digitlab/", headers=ISOLATING)
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        return {"plain first": seconds_to_ready(page, lambda: page.goto(site.url)),
                "plain reload": seconds_to_ready(page, page.reload)}
    finally:
        context.close()
        site.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if not (ROOT / "site" / "sw.js").exists():
        print("offline_ready.py: site/ is not built; run `python3 build.py` first",
              file=sys.stderr)
        return 1
    runs: list[dict[str, float]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for _ in range(args.reps):
            runs.append({**with_worker(browser), **without_worker(browser)})
            print(json.dumps({name: round(value, 2) for name, value in runs[-1].items()}),
                  file=sys.stderr, flush=True)
        browser.close()
    print(f"{'':14} {'median s':>9} {'min s':>7}")
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name:14} {statistics.median(values):9.2f} {min(values):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
