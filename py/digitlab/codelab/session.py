"""The code cells' runner: one shared namespace, a cell run at a time, errors as data.

A `Session` is what the page's code cells talk to (in the worker, through the controller):
`run(step, code, write_out, write_err)` runs a cell's code in the namespace all cells share,
streaming what it prints, and answers

    {"ok": bool, "stdout": str, "stderr": str, "model_changed": bool, "trained": [models],
     "error": None | {"type", "message", "line", "cell", "hint", "traceback"}}

`model_changed`: `model` names another object than before; `trained`: the engine models the
cell fitted (the page's own model among them means its weights changed under it).

`line` is the line in the reader's code (a SyntaxError's own line; otherwise the deepest frame
of a cell, `cell` saying which), `traceback` the traceback trimmed to the cells' frames and
`hint` a sentence in the session's language for the common mistakes (a name not defined, a
model the front refuses, a shape mismatch, a misspelt argument, Stop), worded only through
`digitlab.i18n`. Nothing is lost: when a cell fails, the namespace gets back the bindings it
had before (a failing `get_model` cell leaves `model` as it was).

`model_from_code()` builds the model cell's `get_model()` afresh for the page (Train with the
model "from code", the summary); `set_model` and `set_pixels` bring the page's current model
and drawing into the namespace.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import re
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitlab import keras
from digitlab.codelab.dataset import CodelabData
from digitlab.codelab.show import Present, Show
from digitlab.data.mnist import MnistData
from digitlab.errors import ConfigError, DigitLabError, error
from digitlab.i18n import describe, text
from digitlab.nn.sequential import Sequential as EngineSequential

STEPS = ("data", "model", "train", "evaluate", "try")
CELLS = Path(__file__).resolve().parent / "cells"
# The Keras-style names every cell has without an import, as the codelab's code has `tf`.
KERAS_NAMES = ("Sequential", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Adam",
               "SGD")
_CELL_FILE = re.compile(r"<cell (\w+)>")

Write = Callable[[str], Any]


def original(step: str) -> str:
    """The original code of `step`'s cell (what Reset brings back)."""
    if step not in STEPS:
        raise ConfigError("choice", field="step", value=step, choices=list(STEPS))
    return (CELLS / f"{step}.py").read_text(encoding="utf-8")


def cell_file(step: str) -> str:
    """The file name a cell's code is compiled under: tracebacks name it, trimming keeps it."""
    return f"<cell {step}>"


def cell_names(data: CodelabData, show: Show, model: Any = None,
               pixels: np.ndarray | None = None) -> dict[str, Any]:
    """The names a cell has without an import: the Keras-style front's, `np`, and the lab's
    objects (`data`, `model`, `show`, and `pixels`, the pad's drawing)."""
    names: dict[str, Any] = {name: getattr(keras, name) for name in KERAS_NAMES}
    names.update(np=np, data=data, show=show, model=model, pixels=pixels)
    return names


def default_pixels(data: CodelabData) -> np.ndarray:
    """`pixels` before anything is drawn: the first test image (a 7), 28 x 28 in [0, 1]."""
    return data.test(1)[0][0, :, :, 0]


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr while a cell runs: each write goes to `write` at once (the page
    shows it while the cell still runs) and is kept for the result."""

    def __init__(self, write: Write | None) -> None:
        super().__init__()
        self.write_to = write
        self.parts: list[str] = []
        self._forwarding = False

    def writable(self) -> bool:
        return True

    def write(self, chunk: str) -> int:
        chunk = str(chunk)
        if chunk and not self._forwarding:  # what `write` itself prints is not the cell's
            self.parts.append(chunk)
            if self.write_to is not None:
                self._forwarding = True
                try:
                    self.write_to(chunk)
                finally:
                    self._forwarding = False
        return len(chunk)

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _Fits(keras.Callback):
    """Notes the engine model of every fit a cell calls."""

    def __init__(self) -> None:
        super().__init__()
        self.models: list[EngineSequential] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        engine = self.model.engine
        if not any(engine is seen for seen in self.models):
            self.models.append(engine)


class Session:
    """The cells' shared namespace over the lab's data, canvases and language.

    `data`: the lab's MnistData (wrapped as `CodelabData`: float32 images [N, 28, 28, 1],
    one-hot labels) or a CodelabData. `canvases`: a CanvasSet-like object (see codelab.show);
    `present`: how a drawing reaches it (default: painted at once). `model`: the page's current
    model, an engine `nn.sequential.Sequential`, or None. `code[step]` is the code each cell
    last ran (its original until then).
    """

    def __init__(self, data: MnistData | CodelabData, canvases: Any, lang: str = "en",
                 model: EngineSequential | None = None, present: Present | None = None) -> None:
        self.lang = lang
        self.data = data if isinstance(data, CodelabData) else CodelabData(data)
        self.show = Show(canvases, lang, present)
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self.namespace.update(cell_names(self.data, self.show, None,
                                         default_pixels(self.data)))
        self.running = False
        self._from_code: keras.Sequential | None = None  # the front model_from_code built
        self.code: dict[str, str] = {step: original(step) for step in STEPS}  # as last run
        self.set_model(model)

    # ------------------------------------------------------------ what the page changes
    def set_model(self, model: EngineSequential | None) -> None:
        """The page's current model is now `model` (None: none yet): `model` in the cells.

        The cells get a front ready to fit, compiled as the page trains: with the model's own
        optimiser when it has one (its state goes on), else the codelab's Adam(0.001); always
        categorical cross-entropy and accuracy. The model the model cell built for the page
        (`model_from_code`) is given back as the cell compiled it, and a model the cells
        already front keeps its front."""
        bound = self.namespace.get("model")
        if model is None:
            self.namespace["model"] = None
        elif _fronts(bound, model):
            return
        elif _fronts(self._from_code, model):
            self.namespace["model"] = self._from_code
        else:
            front = keras.Sequential.wrap(model)
            front.compile(optimizer=front.optimizer or keras.Adam(0.001),
                          loss="categorical_crossentropy", metrics=["accuracy"])
            self.namespace["model"] = front

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        """The pad's drawing (28 x 28 or 784 values in [0, 1]) is `pixels` in the cells; None:
        the first test image again."""
        self.namespace["pixels"] = default_pixels(self.data) if pixels is None else \
            np.asarray(pixels, dtype=np.float32).reshape(28, 28)

    def set_language(self, lang: str) -> None:
        """Hints and the canvases' words in `lang` from now on."""
        self.lang = self.show.lang = lang

    @property
    def model(self) -> EngineSequential | None:
        """The engine model `model` names in the cells (built now if it was not yet); None
        when it names no keras model, or one the front refuses to build."""
        bound = self.namespace.get("model")
        if not isinstance(bound, keras.Sequential):
            return None
        try:
            return bound.engine
        except DigitLabError:
            return None

    # ------------------------------------------------------------ running a cell
    def run(self, step: str, code: str, write_out: Write | None = None,
            write_err: Write | None = None, callbacks: Sequence[Any] = ()) -> dict:
        """Run `code` as `step`'s cell; see the module's docstring for the answer. `callbacks`
        (keras Callbacks) join every fit, evaluate and predict the cell calls: the page's Stop
        check (it sets `model.stop_training`), a pause to let the worker draw."""
        if step not in STEPS:
            raise ConfigError("choice", field="step", value=step, choices=list(STEPS))
        if self.running:  # the page refuses a second Run first; this is the second guard
            raise error("BUSY", "training")
        filename = cell_file(step)
        # The traceback shows the reader's lines: linecache is where it reads them from.
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        out, err = _Stream(write_out), _Stream(write_err)
        before = dict(self.namespace)
        problem = None
        fits = _Fits()
        self.running = True
        self.code[step] = code
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    keras.callbacks.always(*callbacks, fits):
                try:
                    exec(compile(code, filename, "exec"), self.namespace)  # noqa: S102
                except BaseException as exception:  # noqa: BLE001 - Stop and exit() included
                    problem = self.explain(exception)
        finally:
            self.running = False
        if problem is not None:
            self.namespace.clear()
            self.namespace.update(before)
        return {"ok": problem is None, "stdout": out.text, "stderr": err.text,
                "model_changed": self.namespace.get("model") is not before.get("model"),
                "trained": fits.models,
                "error": problem}

    def call(self, name: str, *args: Any, write_out: Write | None = None,
             write_err: Write | None = None, callbacks: Sequence[Any] = ()) -> dict:
        """Call the cells' function `name` (e.g. `predict_drawing`) with `args`: the answer of
        `run`, with "value", what it returned (None when it failed)."""
        function = self.namespace.get(name)
        if not callable(function):  # its cell has not run: what calling it in a cell says
            missing = NameError(f"name '{name}' is not defined", name=name)
            return {"ok": False, "stdout": "", "stderr": "", "model_changed": False,
                    "trained": [], "error": self.explain(missing), "value": None}
        out, err = _Stream(write_out), _Stream(write_err)
        value, problem = None, None
        fits = _Fits()
        self.running = True
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    keras.callbacks.always(*callbacks, fits):
                try:
                    value = function(*args)
                except BaseException as exception:  # noqa: BLE001
                    problem = self.explain(exception)
        finally:
            self.running = False
        return {"ok": problem is None, "stdout": out.text, "stderr": err.text,
                "model_changed": False, "trained": fits.models, "error": problem,
                "value": value}

    def model_from_code(self, seed: int = 0) -> EngineSequential:
        """A fresh model from the model cell's `get_model()`, its weights seeded by `seed`;
        BAD_MODEL when there is no get_model, it fails, returns no Sequential, or the front
        refuses the model it describes."""
        get_model = self.namespace.get("get_model")
        if not callable(get_model):
            raise error("BAD_MODEL", "no_get_model")
        quiet = io.StringIO()  # the page shows the summary itself, not what get_model prints
        try:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                built = get_model()
                if isinstance(built, keras.Sequential):
                    if not built.built:  # weights not drawn yet: from `seed`, as train() would
                        built.seed = seed
                    engine = built.engine
        except DigitLabError:
            raise
        except Exception as exception:  # noqa: BLE001 - any mistake in the reader's code
            found = self.explain(exception)
            raise error("BAD_MODEL", "get_model_failed", exception=found["type"],
                        detail=found["message"], line=found["line"]) from None
        if not isinstance(built, keras.Sequential):
            raise error("BAD_MODEL", "not_sequential", kind=type(built).__name__)
        self._from_code = built
        return engine

    # ------------------------------------------------------------ errors
    def explain(self, exception: BaseException) -> dict:
        """An exception of the reader's code as data: type, message, its line in the cells,
        the traceback trimmed to the cells' frames, and a hint in the session's language."""
        frames = [frame for frame in traceback.extract_tb(exception.__traceback__)
                  if _CELL_FILE.fullmatch(frame.filename or "")]
        line, cell = None, None
        if isinstance(exception, SyntaxError) and _CELL_FILE.fullmatch(exception.filename or ""):
            line, cell = exception.lineno, _CELL_FILE.fullmatch(exception.filename).group(1)
        elif frames:
            line, cell = frames[-1].lineno, _CELL_FILE.fullmatch(frames[-1].filename).group(1)
        shown = "".join(traceback.format_exception_only(type(exception), exception))
        if frames:
            shown = ("Traceback (most recent call last):\n"
                     + "".join(traceback.format_list(frames)) + shown)
        return {"type": type(exception).__name__, "message": _message(exception),
                "line": line, "cell": cell, "hint": hint(exception, self.lang),
                "traceback": shown}


def _constructed(exception: BaseException) -> str | None:
    """The class the reader's code was making when `exception` came from a constructor: a
    layer hands its keywords on to its base class, whose own name would mislead."""
    tb, name = exception.__traceback__, None
    while tb is not None:
        frame = tb.tb_frame
        if _CELL_FILE.fullmatch(frame.f_code.co_filename):
            name = None
        elif name is None and frame.f_code.co_name == "__init__" and "self" in frame.f_locals:
            name = type(frame.f_locals["self"]).__name__
        tb = tb.tb_next
    return name


def _fronts(front: Any, engine: EngineSequential) -> bool:
    """`front` is a keras model built as `engine` (its weights are engine's)."""
    return isinstance(front, keras.Sequential) and front.built and front.engine is engine


def _message(exception: BaseException) -> str:
    if isinstance(exception, SyntaxError):
        return exception.msg or ""
    return str(exception)


_KEYWORD = re.compile(r"(?P<function>[\w.]+)\(\) got an unexpected keyword argument "
                      r"'(?P<argument>\w+)'")
_MISSING = re.compile(r"(?P<function>[\w.]+)\(\) missing \d+ required "
                      r"(?:positional |keyword-only )?arguments?: '(?P<argument>\w+)'")
_SHAPE_WORDS = ("shape", "broadcast", "dimension", "reshape", "aligned")


def hint(exception: BaseException, lang: str) -> str | None:
    """A sentence for a common mistake, in `lang`; None for the rest (the message says it)."""
    if isinstance(exception, KeyboardInterrupt):
        return text(lang, "cells.hint.stopped")
    if isinstance(exception, DigitLabError):
        return describe(exception, lang)
    if isinstance(exception, IndentationError):
        return text(lang, "cells.hint.indentation", line=exception.lineno or "?")
    if isinstance(exception, SyntaxError):
        return text(lang, "cells.hint.syntax", line=exception.lineno or "?")
    if isinstance(exception, ModuleNotFoundError):
        return text(lang, "cells.hint.import", module=exception.name or "?")
    if isinstance(exception, NameError):
        name = getattr(exception, "name", None) or "?"
        return text(lang, "cells.hint.name", name=name)
    if isinstance(exception, TypeError):
        for pattern, key in ((_KEYWORD, "cells.hint.keyword"), (_MISSING, "cells.hint.missing")):
            match = pattern.search(str(exception))
            if match:
                function = _constructed(exception) or match.group("function")
                return text(lang, key, function=function.removesuffix(".__init__"),
                            argument=match.group("argument"))
    if isinstance(exception, AttributeError) and "'NoneType'" in str(exception):
        return text(lang, "cells.hint.none")
    if isinstance(exception, ValueError) and any(word in str(exception).lower()
                                                 for word in _SHAPE_WORDS):
        return text(lang, "cells.hint.shape")
    return None
