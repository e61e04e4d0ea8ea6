"""The controller's binding to the browser (with `web/replica.py` and `web/team.py`, the only
modules that touch `js` and `pyodide`).

`js/worker.js` calls `start(canvases, settings)` once Pyodide is up, then `boot`, `call` and
`take_bytes` on what it returns. Everything crossing here is plain: JSON text both ways, bytes
for files; the controller behind it never sees a JS object. The browser modules are imported in
`start`, so this module too imports under CPython.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from digitlab.web.canvas import CanvasSet
from digitlab.web.controller import Controller, Download
from digitlab.web.team import BrowserTeam


class JsDownload:
    """A download worker.js started ({ok, status, bytes}), awaited as a Download. Not a
    coroutine: a kernel variant nobody asks for is simply never awaited, without a warning."""

    def __init__(self, promise: Any) -> None:
        self.promise = promise

    def __await__(self) -> Any:
        return self._result().__await__()

    async def _result(self) -> Download:
        result = await self.promise
        inflated = getattr(result, "inflated", None)  # JS null and a missing field: None
        return Download(bool(result.ok), int(result.status),
                        result.bytes.to_bytes() if result.ok else None,
                        _arrays(inflated) if result.ok and inflated is not None else None)


def _arrays(inflated: Any) -> tuple[np.ndarray, np.ndarray]:
    """The worker's {width, height, rows, filters} as NumPy arrays: one copy each, straight
    from the JS buffer into the array's memory (51 MB for the sprite)."""
    rows = np.empty((int(inflated.height), int(inflated.width)), dtype=np.uint8)
    inflated.rows.assign_to(rows)
    filters = np.empty(int(inflated.height), dtype=np.uint8)
    inflated.filters.assign_to(filters)
    return rows, filters


class Worker:
    """What worker.js holds: the controller, behind JSON and bytes."""

    def __init__(self, controller: Controller, to_js: Any) -> None:
        self.controller, self.to_js = controller, to_js

    async def boot(self, sprite: Any, labels: Any, kernels: Any = None) -> str:
        variants = None if kernels is None else {
            name: JsDownload(promise) for name, promise in kernels.to_py(depth=1).items()}
        result = await self.controller.boot(JsDownload(sprite), JsDownload(labels), variants)
        return json.dumps(result)

    async def call(self, method: str, args_json: str, payload: Any = None) -> str:
        data = None if payload is None else payload.to_bytes()
        return json.dumps(await self.controller.call(method, json.loads(args_json), data))

    def state_changed(self) -> None:
        """A training replica booted or was lost (js/team.js): the page hears the new state."""
        self.controller.post_state()

    def take_bytes(self, token: int) -> Any:
        """The bytes the call with this token produced, as a Uint8Array."""
        return self.to_js(self.controller.take_bytes(token))


def start(canvases: Any, settings_json: str) -> Worker:
    """The worker's Python side, on the OffscreenCanvases the page transferred."""
    import js
    from pyodide.ffi import can_run_sync, run_sync, to_js

    def put_pixels(ctx: Any, rgba: np.ndarray, x: int, y: int) -> None:
        height, width, _ = rgba.shape
        pixels = js.Uint8ClampedArray.new(width * height * 4)
        pixels.assign(rgba.reshape(-1))
        ctx.putImageData(js.ImageData.new(pixels, width, height), x, y)

    def post(message: dict) -> None:
        js.digitlabPost(json.dumps(message))

    def pause() -> None:
        # JSPI: suspend this synchronous Python until the worker has run its event loop once
        # (a code cell's training: frames shown, Stop heard). Not where it cannot suspend.
        if can_run_sync():
            run_sync(js.digitlabYield())

    def typed(array: np.ndarray) -> Any:
        kind = js.Float32Array if array.dtype == np.float32 else js.Uint8Array
        copy = kind.new(array.size)
        copy.assign(array)
        return copy

    # JSPI: whether this browser can suspend Python for a promise at all.
    team = BrowserTeam(js.digitlabTeam, hasattr(js.WebAssembly, "Suspending"), can_run_sync,
                       run_sync, typed)
    settings = json.loads(settings_json)
    canvas_set = CanvasSet(canvases.to_py(depth=1), put_pixels,
                           dark=bool(settings.get("dark", False)))
    controller = Controller(canvas_set, settings, post, js.digitlabYield, js.digitlabTakeStop,
                            pause, team)
    return Worker(controller, to_js)
