"""The page's code cells, on the worker side: one codelab Session per worker, and the streams
of a running cell posted to the page as they are written.

The reader's code runs only when the page asks (`runCode`, from a Run click or Ctrl-Enter).
It is synchronous Python: while it runs the worker takes no messages, so the page stops it
with Pyodide's interrupt buffer (a KeyboardInterrupt in the cell) or by ending the worker.
Each write to stdout or stderr is posted at once as `{"type": "cell-output", step, stream,
text}`; postMessage leaves the worker even while Python is busy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from digitlab import codelab
from digitlab.errors import ConfigError
from digitlab.i18n import text

# A cell is a few dozen lines; a megabyte of "code" is a mistake (or a link built to hurt).
MAX_CODE_CHARS = 200_000


def stopped(lang: str) -> dict:
    """A cell's result when Stop interrupted it."""
    message = text(lang, "cell.interrupted")
    return {"ok": False, "stdout": "", "stderr": "",
            "error": {"type": "KeyboardInterrupt", "message": message, "line": None,
                      "hint": None}}


class Cells:
    """The code cells: the Session their namespaces live in, created at the first run."""

    def __init__(self, post: Callable[[dict], None]) -> None:
        self.post = post
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

    def session_for(self, data: Any, canvases: Any, lang: str, model: Any) -> Any:
        """The Session, made on first use, holding the lab's current model."""
        if self.session is None:
            self.session = codelab.Session(data, canvases, lang, model=model)
        elif model is not None:
            self.session.set_model(model)
        return self.session

    def run(self, step: str, code: str, session: Any, lang: str) -> dict:
        """Run `code` as the cell of `step`: {ok, stdout, stderr, error}."""

        def writer(stream: str) -> Callable[[str], None]:
            def write(chunk: str) -> None:
                if chunk:
                    self.post({"type": "cell-output", "step": step, "stream": stream,
                               "text": chunk})
            return write

        self.running = step
        try:
            return session.run(step, code, writer("stdout"), writer("stderr"))
        except KeyboardInterrupt:  # Stop landed outside the cell's own code
            return stopped(lang)
        finally:
            self.running = None
