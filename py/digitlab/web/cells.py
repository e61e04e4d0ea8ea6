"""The page's code cells, on the worker side: one codelab Session per worker, the streams of a
running cell posted to the page as they are written, and a callback that lets the worker
breathe while a cell trains.

The reader's code runs only when the page asks (`runCode`, from a Run click or Ctrl-Enter).
It is synchronous Python, so while it runs the worker takes no messages of its own accord.
Two things give it back its event loop for a moment:

- `PageCallback` joins every fit, evaluate and predict a cell calls (`keras.callbacks.always`,
  through Session.run's `callbacks`): at most every PAUSE_S it calls `pause()`, which in the
  browser is `pyodide.ffi.run_sync` on a zero-delay promise (JSPI: Chromium has it, and a call
  entered as an async Python function can suspend). The charts a cell draws reach the page
  live, and a Stop message arrives: `take_stop()` then ends the fit after its batch.
- For code that never calls back (`while True: pass`), the page stops it with Pyodide's
  interrupt buffer (KeyboardInterrupt), or ends the worker and starts a fresh one.

Each write to stdout or stderr is posted at once as `{"type": "cell-output", step, stream,
text}`; postMessage leaves the worker even while Python is busy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from digitlab.codelab import session as codelab
from digitlab.errors import ConfigError
from digitlab.i18n import text
from digitlab.keras import Callback

# A cell is a few dozen lines; a megabyte of "code" is a mistake (or a link built to hurt).
MAX_CODE_CHARS = 200_000
PAUSE_S = 0.1  # let the worker draw and hear Stop this often while a cell trains


def stopped(lang: str) -> dict:
    """A cell's result when Stop interrupted it outside the reader's own code."""
    return {"ok": False, "stdout": "", "stderr": "",
            "error": {"type": "KeyboardInterrupt", "message": text(lang, "cell.interrupted"),
                      "line": None, "hint": None}}


class PageCallback(Callback):
    """Joins every fit, evaluate and predict of a cell: pauses for the page, checks Stop."""

    def __init__(self, pause: Callable[[], None], take_stop: Callable[[], bool]) -> None:
        super().__init__()
        self.pause, self.take_stop = pause, take_stop
        self.last = time.perf_counter()

    def tick(self) -> None:
        now = time.perf_counter()
        if now - self.last < PAUSE_S:
            return
        self.pause()  # the canvases' new frames reach the page; a Stop message gets in
        self.last = time.perf_counter()
        if self.take_stop() and self.model is not None:
            self.model.stop_training = True  # Keras's way: the fit ends after this batch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.tick()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.tick()

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.tick()


class Cells:
    """The code cells: the Session their namespace lives in, made at the first run."""

    def __init__(self, post: Callable[[dict], None], pause: Callable[[], None],
                 take_stop: Callable[[], bool]) -> None:
        self.post, self.pause, self.take_stop = post, pause, take_stop
        self.session: Any = None
        self.running: str | None = None  # the step whose cell is running, if one is

    @staticmethod
    def originals() -> dict[str, str]:
        """{step: the step's original code}, read from the codelab package."""
        return {step: codelab.original(step) for step in codelab.STEPS}

    @staticmethod
    def check(args: dict) -> tuple[str, str]:
        step, code = args.get("step"), args.get("code")
        if step not in codelab.STEPS:
            raise ConfigError("choice", field="step", value=step, choices=list(codelab.STEPS))
        if not isinstance(code, str) or len(code) > MAX_CODE_CHARS:
            raise ConfigError("code", field="code", limit=MAX_CODE_CHARS)
        return step, code

    def session_for(self, data: Any, canvases: Any, lang: str, model: Any,
                    present: Callable[[str, Any], None]) -> Any:
        """The Session, made on first use, holding the lab's current model and language."""
        if self.session is None:
            self.session = codelab.Session(data, canvases, lang, model=model, present=present)
        else:
            self.session.set_model(model)
            self.session.set_language(lang)
        return self.session

    def run(self, step: str, code: str, session: Any, lang: str) -> dict:
        """Run `code` as the cell of `step`: {ok, stdout, stderr, error}."""

        def writer(stream: str) -> Callable[[str], None]:
            def write(chunk: str) -> None:
                if chunk:
                    self.post({"type": "cell-output", "step": step, "stream": stream,
                               "text": chunk})
            return write

        self.take_stop()  # a Stop pressed before this cell started is not for it
        self.running = step
        try:
            result = session.run(step, code, writer("stdout"), writer("stderr"),
                                 callbacks=[PageCallback(self.pause, self.take_stop)])
        except KeyboardInterrupt:  # Stop landed outside the cell's own code
            result = stopped(lang)
        finally:
            self.running = None
        return {key: result.get(key) for key in ("ok", "stdout", "stderr", "error")}
