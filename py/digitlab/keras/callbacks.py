"""Keras 3 callbacks: `Callback` (Keras's method names), `History`, `LambdaCallback`,
`EarlyStopping`, and `always`, for code that runs other people's cells.

During `fit`, a callback sees, in Keras's order: `on_train_begin`, then per epoch
`on_epoch_begin(epoch)`, `on_train_batch_begin(batch)` / `on_train_batch_end(batch, logs)` for
each batch (logs: the epoch's running means so far, `{"loss", "accuracy"}`, as Keras reports
them), `on_epoch_end(epoch, logs)` (adds `val_loss`, `val_accuracy` with validation data) and
finally `on_train_end(logs)`. `evaluate` calls the `on_test_*` methods, `predict` the
`on_predict_*` ones. `self.model` is the Keras-style model; setting
`self.model.stop_training = True` ends training after the current batch. The model's
`run` is the engine's TrainingRun of the fit in progress: `run.history["batches"]` holds
every batch's own loss and accuracy (what the page's batch chart draws).

`always(*callbacks)` (a context manager) adds callbacks to every fit, evaluate and predict
called inside it, without the code that calls them naming them. The page's cell runner uses
it to stream progress, draw live charts and check the Stop button after every batch::

    with always(StopCheck(), LiveCharts()):
        exec(cell_code, namespace)   # the cell's model.fit(...) reports to both
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_HOOKS = ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
          "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end")


class Callback:
    """keras.callbacks.Callback: override any of the `on_*` methods."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Keras's older name: on_train_batch_begin calls it."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Keras's older name: on_train_batch_end calls it."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_test_begin(self, logs: dict | None = None) -> None: ...

    def on_test_end(self, logs: dict | None = None) -> None: ...

    def on_predict_begin(self, logs: dict | None = None) -> None: ...

    def on_predict_end(self, logs: dict | None = None) -> None: ...


class CallbackList(Callback):
    """Several callbacks called as one, in order."""

    def __init__(self, callbacks: list[Callback] | None = None, model: Any = None,
                 **params: Any) -> None:
        super().__init__()
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be keras Callback instances, got {callback!r}")
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_params(self, params):
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for callback in self.callbacks:
            callback.set_model(model)



def _dispatch(name: str) -> Callable:
    """A CallbackList hook: as Keras's, every callback gets the logs positionally, {} when the
    caller gave none (so `LambdaCallback(on_train_begin=lambda logs: ...)` works)."""
    indexed = "batch" in name or "epoch" in name

    def call_all(self: CallbackList, *args: Any, logs: dict | None = None) -> None:
        given = list(args)
        index = [given.pop(0)] if indexed else []
        if given:
            logs = given[0]
        args = (*index, {} if logs is None else logs)
        for callback in self.callbacks:
            getattr(callback, name)(*args)
    call_all.__name__ = name
    return call_all


for _name in _HOOKS:
    setattr(CallbackList, _name, _dispatch(_name))


class History(Callback):
    """Records every epoch's logs: `history` {"loss": [...], "accuracy": [...], "val_loss":
    [...], "val_accuracy": [...]} and `epoch` [0, 1, ...]. `fit` returns it."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class LambdaCallback(Callback):
    """keras.callbacks.LambdaCallback: functions for some of the hooks, e.g.
    `LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))`."""

    def __init__(self, on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None, **hooks: Callable) -> None:
        super().__init__()
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got an unexpected keyword argument {unknown[0]!r}")
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **hooks}
        for name, function in given.items():
            if function is not None:
                setattr(self, name, function)


class EarlyStopping(Callback):
    """keras.callbacks.EarlyStopping: stop when `monitor` has not improved by `min_delta` for
    `patience` epochs; `restore_best_weights` goes back to the best epoch's weights."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if monitor.endswith(("acc", "accuracy")) else "min"
        self.monitor, self.mode, self.patience, self.verbose = monitor, mode, patience, verbose
        self.min_delta, self.baseline = abs(min_delta), baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def _improves(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None \
                and self.stopped_epoch > 0:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ProgbarLogger(Callback):
    """What `verbose` prints, one line per epoch as Keras's verbose=2 does (a page's output
    shows plain text: no carriage-return bars): "Epoch 1/10", then
    "11/11 - 2s - 150ms/step - loss: 1.3011 - accuracy: 0.5012 - val_loss: ... ",
    and one such line for evaluate and predict."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def _start(self) -> None:
        self._begin, self._first, self._steps = time.perf_counter(), None, 0

    def _step(self) -> None:
        self._steps += 1
        if self._steps == 1:
            self._first = time.perf_counter()

    def _line(self, logs: dict | None) -> str:
        now = time.perf_counter()
        steps = self._steps
        if steps > 1 and self._first is not None:
            per_step = (now - self._first) / (steps - 1)
        else:
            per_step = (now - self._begin) / max(steps, 1)
        total = self.params.get("steps") or steps
        width = len(str(total))
        line = f"{steps:>{width}}/{total} - {now - self._begin:.0f}s -{_per_step(per_step)}"
        for key, value in (logs or {}).items():
            line += f" - {key}: {value:.4f}" if abs(value) > 1e-3 else f" - {key}: {value:.4e}"
        return line

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs", 1)

    def on_epoch_begin(self, epoch, logs=None):
        if self._epochs > 1:
            self._write(f"Epoch {epoch + 1}/{self._epochs}")
        self._start()

    def on_train_batch_end(self, batch, logs=None):
        self._step()

    def on_epoch_end(self, epoch, logs=None):
        self._write(self._line(logs))

    def on_test_begin(self, logs=None):
        self._start()

    def on_test_batch_end(self, batch, logs=None):
        self._step()

    def on_test_end(self, logs=None):
        self._write(self._line(logs))

    def on_predict_begin(self, logs=None):
        self._start()

    def on_predict_batch_end(self, batch, logs=None):
        self._step()

    def on_predict_end(self, logs=None):
        self._write(self._line(None))


def _per_step(seconds: float) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/step"
    return f" {seconds * 1e6:.0f}us/step"


_always: list[Callback] = []


@contextmanager
def always(*callbacks: Callback) -> Iterator[None]:
    """Add `callbacks` to every fit, evaluate and predict called inside the `with` block (after
    the ones the call names)."""
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"always() takes keras Callback instances, got {callback!r}")
    _always.extend(callbacks)
    try:
        yield
    finally:
        for callback in callbacks:
            _always.remove(callback)


def added() -> list[Callback]:
    """The callbacks `always` adds right now."""
    return list(_always)


__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "ProgbarLogger", "always"]
