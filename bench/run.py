"""DigitLab benchmark: the TF.js codelab's CNN and training config in DigitLab (Pyodide in the
page), in TensorFlow.js 4.22 (cpu and webgl backends) and under CPython, in one run on one machine.

Usage: python3 bench/run.py [--quick] [--strong] [--ready | --scaling]
                            [--out bench/results/NAME.json]

Time to `ready` is compared with its floor measured in the same run: bench/bare/, a module
worker that loads the site's own Pyodide and imports NumPy, nothing else. `--ready` runs only
that comparison (median of 5 first visits and 5 reloads of each page), in a couple of minutes.

`--scaling` runs only data-parallel training in the page (train({workers: N})): the codelab
config and the strong model on N=1, 2 (and 4 on 4 cores or more), and a sweep of batch sizes,
N=2 against N=1, for the shard size in FLOPs from which two workers beat one.

Every timing job on this machine takes /tmp/digitlab-timing.lock, so two benchmarks (or a
benchmark and a timing test) never share the 2 cores; this script takes it itself.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import functools
import json
import os
import platform
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LOCK_PATH = "/tmp/digitlab-timing.lock"
CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# A full tfjs cpu run takes minutes; the page timeouts only catch hangs.
PAGE_TIMEOUT_MS = 3_600_000
BOOT_TIMEOUT_MS = 300_000

# The codelab's configuration (and DigitLab's defaults).
CODELAB = {"trainSize": 5500, "validationSize": 1000, "epochs": 10, "batchSize": 512,
           "learningRate": 0.001}
FULL_TEST_SIZE = 10_000
# CI's smoke run: every engine and every code path, in a couple of minutes.
QUICK = {**CODELAB, "trainSize": 1000, "epochs": 1}
QUICK_TEST_SIZE = 2000
READY_SAMPLES = 5  # first visits and reloads of each page for the time to ready


@dataclass
class Plan:
    """What one invocation measures."""

    config: dict[str, Any]
    test_size: int
    tfjs_backends: list[str]
    strong: bool
    out: Path
    quick: bool
    ready_only: bool = False  # --ready: only DigitLab's time to ready against the bare boot
    ready_samples: int = READY_SAMPLES
    # --ready-without-sw: the page's service worker blocked (what the runtime itself costs,
    # without its registration on a first visit and its cache on a reload)
    ready_service_workers: str = "allow"
    scaling: bool = False  # --scaling: only data-parallel training, N workers against 1


@dataclass
class EngineResult:
    """One engine's figures; `error` is set (and the run exits non-zero) when it failed."""

    engine: str
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# ---------------------------------------------------------------- the timing lock

def inherited_lock_fd() -> int | None:
    """The descriptor of LOCK_PATH this process inherited, if any.

    `flock /tmp/digitlab-timing.lock python3 bench/run.py` passes its locked descriptor on; a
    fresh open() of the file would be a second lock holder and wait for our own parent forever.
    """
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return None
    for entry in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(entry) == LOCK_PATH:
                return int(entry.name)
    return None


@contextlib.contextmanager
def timing_lock() -> Iterator[None]:
    inherited = inherited_lock_fd()
    if inherited is not None:
        fcntl.flock(inherited, fcntl.LOCK_EX)  # same open file description: returns at once
        yield
        return
    with open(LOCK_PATH, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {LOCK_PATH} (another timing job is running)")
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------- servers

@contextlib.contextmanager
def digitlab_server() -> Iterator[str]:
    """`build.py serve --port 0` (it rebuilds site/ first if any input changed); yields its URL."""
    process = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--port", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith("http://"):  # build output precedes the URL
            line = process.stdout.readline()
        url = line.strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"build.py serve did not print its URL (got {url!r})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class BenchHandler(SimpleHTTPRequestHandler):
    """Serves exactly three folders; anything else is a 404."""

    MOUNTS = {
        "/tfjs/": ROOT / "node_modules" / "@tensorflow" / "tfjs" / "dist",
        "/data/": ROOT / "site" / "data",
        "/": BENCH / "tfjs",
    }

    def translate_path(self, path: str) -> str:
        path = urlparse(path).path
        if path.endswith("/"):
            path += "index.html"
        for prefix, folder in self.MOUNTS.items():
            if path.startswith(prefix):
                target = (folder / path[len(prefix):]).resolve()
                if target.is_relative_to(folder.resolve()) and target.is_file():
                    return str(target)
                break
        return str(BENCH / "tfjs" / "missing")  # SimpleHTTPRequestHandler answers 404

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404)
        return None

    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass  # keep the benchmark's output to its results


@contextlib.contextmanager
def bench_server() -> Iterator[str]:
    """The tfjs reference page on 127.0.0.1, in a thread of this process."""
    for needed in (BenchHandler.MOUNTS["/tfjs/"] / "tf.min.js",
                   BenchHandler.MOUNTS["/data/"] / "mnist_images.png"):
        if not needed.is_file():
            raise RuntimeError(f"{needed} is missing: run `npm ci` and `python3 build.py`")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BenchHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def site_server() -> Iterator[str]:
    """site/ with build.py's own handler (its headers: CSP, COOP/COEP, caching), plus
    bench/bare/ at /bench-bare/: the page and its floor served the same way, by one server."""
    sys.path.insert(0, str(ROOT))
    try:
        import build
    finally:
        sys.path.pop(0)
    if build.is_stale():
        build.build()
    bare = (BENCH / "bare").resolve()

    class Handler(build.SiteHandler):
        def translate_path(self, path: str) -> str:
            route = urlparse(path).path
            if route.startswith(BARE_PATH):
                target = (bare / (route[len(BARE_PATH):] or "index.html")).resolve()
                return str(target) if target.is_relative_to(bare) else str(bare / "missing")
            return super().translate_path(path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- browser helpers

class LocalOnly:
    """Aborts (`route`) or only notes (`request`), and remembers, every request to a host
    other than 127.0.0.1."""

    def __init__(self) -> None:
        self.foreign: list[str] = []

    @staticmethod
    def is_foreign(url_text: str) -> bool:
        url = urlparse(url_text)
        return url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1"

    def route(self, route: Route) -> None:
        if self.is_foreign(route.request.url):
            self.foreign.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def request(self, request: Request) -> None:
        if self.is_foreign(request.url):
            self.foreign.append(request.url)

    def check(self) -> None:
        if self.foreign:
            raise RuntimeError(f"requests left 127.0.0.1: {self.foreign}")


@contextlib.contextmanager
def fresh_page(browser: Browser, service_workers: str = "allow",
               intercept: bool = True) -> Iterator[tuple[Page, LocalOnly]]:
    """A new context (empty cache and storage), so boot times are first-visit times.
    Training runs block the service worker: on a first visit it caches the build in the
    background right after ready, which would compete with the first epochs for the CPU.
    `intercept`: foreign requests are stopped (Playwright routes every request through this
    process); otherwise they are only noted, and the run fails after. Time to ready is taken
    without interception: routing holds each request for a round trip to this process, and
    turns off the HTTP cache, which no reader's browser does."""
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900},
                                                  service_workers=service_workers)
    guard = LocalOnly()
    if intercept:
        context.route("**/*", guard.route)
    else:
        context.on("request", guard.request)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield page, guard
    finally:
        context.close()
    guard.check()


@contextlib.contextmanager
def digitlab_page(browser: Browser, url: str, await_ready: bool = True) -> Iterator[Page]:
    """DigitLab in a fresh context with its service worker blocked (as for training), once
    `digitlab.ready` exists, and (`await_ready`) once it has resolved."""
    with fresh_page(browser, service_workers="block") as (page, _guard):
        page.goto(url)
        page.wait_for_function("() => Boolean(window.digitlab && window.digitlab.ready)",
                               timeout=BOOT_TIMEOUT_MS)
        if await_ready:
            page.evaluate("() => window.digitlab.ready")
        yield page


@contextlib.contextmanager
def browser_session() -> Iterator[Browser]:
    """The benchmark's Chromium, closed at the end."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


# Main-thread responsiveness: the worst gap between animation frames while the page trains.
# Function-form strings only: the page's CSP forbids string eval.
START_FRAME_GAPS = """() => {
  const record = { gaps: [], last: performance.now(), running: true };
  const tick = (now) => {
    record.gaps.push(now - record.last);
    record.last = now;
    if (record.running) requestAnimationFrame(tick);
  };
  window.__benchFrames = record;
  requestAnimationFrame(tick);
}"""
STOP_FRAME_GAPS = """() => {
  const record = window.__benchFrames;
  record.running = false;
  record.gaps.push(performance.now() - record.last);
  const sorted = [...record.gaps].sort((a, b) => a - b);
  return { worstMs: sorted[sorted.length - 1], frames: sorted.length,
           p99Ms: sorted[Math.floor(0.99 * (sorted.length - 1))],
           over50ms: sorted.filter((gap) => gap > 50).length };
}"""

TIMED_TRAIN = """async (config) => {
  const start = performance.now();
  const history = await window.digitlab.train(config);
  const seconds = (performance.now() - start) / 1000;
  const { batches, ...perEpoch } = history;
  return { seconds, history: perEpoch, batchCount: batches.length };
}"""

TIMED_EVALUATE = """async (size) => {
  const start = performance.now();
  const result = await window.digitlab.evaluate({ size });
  return { seconds: (performance.now() - start) / 1000, accuracy: result.accuracy,
           predictions: result.predictions.length, predictSeconds: result.predictSeconds };
}"""

# Resolves on `ready`; started while the page still boots, so performance.now() (ms since
# navigation start) at that moment is the time to ready.
TIME_TO_READY = """async () => {
  const phase = window.digitlab.state().phase;
  await window.digitlab.ready;
  return { ms: performance.now(), phaseWhenAsked: phase };
}"""


BARE_PATH = "/bench-bare/"
# The bare page's `ready`: NumPy imported; its marks are on the page's clock too.
BARE_TIME_TO_READY = """async () => {
  const marks = await window.bare.ready;
  return { ms: performance.now(), marks };
}"""
# DigitLab's `ready` and where its boot went (window.digitlab.bootTimings()).
DIGITLAB_TIME_TO_READY = """async () => {
  await window.digitlab.ready;
  const ms = performance.now();
  const timings = window.digitlab.bootTimings ? window.digitlab.bootTimings() : null;
  return { ms, timings };
}"""


def time_to_ready(page: Page, url: str, ready_global: str, script: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_function(f"() => Boolean(window.{ready_global} && window.{ready_global}.ready)",
                           timeout=BOOT_TIMEOUT_MS)
    return page.evaluate(script)


def measure_ready_pair(browser: Browser, url: str, ready_global: str, script: str,
                       service_workers: str = "allow") -> tuple[dict[str, Any], dict[str, Any]]:
    """One first visit (a fresh context: empty HTTP cache, no storage) and one reload in the
    same context (warm HTTP cache and V8's code cache). With its service worker, DigitLab
    is reloaded once that worker has cached the build (`data-offline="ready"`): a reload
    before then would be timed against the worker's own caching."""
    with fresh_page(browser, service_workers, intercept=False) as (page, _guard):
        cold = time_to_ready(page, url, ready_global, script)
        if ready_global == "digitlab" and service_workers == "allow":
            page.wait_for_function("() => document.documentElement.dataset.offline === 'ready'",
                                   timeout=BOOT_TIMEOUT_MS)
        warm = time_to_ready(page, url, ready_global, script)
    return cold, warm


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def median_marks(samples: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Each boot mark's median over the samples (ms since navigation start); a mark is
    a number or a [start, end] pair."""
    present = [s for s in samples if s]
    if not present:
        return None
    out: dict[str, Any] = {}
    for name, first in present[0].items():
        values = [s.get(name) for s in present if s.get(name) is not None]
        if not values:
            out[name] = None
        elif isinstance(first, list):
            out[name] = [median([v[0] for v in values]), median([v[1] for v in values])]
        elif isinstance(first, int | float):
            out[name] = median(values)
    return out


def run_ready(browser: Browser, url: str, samples: int,
              service_workers: str = "allow") -> EngineResult:
    """DigitLab's time to `ready` against the bare boot's, sample by sample in turns (so a
    load change on the machine hits both), as ratios of medians."""
    from build import PYODIDE_VERSION  # site_server put build.py on the path first

    pages = {"bare": (f"{url}{BARE_PATH.lstrip('/')}?dir=pyodide-{PYODIDE_VERSION}", "bare",
                      BARE_TIME_TO_READY),
             "digitlab": (url, "digitlab", DIGITLAB_TIME_TO_READY)}
    runs: dict[str, dict[str, list]] = {name: {"cold": [], "warm": []} for name in pages}
    for index in range(samples):
        order = list(pages) if index % 2 == 0 else list(reversed(pages))
        for name in order:
            cold, warm = measure_ready_pair(browser, *pages[name], service_workers)
            runs[name]["cold"].append(cold)
            runs[name]["warm"].append(warm)
            log(f"ready sample {index + 1}/{samples} {name}: cold {cold['ms'] / 1000:.2f} s, "
                f"reload {warm['ms'] / 1000:.2f} s")
    figures: dict[str, Any] = {"samples": samples}
    for name, visits in runs.items():
        for visit, measured in visits.items():
            seconds = [m["ms"] / 1000 for m in measured]
            marks = [m.get("marks") or m.get("timings") for m in measured]
            figures[f"{name}_{visit}_seconds"] = seconds
            figures[f"{name}_{visit}_median_seconds"] = median(seconds)
            figures[f"{name}_{visit}_breakdown_ms"] = median_marks(marks)
            figures[f"{name}_{visit}_breakdowns_ms"] = marks
    for visit in ("cold", "warm"):
        figures[f"ratio_{visit}"] = (figures[f"digitlab_{visit}_median_seconds"]
                                     / figures[f"bare_{visit}_median_seconds"])
    return EngineResult("ready", figures)


def ready_lines(result: EngineResult) -> list[str]:
    if result.error:
        return ["", f"time to ready FAILED: {result.error}"]
    f = result.figures
    lines = ["", f"time to ready, median of {f['samples']} (bare = the site's Pyodide + import "
                 "numpy in a module worker, nothing else):"]
    for visit, label in (("cold", "first visit"), ("warm", "reload")):
        lines.append(f"  {label:<11} DigitLab {f[f'digitlab_{visit}_median_seconds']:.2f} s, "
                     f"bare {f[f'bare_{visit}_median_seconds']:.2f} s: "
                     f"{f[f'ratio_{visit}']:.2f}x the floor")
    breakdown = f.get("digitlab_cold_breakdown_ms") or {}
    spans = [(name, v) for name, v in breakdown.items() if isinstance(v, list)]
    if spans:
        lines.append("  DigitLab first visit, ms since navigation start (median): " + ", ".join(
            f"{name} {start:.0f}-{end:.0f}" for name, (start, end) in spans))
    return lines


# ---------------------------------------------------------------- engines

def run_digitlab(browser: Browser, url: str, plan: Plan) -> EngineResult:
    result = EngineResult("digitlab")
    with digitlab_page(browser, url, await_ready=False) as page:
        ready = page.evaluate(TIME_TO_READY)  # awaits `ready` itself: the time to ready
        page.evaluate(START_FRAME_GAPS)
        trained = page.evaluate(TIMED_TRAIN, {**plan.config, "model": "tutorial"})
        frames = page.evaluate(STOP_FRAME_GAPS)
        evaluated = page.evaluate(TIMED_EVALUATE, plan.test_size)
        memory = page.evaluate("() => window.digitlab.memory()")
        # Which compute path ran: a slower machine and a missing SIMD path look alike in seconds.
        simd = page.evaluate("() => window.digitlab.simdInfo()")
        # A returning visitor: same context, so the HTTP cache (and V8's code cache) is warm.
        page.reload()
        page.wait_for_function("() => Boolean(window.digitlab && window.digitlab.ready)",
                               timeout=BOOT_TIMEOUT_MS)
        ready_again = page.evaluate(TIME_TO_READY)
    result.figures = {
        **training_figures(trained["seconds"], plan.config),
        "test_accuracy": evaluated["accuracy"],
        "test_size": evaluated["predictions"],
        # The model's predict() alone, as tfjs's figure is model.predict + argMax + data();
        # evaluate() around it also computes the metrics and draws the evaluation panels.
        "predict_seconds": evaluated["predictSeconds"],
        "evaluate_seconds": evaluated["seconds"],
        "ready_seconds": ready["ms"] / 1000,
        "ready_on_reload_seconds": ready_again["ms"] / 1000,
        "phase_when_ready_asked": ready["phaseWhenAsked"],
        "worst_frame_gap_ms": frames["worstMs"],
        "p99_frame_gap_ms": frames["p99Ms"],
        "frame_gaps_over_50ms": frames["over50ms"],
        "frames": frames["frames"],
        "peak_wasm_heap_bytes": memory.get("wasmHeapBytes"),
        "memory_after": memory,
        "compute": simd,
        "history": trained["history"],
    }
    return result


def run_digitlab_strong(browser: Browser, url: str) -> EngineResult:
    """The strong model on the whole training portion with its recommended recipe."""
    sys.path.insert(0, str(ROOT / "py"))
    from digitlab.nn.zoo import RECOMMENDED_TRAINING  # CPython import, only for --strong

    config = {**RECOMMENDED_TRAINING["strong"], "model": "strong"}
    result = EngineResult("digitlab-strong")
    with digitlab_page(browser, url) as page:
        trained = page.evaluate(TIMED_TRAIN, config)
        evaluated = page.evaluate(TIMED_EVALUATE, FULL_TEST_SIZE)
        memory = page.evaluate("() => window.digitlab.memory()")
    result.figures = {
        "config": config,
        # wasm memory never shrinks, so its size now is the peak of the whole run.
        "peak_wasm_heap_bytes": memory.get("wasmHeapBytes"),
        "train_seconds": trained["seconds"],
        "test_accuracy": evaluated["accuracy"],
        "predict_seconds": evaluated["predictSeconds"],
        "history": trained["history"],
    }
    return result


def run_tfjs(browser: Browser, url: str, backend: str, plan: Plan) -> EngineResult:
    result = EngineResult(f"tfjs-{backend}")
    with fresh_page(browser) as (page, _guard):
        page.goto(url)
        page.wait_for_function("() => Boolean(window.tfjsBench)", timeout=BOOT_TIMEOUT_MS)
        config = {**plan.config, "backend": backend, "testSize": plan.test_size}
        measured = page.evaluate("(config) => window.tfjsBench.run(config)", config)
    if measured["backend"] != backend:
        raise RuntimeError(f"tfjs ran on {measured['backend']!r}, not {backend!r}")
    result.figures = {
        **training_figures(measured["trainSeconds"], plan.config),
        "epoch_seconds": measured["epochSeconds"],
        "test_accuracy": measured["testAccuracy"],
        "test_size": measured["testSize"],
        "predict_seconds": measured["predictSeconds"],
        "worst_frame_gap_ms": measured["worstFrameGapMs"],
        "tfjs_version": measured["tfjsVersion"],
        "history": measured["history"],
    }
    return result


def run_cpython(plan: Plan, workers: int = 1) -> EngineResult:
    """`python -m digitlab train --json`: native NumPy, the reference for the same code; on
    `workers` processes (`--workers`, each with one BLAS thread) when above 1."""
    config = plan.config
    command = [sys.executable, "-m", "digitlab", "train", "--json", "--workers", str(workers),
               "--train-size", str(config["trainSize"]),
               "--validation-size", str(config["validationSize"]),
               "--epochs", str(config["epochs"]), "--batch-size", str(config["batchSize"]),
               "--learning-rate", str(config["learningRate"])]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "py")}
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"exit {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    result = EngineResult("cpython" if workers == 1 else f"cpython-{workers}")
    result.figures = {
        **training_figures(report["seconds"], config),
        "test_accuracy": report["test_accuracy"],
        "test_size": FULL_TEST_SIZE,  # the CLI always tests on all 10000
        "predict_seconds": None,
        "history": report["history"],
    }
    return result


def training_figures(seconds: float, config: dict[str, Any]) -> dict[str, float]:
    return {
        "train_seconds": seconds,
        "seconds_per_epoch": seconds / config["epochs"],
        "images_per_second": config["trainSize"] * config["epochs"] / seconds,
    }


def attempt(engine: str, measure: Callable[[], EngineResult]) -> EngineResult:
    """Runs one engine; a failure is recorded, reported and makes the run fail, not crash it."""
    log(f"running {engine} ...")
    started = time.perf_counter()
    try:
        result = measure()
    except Exception as error:  # any failure of an engine is a result
        traceback.print_exc()
        result = EngineResult(engine, error=f"{type(error).__name__}: {error}")
    log(f"{engine}: {'FAILED ' + result.error if result.error else 'ok'} "
        f"({time.perf_counter() - started:.0f} s wall)")
    return result


# ---------------------------------------------------------------- report

def speedups(results: list[EngineResult]) -> dict[str, float]:
    """DigitLab's training speed-up over every other engine (their seconds / DigitLab's)."""
    by_engine = {r.engine: r for r in results if not r.error}
    if "digitlab" not in by_engine:
        return {}
    ours = by_engine["digitlab"].figures["train_seconds"]
    return {name: r.figures["train_seconds"] / ours for name, r in by_engine.items()
            if name != "digitlab" and "train_seconds" in r.figures and name != "digitlab-strong"}


def table(results: list[EngineResult], plan: Plan) -> str:
    config = plan.config
    lines = [f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}",
             f"config: trainSize {config['trainSize']}, validationSize {config['validationSize']},"
             f" epochs {config['epochs']}, batchSize {config['batchSize']}, adam lr "
             f"{config['learningRate']}; test on {plan.test_size} images", ""]
    header = (f"{'engine':<12} {'s/epoch':>8} {'train s':>8} {'images/s':>9} {'test acc':>9} "
              f"{'predict s':>10} {'DigitLab speed-up':>18}")
    lines += [header, "-" * len(header)]
    ups = speedups(results)
    for r in results:
        if r.engine in ("digitlab-strong", "ready"):  # their own tables
            continue
        if r.error:
            lines.append(f"{r.engine:<12} FAILED: {r.error}")
            continue
        f = r.figures
        predict = "-" if f["predict_seconds"] is None else f"{f['predict_seconds']:.2f}"
        speedup = f"{ups[r.engine]:.2f}x" if r.engine in ups else "-"
        accuracy = f"{100 * f['test_accuracy']:.2f}%"
        lines.append(f"{r.engine:<12} {f['seconds_per_epoch']:>8.2f} {f['train_seconds']:>8.1f} "
                     f"{f['images_per_second']:>9.0f} {accuracy:>9} {predict:>10} "
                     f"{speedup:>18}")
    lines += ["", "speed-up = engine's training seconds / DigitLab's (above 1: DigitLab is faster)"]
    lines += page_lines(results)
    for r in results:
        if r.engine == "ready":
            lines += ready_lines(r)
    return "\n".join(lines)


def ready_table(results: list[EngineResult]) -> str:
    lines = [f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}"]
    for r in results:
        if r.engine == "ready":
            lines += ready_lines(r)
    return "\n".join(lines)


def page_lines(results: list[EngineResult]) -> list[str]:
    lines: list[str] = []
    for r in results:
        f = r.figures
        if r.engine == "digitlab" and not r.error:
            heap = f["peak_wasm_heap_bytes"]
            compute = f.get("compute") or {}
            lines += ["", "DigitLab page:",
                      f"  compute backend {compute.get('backend')} (SIMD variant "
                      f"{compute.get('variant')})"
                      + (f", refused: {compute['errors']}" if compute.get("errors") else ""),
                      f"  time to ready: {f['ready_seconds']:.1f} s in a fresh context (first "
                      f"visit), {f['ready_on_reload_seconds']:.1f} s on a reload (warm cache)",
                      f"  evaluate() of the test images, with metrics and drawing "
                      f"{f['evaluate_seconds']:.2f} s (predict alone {f['predict_seconds']:.2f} s)",
                      f"  worst main-thread frame gap while training {f['worst_frame_gap_ms']:.0f}"
                      f" ms (p99 {f['p99_frame_gap_ms']:.0f} ms, {f['frame_gaps_over_50ms']} of"
                      f" {f['frames']} frames over 50 ms)",
                      f"  peak wasm heap {heap / 2**20:.0f} MiB" if heap else
                      "  peak wasm heap: not reported"]
        elif r.engine.startswith("tfjs") and not r.error:
            lines.append(f"{r.engine} worst main-thread frame gap while training "
                         f"{f['worst_frame_gap_ms']:.0f} ms (tfjs trains on the main thread)")
        elif r.engine == "digitlab-strong":
            lines.append("" if r.error is None else f"digitlab-strong FAILED: {r.error}")
            if not r.error:
                heap = f["peak_wasm_heap_bytes"]
                lines.append(f"DigitLab strong model ({f['config']}): test accuracy "
                             f"{100 * f['test_accuracy']:.2f}% after {f['train_seconds']:.0f} s "
                             "of training" + (f", peak wasm heap {heap / 2**20:.0f} MiB"
                                              if heap else ""))
    return lines


def cpu_model() -> str:
    """The processor's name (Linux), so a result says which machine it came from."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    def output(command: list[str]) -> str:
        try:
            return subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                  check=False, timeout=30).stdout.strip()
        except OSError:
            return ""

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": output(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(output(["git", "status", "--porcelain", "--", "py", "js"])),
        "chromium": output([CHROMIUM, "--version"]),
        "chromium_flags": CHROMIUM_FLAGS,
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        # Jobs outside the timing lock also use the cores; a high load means noisy timings.
        "load_average_1_5_15_min": os.getloadavg(),
        "machine": platform.platform(),
        "python": platform.python_version(),
    }


def rounded(value: Any) -> Any:
    """Floats to 5 significant digits, so a results file stays small and diffable."""
    if isinstance(value, float):
        return float(f"{value:.5g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def write_results(results: list[EngineResult], plan: Plan, text: str) -> None:
    document = {
        "quick": plan.quick,
        "ready_only": plan.ready_only,
        "ready_service_workers": plan.ready_service_workers,
        "config": plan.config,
        "test_size": plan.test_size,
        "environment": environment(),
        "engines": {r.engine: ({"error": r.error} if r.error else r.figures) for r in results},
        "digitlab_speedup": speedups(results),
        "table": text.splitlines(),
    }
    write_document(document, plan.out)


def write_document(document: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rounded(document), indent=1) + "\n")
    log(f"results written to {out}")


# ---------------------------------------------------------------- --scaling

# Data-parallel training in the page (train({workers: N})): N=1 against N=2 (and 4 where the
# machine has the cores), each N's figures measured in the same run as N=1's.
SCALING_CODELAB = {**CODELAB, "model": "tutorial", "optimizer": "adam", "seed": 0}
SCALING_STRONG = {"model": "strong", "trainSize": 54000, "validationSize": 1000, "epochs": 1,
                  "batchSize": 64, "learningRate": 0.003, "optimizer": "adam", "seed": 0}
# Before every timed run, with the same N: boots the replicas the first time (timed on its
# own) and warms the path, so the timed run is training alone.
SCALING_WARMUP = {"trainSize": 256, "validationSize": 0, "epochs": 1}
# The crossover sweep: training only (no validation pass, which only the lead would run).
SWEEP_RUN = {"trainSize": 4096, "validationSize": 0, "epochs": 1, "learningRate": 0.001,
             "optimizer": "adam", "seed": 0}
SWEEP_POINTS = [*(("tutorial", b) for b in (16, 32, 64, 128, 256, 512)),
                *(("strong", b) for b in (16, 32, 64))]
# Runs of a sweep point per N, in alternating order (a load change on the machine hits both).
SWEEP_REPEATS = 5
HEADLINE_REPEATS = 3  # the same for the codelab and strong runs
# --scaling --quick, CI's smoke run: every step once, on a few hundred images.
SCALING_QUICK = {"model": "tutorial", "trainSize": 512, "validationSize": 100, "epochs": 1,
                 "batchSize": 128, "learningRate": 0.001, "optimizer": "adam", "seed": 0}

# The train() call's warm-up, and the time until the page's state says N workers are ready
# (ms since the call started; the replicas boot inside the first call that asks for them).
WARM_UP = """async ({ config, count }) => {
  const start = performance.now();
  let bootMs = null;
  const look = () => {
    const workers = window.digitlab.state().workers;
    if (bootMs === null && workers && workers.ready >= count) bootMs = performance.now() - start;
  };
  look();
  const poll = setInterval(look, 20);
  try {
    await window.digitlab.train(config);
  } finally {
    clearInterval(poll);
  }
  look();
  return { seconds: (performance.now() - start) / 1000,
           bootSeconds: bootMs === null ? null : bootMs / 1000 };
}"""
REPLICAS = """async () => ({ workers: window.digitlab.state().workers,
                          replicas: await window.digitlab.replicas() })"""


@dataclass
class ScalingPlan:
    """What `--scaling` measures."""

    headline: dict[str, dict[str, Any]]  # section name -> train() config
    counts: list[int]  # worker counts, largest first (see measure_headline)
    sweep: list[tuple[str, int]]  # (model, batch size)
    sweep_run: dict[str, Any]
    repeats: int
    repeats_headline: int  # rounds of the headline configs (median images/s per N)
    test_size: int
    out: Path
    quick: bool


def scaling_plan(plan: Plan) -> ScalingPlan:
    cores = os.cpu_count() or 1
    if plan.quick:
        return ScalingPlan({"tiny": SCALING_QUICK}, [2, 1], [("tutorial", 128)],
                           {**SWEEP_RUN, "trainSize": 512}, 1, 1, QUICK_TEST_SIZE, plan.out, True)
    return ScalingPlan({"codelab": SCALING_CODELAB, "strong": SCALING_STRONG},
                       [4, 2, 1] if cores >= 4 else [2, 1], SWEEP_POINTS, SWEEP_RUN,
                       SWEEP_REPEATS, HEADLINE_REPEATS, FULL_TEST_SIZE, plan.out, False)


def flops_per_image() -> dict[str, int]:
    """Each zoo model's forward FLOPs per image (CPython: the same code as the page's)."""
    sys.path.insert(0, str(ROOT / "py"))
    from digitlab.nn.zoo import ZOO, build_model

    return {name: build_model(name).flops_per_image() for name in ZOO}


def warm_up(page: Page, config: dict[str, Any], count: int) -> dict[str, Any]:
    return page.evaluate(WARM_UP, {"config": {**config, **SCALING_WARMUP, "workers": count},
                                   "count": count})


def timed_scaling_run(page: Page, config: dict[str, Any], count: int) -> dict[str, Any]:
    """One timed train() on `count` workers (and the page's frame gaps meanwhile), then every
    worker's heap and weights digest."""
    page.evaluate(START_FRAME_GAPS)
    trained = page.evaluate(TIMED_TRAIN, {**config, "workers": count})
    frames = page.evaluate(STOP_FRAME_GAPS)
    after = page.evaluate(REPLICAS)
    used = after["replicas"][:count]  # a run uses the first ready replicas, lead first
    checksums = [r["checksum"] for r in used]
    return {
        "workers": count,
        "active": after["workers"]["active"],
        **training_figures(trained["seconds"], config),
        # wasm memory never shrinks: each worker's peak since the page (or replica) booted
        "heap_bytes": [r["wasmHeapBytes"] for r in used],
        "checksums": checksums,
        "checksums_equal": len(checksums) == count and len(set(checksums)) == 1,
        "exchange": after["workers"]["exchange"],
        "worst_frame_gap_ms": frames["worstMs"],
        "p99_frame_gap_ms": frames["p99Ms"],
        "frame_gaps_over_50ms": frames["over50ms"],
        "history": trained["history"],
    }


def run_problems(run: dict[str, Any]) -> list[str]:
    """What makes a run's figures wrong: fewer workers than asked, replicas unlike the lead."""
    problems = []
    if run["active"] != run["workers"]:
        problems.append(f"asked for {run['workers']} workers, trained on {run['active']}")
    if not run["checksums_equal"]:
        problems.append(f"N={run['workers']}: replicas' checksums differ: {run['checksums']}")
    return problems


def measure_headline(browser: Browser, url: str, name: str, config: dict[str, Any],
                     plan: ScalingPlan) -> EngineResult:
    """One config on every N, in a page of its own (heaps of this config only). The largest N
    goes first: it boots all the replicas, and as shards grow with fewer workers, each
    worker's heap after a run is that run's peak. Then `plan.repeats_headline` rounds in all,
    in alternating order: the speed is each N's median (a first run of freshly booted workers
    still pays the browser's optimising compiles). Runs of one N are the same run, bit for
    bit, so the test accuracy is measured after the first."""
    runs: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    with digitlab_page(browser, url) as page:
        for count in plan.counts:
            warm = warm_up(page, config, count)
            run = timed_scaling_run(page, config, count)
            run["test_accuracy"] = page.evaluate(TIMED_EVALUATE, plan.test_size)["accuracy"]
            run["warmup_seconds"] = warm["seconds"]
            # The first warm-up boots every replica; later ones find them ready.
            run["boot_seconds"] = warm["bootSeconds"] if not runs and count > 1 else None
            runs.append(run)
        for repeat in range(1, plan.repeats_headline):
            for count in plan.counts[::-1] if repeat % 2 else plan.counts:
                extra.append(timed_scaling_run(page, config, count))
    for run in runs:
        samples = [run["images_per_second"], *(r["images_per_second"] for r in extra
                                               if r["workers"] == run["workers"])]
        run["images_per_second_samples"] = samples
        run["images_per_second"] = median(samples)
        log(f"{name} N={run['workers']}: {run['images_per_second']:.0f} images/s (median of "
            f"{len(samples)}), test accuracy {run['test_accuracy']:.4f}")
    solo = next(r["images_per_second"] for r in runs if r["workers"] == 1)
    for run in runs:
        run["speedup"] = run["images_per_second"] / solo
    problems = [problem for run in runs + extra for problem in run_problems(run)]
    return EngineResult(f"scaling-{name}", {"config": config, "runs": runs},
                        "; ".join(problems) or None)


def sweep_point(page: Page, config: dict[str, Any], repeats: int) -> dict[str, Any]:
    """N=1 and N=2 on one config, `repeats` times each in alternating order; medians."""
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for repeat in range(repeats):
        for count in (1, 2) if repeat % 2 == 0 else (2, 1):
            runs[count].append(timed_scaling_run(page, config, count))
    speed = {count: median([r["images_per_second"] for r in done])
             for count, done in runs.items()}
    return {"model": config["model"], "batch_size": config["batchSize"],
            "images_per_second": speed, "ratio": speed[2] / speed[1],
            "samples": {count: [r["images_per_second"] for r in done]
                        for count, done in runs.items()},
            "problems": [problem for done in runs.values() for run in done
                         for problem in run_problems(run)]}


def measure_sweep(browser: Browser, url: str, plan: ScalingPlan,
                  flops: dict[str, int]) -> EngineResult:
    """The crossover sweep in a page of its own: N=2 against N=1 as the shards grow."""
    points: list[dict[str, Any]] = []
    boot: float | None = None
    with digitlab_page(browser, url) as page:
        for model in dict.fromkeys(model for model, _ in plan.sweep):
            warmed = {**plan.sweep_run, "model": model, "batchSize": 64}
            boot = warm_up(page, warmed, 2)["bootSeconds"] if boot is None else boot
            warm_up(page, warmed, 1)
        for model, batch in plan.sweep:
            point = sweep_point(page, {**plan.sweep_run, "model": model, "batchSize": batch},
                                plan.repeats)
            point["shard_flops"] = batch // 2 * flops[model]
            points.append(point)
            log(f"sweep {model} batch {batch}: N=2/N=1 {point['ratio']:.2f}")
    problems = [problem for point in points for problem in point.pop("problems")]
    figures = {"run": plan.sweep_run, "repeats": plan.repeats, "boot_seconds": boot,
               "points": points, "crossover": crossovers(points)}
    return EngineResult("scaling-sweep", figures, "; ".join(problems) or None)


def crossover(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The shard FLOPs from which N=2 beats N=1: between the last losing point and the first
    of the points that all win, where the ratio's line (against log FLOPs) crosses 1."""
    ordered = sorted(points, key=lambda point: point["shard_flops"])
    wins = [point["ratio"] > 1 for point in ordered]
    first = next((i for i in range(len(ordered)) if all(wins[i:])), len(ordered))
    below = ordered[first - 1] if first > 0 else None
    above = ordered[first] if first < len(ordered) else None
    estimate = None
    if below and above:
        share = (1 - below["ratio"]) / (above["ratio"] - below["ratio"])
        estimate = below["shard_flops"] * (above["shard_flops"] / below["shard_flops"]) ** share
    return {"loses_at_flops": below and below["shard_flops"],
            "wins_from_flops": above and above["shard_flops"], "estimate_flops": estimate}


def crossovers(points: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each model's crossover and all points' together (in FLOPs a model's is comparable)."""
    models = dict.fromkeys(point["model"] for point in points)
    found = {model: crossover([p for p in points if p["model"] == model]) for model in models}
    return {**found, "all": crossover(points)} if len(models) > 1 else found


def megaflops(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MFLOP"


def headline_lines(result: EngineResult) -> list[str]:
    lines = []
    for run in result.figures.get("runs", []):
        heaps = " / ".join("-" if h is None else f"{h / 2**20:.0f}" for h in run["heap_bytes"])
        boot = run["boot_seconds"]
        lines.append(f"{result.engine.removeprefix('scaling-'):<8} {run['workers']:>2} "
                     f"{run['images_per_second']:>9.0f} {run['speedup']:>8.2f}x "
                     f"{100 * run['test_accuracy']:>8.2f}% {heaps:>18} "
                     f"{'-' if boot is None else f'{boot:.1f}':>7} "
                     f"{'equal' if run['checksums_equal'] else 'DIFFER':>9} "
                     f"{run['worst_frame_gap_ms']:>9.0f}")
    return lines


def sweep_lines(result: EngineResult) -> list[str]:
    f = result.figures
    if not f:  # the sweep failed before it had a point
        return []
    header = (f"{'model':<9} {'batch':>5} {'shard MFLOP':>12} {'N=1 img/s':>10} "
              f"{'N=2 img/s':>10} {'N=2/N=1':>8}")
    lines = ["", f"crossover sweep: {f['run']['trainSize']} images, 1 epoch, no validation, "
                 f"median of {f['repeats']} runs per N (replicas booted in "
                 f"{f['boot_seconds']:.1f} s)", header, "-" * len(header)]
    for p in f["points"]:
        speed = p["images_per_second"]
        lines.append(f"{p['model']:<9} {p['batch_size']:>5} {p['shard_flops'] / 1e6:>12.1f} "
                     f"{speed[1]:>10.0f} {speed[2]:>10.0f} {p['ratio']:>8.2f}")
    lines.append("shard = batch // 2 images' forward FLOPs; N=2 beats N=1 from:")
    lines += [f"  {name:<9} {crossover_text(c)}" for name, c in f["crossover"].items()]
    return lines


def crossover_text(found: dict[str, Any]) -> str:
    below, above = found["loses_at_flops"], found["wins_from_flops"]
    if above is None:
        return f"nowhere in the sweep (loses up to {megaflops(below)})"
    if below is None:
        return f"at most {megaflops(above)} (wins at every point)"
    return (f"~{megaflops(found['estimate_flops'])} (loses at {megaflops(below)}, wins from "
            f"{megaflops(above)} on)")


def scaling_table(results: list[EngineResult], flops: dict[str, int]) -> str:
    header = (f"{'config':<8} {'N':>2} {'images/s':>9} {'speed-up':>9} {'test acc':>9} "
              f"{'heap MiB/worker':>18} {'boot s':>7} {'weights':>9} {'frame ms':>9}")
    lines = [f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}",
             "forward FLOPs per image: " + ", ".join(f"{m} {v:,}" for m, v in flops.items()),
             "", header, "-" * len(header)]
    for result in results:
        if result.error:
            lines.append(f"{result.engine} ERROR: {result.error}")
        lines += sweep_lines(result) if result.engine == "scaling-sweep" \
            else headline_lines(result)
    lines += ["", "images/s: the median of each N's runs (3 for codelab and strong), in "
                  "alternating order; speed-up: over N=1's in the same page; heap: each "
                  "worker's wasm heap after the run, lead first (the lead's includes the "
                  "earlier runs' peaks); "
                  "boot: the replicas' boot inside the first warm-up; weights: the replicas' "
                  "checksums against the lead's; frame: the page's worst gap between animation "
                  "frames while it trained; exchange (how batches reach the other workers): "
                  + (", ".join(sorted({str(run.get("exchange")) for result in results
                                       for run in result.figures.get("runs", [])
                                       if run["workers"] > 1})) or "-")]
    return "\n".join(lines)


def run_scaling(plan: ScalingPlan, flops: dict[str, int]) -> list[EngineResult]:
    with digitlab_server() as url, browser_session() as browser:
        results = [attempt(f"scaling-{name}", functools.partial(
            measure_headline, browser, url, name, config, plan))
            for name, config in plan.headline.items()]
        results.append(attempt("scaling-sweep", functools.partial(
            measure_sweep, browser, url, plan, flops)))
    return results


def scaling_main(plan: Plan) -> int:
    scaling = scaling_plan(plan)
    flops = flops_per_image()
    with timing_lock():
        results = run_scaling(scaling, flops)
    text = scaling_table(results, flops)
    print(text, flush=True)
    write_document({"mode": "scaling", "quick": scaling.quick, "cpu_count": os.cpu_count(),
                    "worker_counts": scaling.counts, "test_size": scaling.test_size,
                    "flops_per_image": flops, "environment": environment(),
                    "sections": {r.engine: {**r.figures, "error": r.error} for r in results},
                    "table": text.splitlines()}, scaling.out)
    return 1 if any(r.error for r in results) else 0


# ---------------------------------------------------------------- main

def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_plan(argv: list[str] | None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="reduced config (1000 images, 1 epoch, test on 2000) for CI")
    parser.add_argument("--strong", action="store_true",
                        help="also train the strong model in the page on 54000 images (minutes)")
    parser.add_argument("--backends", default="cpu,webgl",
                        help="comma-separated tfjs backends (default: cpu,webgl)")
    parser.add_argument("--ready", action="store_true",
                        help="only time to ready against the bare Pyodide boot (minutes)")
    parser.add_argument("--ready-without-sw", action="store_true",
                        help="time to ready with the page's service worker blocked")
    parser.add_argument("--scaling", action="store_true",
                        help="only data-parallel training in the page: N=1 against N=2 (4), "
                             "and the shard size from which N=2 wins (~20 minutes)")
    parser.add_argument("--samples", type=int,
                        help=f"first visits and reloads per page for ready (default "
                             f"{READY_SAMPLES}; 1 with --quick)")
    parser.add_argument("--out", type=Path, help="results file (default: bench/results/<UTC time>"
                                                 "[-quick].json)")
    args = parser.parse_args(argv)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-ready" if args.ready else "-quick" if args.quick else ""
    if args.scaling:
        suffix = "-scaling-quick" if args.quick else "-scaling"
    out = args.out or RESULTS / f"{stamp}{suffix}.json"
    return Plan(config=dict(QUICK if args.quick else CODELAB),
                test_size=QUICK_TEST_SIZE if args.quick else FULL_TEST_SIZE,
                tfjs_backends=[b for b in args.backends.split(",") if b],
                strong=args.strong, out=out, quick=args.quick, ready_only=args.ready,
                ready_samples=args.samples or (1 if args.quick else READY_SAMPLES),
                ready_service_workers="block" if args.ready_without_sw else "allow",
                scaling=args.scaling)


def run_ready_comparison(plan: Plan) -> EngineResult:
    with site_server() as url, browser_session() as browser:
        return attempt("ready", functools.partial(run_ready, browser, url, plan.ready_samples,
                                                  plan.ready_service_workers))


def run_all(plan: Plan) -> list[EngineResult]:
    results: list[EngineResult] = [run_ready_comparison(plan)]
    if plan.ready_only:
        return results
    with digitlab_server() as digitlab_url, bench_server() as tfjs_url, \
            browser_session() as browser:
        results.append(attempt("digitlab", functools.partial(
            run_digitlab, browser, digitlab_url, plan)))
        for backend in plan.tfjs_backends:
            results.append(attempt(f"tfjs-{backend}", functools.partial(
                run_tfjs, browser, tfjs_url, backend, plan)))
        if plan.strong:
            results.append(attempt("digitlab-strong", functools.partial(
                run_digitlab_strong, browser, digitlab_url)))
    # After the browser: CPython gets both cores to itself, as the page engines did.
    results.append(attempt("cpython", functools.partial(run_cpython, plan)))
    # The CLI on two processes: one per core here, as the page's two workers.
    results.append(attempt("cpython-2", functools.partial(run_cpython, plan, 2)))
    return results


def main(argv: list[str] | None = None) -> int:
    plan = parse_plan(argv)
    if plan.scaling:
        return scaling_main(plan)
    with timing_lock():
        results = run_all(plan)
    text = ready_table(results) if plan.ready_only else table(results, plan)
    print(text, flush=True)
    write_results(results, plan, text)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
