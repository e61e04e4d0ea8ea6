"""Helpers the end-to-end tests share: reading canvases back, calling window.digitlab."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from playwright.sync_api import Page


def canvas_rgba(page: Page, testid: str) -> np.ndarray:
    """The pixels of a canvas (transferred to the worker or not) as uint8 [H, W, 4]."""
    url = page.evaluate(
        "id => document.querySelector(`[data-testid='${id}']`).toDataURL('image/png')", testid)
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


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
