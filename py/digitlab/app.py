"""The browser controller: runs in the Pyodide worker, answers the page's calls, draws canvases.

This and `canvas.py` are the only modules that touch the browser (`js`, `pyodide`); everything
they call is the same code the CLI and the tests run under CPython.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from digitlab.data import MnistData


class AppError(Exception):
    """An error the page shows in its banner: a stable `code` plus a message naming the cause."""

    def __init__(self, code: str, message: str, stage: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.stage = stage


async def bytes_of(download: Any, file_name: str, code: str) -> bytes:
    """Await a download started by worker.js ({ok, status, bytes}) and return its bytes."""
    try:
        result = await download
    except Exception as error:  # a dropped connection rejects the fetch
        raise AppError(code, f"{file_name}: the download failed ({error})", "data") from None
    if not result.ok:
        raise AppError(code, f"{file_name}: HTTP {result.status}", "data")
    return result.bytes.to_bytes()


def data_error_code(message: str) -> str:
    return "DATA_LABELS" if "mnist_labels_uint8" in message else "DATA_SPRITE"


class App:
    """One per worker. Public methods are the page's calls; each returns JSON-ready values."""

    def __init__(self, canvases: Any, settings: str) -> None:
        from digitlab.canvas import CanvasSet

        self.settings = json.loads(settings)
        self.canvases = CanvasSet(canvases, dark=self.settings.get("dark", False))
        self.data: MnistData | None = None

    # ------------------------------------------------------------ boot

    async def boot(self, sprite_download: Any, labels_download: Any) -> str:
        try:
            sprite = await bytes_of(sprite_download, "mnist_images.png", "DATA_SPRITE")
            labels = await bytes_of(labels_download, "mnist_labels_uint8", "DATA_LABELS")
            try:
                self.data = MnistData.from_bytes(sprite, labels)
            except ValueError as error:
                raise AppError(data_error_code(str(error)), str(error), "data") from None
            self.draw_examples()
            return json.dumps({"ok": True, "value": {"examples": self.examples()}})
        except AppError as error:
            return json.dumps({"ok": False, "code": error.code, "stage": error.stage,
                               "message": str(error)})
        except Exception as error:
            traceback.print_exc()
            return json.dumps({"ok": False, "code": "RUNTIME", "stage": "data",
                               "message": f"{type(error).__name__}: {error}"})

    # ------------------------------------------------------------ calls

    async def call(self, method: str, args_json: str, payload: Any = None) -> str:
        """Dispatch one call from the page; errors become {ok: false, code, message}."""
        handler = getattr(self, f"call_{method}", None)
        try:
            if handler is None:
                raise AppError("INTERNAL", f"unknown method {method!r}")
            args = json.loads(args_json) or {}
            value = handler(args, payload)
            if hasattr(value, "__await__"):
                value = await value
            return json.dumps({"ok": True, "value": value})
        except AppError as error:
            return json.dumps({"ok": False, "code": error.code, "message": str(error)})
        except Exception as error:
            traceback.print_exc()
            return json.dumps({"ok": False, "code": "INTERNAL",
                               "message": f"{type(error).__name__}: {error}"})

    def call_examples(self, args: dict, payload: Any) -> list[dict]:
        return self.examples()

    # ------------------------------------------------------------ data step

    def examples(self) -> list[dict]:
        indices, labels = self.data.examples()
        pairs = zip(indices, labels, strict=True)
        return [{"index": int(i), "label": int(label)} for i, label in pairs]

    def draw_examples(self) -> None:
        indices, labels = self.data.examples()
        self.canvases.digit_grid("examples", self.data.images[indices], labels)
