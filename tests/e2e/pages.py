"""Helpers the end-to-end tests share: reading canvases back, calling window.digitlab."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
from PIL import Image
from playwright.sync_api import Page


def canvas_rgba(page: Page, testid: str) -> np.ndarray:
    """The pixels of a canvas (transferred to the worker or not) as uint8 [H, W, 4]."""
    url = page.evaluate(
        "id => document.querySelector(`[data-testid='${id}']`).toDataURL('image/png')", testid)
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def canvas_rgba_changed(page: Page, testid: str, before: np.ndarray,
                        timeout_s: float = 3.0) -> np.ndarray:
    """The canvas's pixels once they differ from `before` (or the last read after timeout_s).

    A worker's OffscreenCanvas reaches its placeholder asynchronously, after the worker yields,
    so a read right after a call can still show the previous frame.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        pixels = canvas_rgba(page, testid)
        if pixels.shape != before.shape or not np.array_equal(pixels, before) \
                or time.monotonic() > deadline:
            return pixels
        page.wait_for_timeout(100)


def call(page: Page, expression: str, arg=None):
    """Evaluate a promise-returning expression; a rejection comes back as {"error", "code"}."""
    return page.evaluate(
        f"""async (arg) => {{
            try {{ return await ({expression}); }}
            catch (e) {{ return {{error: String(e.message), code: e.code ?? null}}; }}
        }}""", arg)


def alert_text(page: Page) -> str:
    banner = page.get_by_test_id("alert")
    return banner.inner_text() if banner.is_visible() else ""


def wait_phase(page: Page, phase: str, timeout_ms: int = 300_000) -> None:
    page.wait_for_function(f"() => window.digitlab.state().phase === '{phase}'", timeout=timeout_ms)


def draw_one(page: Page) -> None:
    """Draw a slightly slanted "1" on the pad with the mouse."""
    page.get_by_test_id("pad").scroll_into_view_if_needed()
    box = page.get_by_test_id("pad").bounding_box()
    x = box["x"] + box["width"] * 0.5
    page.mouse.move(x, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x + step * 0.3, box["y"] + box["height"] * (0.2 + 0.03 * step))
    page.mouse.up()
