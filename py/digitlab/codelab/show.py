"""`show`: the drawing helpers of the code cells, the codelab's tfjs-vis calls in Python.

The codelab draws with `tfvis.show.fitCallbacks`, `tfvis.show.perClassAccuracy`,
`tfvis.render.confusionMatrix` and a canvas per example digit; the cells call `show.examples`,
`show.fit_callbacks`, `show.history`, `show.per_class_accuracy`, `show.confusion` and
`show.probabilities` instead. Each draws on one of the page's canvases (the step the cell
belongs to: `CANVAS` below), with the page's own charts from `viz/`, its words in the
session's language (`digitlab.i18n`), and gives the canvas a text alternative.

`canvases` is anything with the interface of `web/canvas.CanvasSet` (`ctx(name, w, h)`,
`size(name)`, `put_image(name, rgba, x, y)`, `theme`): the page's OffscreenCanvases in the
worker, fake ones in the unit tests, `png_canvas.PngCanvases` in a script. Every drawing is a
`paint(canvases, lang) -> alt text` function handed to `present(name, paint)`: the page passes
one that draws it the way its own views do (kept for a language switch, the alt text posted),
and the default paints at once and keeps the alt text in `alts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from digitlab.i18n import text
from digitlab.keras import Callback
from digitlab.nn.metrics import confusion_matrix, per_class_accuracy
from digitlab.viz import charts
from digitlab.viz import images as draw

# Which canvas each helper draws on: the canvases of the step its cell belongs to.
CANVAS = {
    "examples": "examples",  # 1. data
    "batches": "chart-batch",  # 3. train: live, per batch
    "history": "chart-epoch",  # 3. train: per epoch
    "per_class_accuracy": "per-class",  # 4. evaluate
    "confusion": "confusion",  # 4. evaluate
    "probabilities": "pad-probs",  # 5. try it
}
# The codelab's metric names: Keras's, with tfjs's "acc" taken as "accuracy".
LOSS_METRICS = ("loss", "val_loss")
ACCURACY_METRICS = ("accuracy", "val_accuracy")
METRICS = LOSS_METRICS + ACCURACY_METRICS
_ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}
EXAMPLE_COLS, GRID_SCALE, LABEL_H = 10, 2, 16
CHART_INTERVAL_S = 0.25  # live charts redraw at most 4 times a second: drawing is not free

Painter = Callable[[Any, str], "str | None"]
Present = Callable[[str, Painter], None]


def fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def metric_name(name: str) -> str:
    """A metric as Keras names it ("acc" -> "accuracy")."""
    return _ALIASES.get(name, name)


def class_indices(labels: Any) -> np.ndarray:
    """Int classes [N] from int labels [N], one-hot rows or probabilities [N, 10]."""
    labels = np.asarray(labels)
    return (labels.argmax(axis=-1) if labels.ndim == 2 else labels).astype(np.intp)


def digits_uint8(images: Any) -> np.ndarray:
    """Images as MNIST's uint8 [N, 28, 28]: floats in [0, 1] (what the model sees) are scaled."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(np.rint(images.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    return images.reshape(-1, draw.MNIST_SIDE, draw.MNIST_SIDE)


class Show:
    """The drawing helpers, bound to `canvases` and a language (`lang`, changeable)."""

    def __init__(self, canvases: Any, lang: str = "en", present: Present | None = None) -> None:
        self.canvases = canvases
        self.lang = lang
        self.present = present or self._paint_now
        self.alts: dict[str, str | None] = {}  # canvas -> its last text alternative (default)
        self.drawings: dict[str, Painter] = {}  # canvas -> its last drawing (default present)

    def _paint_now(self, name: str, paint: Painter) -> None:
        self.drawings[name] = paint
        self.alts[name] = paint(self.canvases, self.lang)

    def redraw(self, lang: str | None = None) -> list[str]:
        """Paint again what the default `present` drew, in `lang` (a language switch)."""
        self.lang = lang or self.lang
        for name, paint in self.drawings.items():
            self.alts[name] = paint(self.canvases, self.lang)
        return list(self.drawings)

    def _draw(self, helper: str, paint: Painter, canvas: str | None) -> None:
        self.present(canvas or CANVAS[helper], paint)

    # ---------------------------------------------------------------- 1. data
    def examples(self, images: Any, labels: Any, canvas: str | None = None) -> None:
        """Digits in a grid, each with its label under it (the codelab's example panel)."""
        digits = digits_uint8(images)
        captions = [str(int(v)) for v in class_indices(labels)]
        name = canvas or CANVAS["examples"]

        def paint(canvases: Any, lang: str) -> str:
            digit_grid(canvases, name, digits, captions)
            return text(lang, "canvas.examples_alt", count=len(captions),
                        labels=", ".join(captions))

        self._draw("examples", paint, name)

    # ---------------------------------------------------------------- 3. train
    def history(self, history: Any, metrics: Sequence[str] = METRICS,
                canvas: str | None = None) -> None:
        """Loss (above) and accuracy (below) per epoch: a Keras `History`, its `.history`
        dict, or any dict of metric lists; `metrics` chooses the lines."""
        logs = getattr(history, "history", history)
        values = {metric_name(key): [_number(v) for v in series] for key, series in logs.items()
                  if isinstance(series, list | tuple | np.ndarray)}
        wanted = [metric_name(m) for m in metrics]
        name = canvas or CANVAS["history"]

        def paint(canvases: Any, lang: str) -> str:
            epoch_charts(canvases, name, values, wanted, lang)
            return epoch_alt(values, lang)

        self._draw("history", paint, name)

    def batches(self, batches: Sequence[dict], canvas: str | None = None) -> None:
        """Loss and accuracy per batch: [{"loss", "accuracy"}], as `fit_callbacks` logs them."""
        points = [{"loss": _number(b.get("loss")),
                   "accuracy": _number(b.get("accuracy", b.get("acc")))} for b in batches]
        name = canvas or CANVAS["batches"]

        def paint(canvases: Any, lang: str) -> str:
            batch_charts(canvases, name, points, lang)
            return batch_alt(points, lang)

        self._draw("batches", paint, name)

    def fit_callbacks(self, metrics: Sequence[str] = METRICS) -> FitCallbacks:
        """A Keras callback for `model.fit(..., callbacks=[...])` that draws the batch chart
        and the epoch chart while the model trains (tfvis.show.fitCallbacks)."""
        return FitCallbacks(self, metrics)

    # ---------------------------------------------------------------- 4. evaluate
    def per_class_accuracy(self, labels: Any, predictions: Any,
                           canvas: str | None = None) -> list[float]:
        """Accuracy per digit, as bars (tfvis.show.perClassAccuracy); returns the ten
        accuracies. Labels and predictions: classes, one-hot rows or probabilities."""
        truth, guess = class_indices(labels), class_indices(predictions)
        accuracies, counts = per_class_accuracy(truth, guess)
        values, counts = [float(v) for v in accuracies], [int(c) for c in counts]
        name = canvas or CANVAS["per_class_accuracy"]

        def paint(canvases: Any, lang: str) -> str:
            ctx = canvases.ctx(name, 480, 240)
            charts.bar_chart(ctx, 480, 240, [str(d) for d in range(10)], values,
                             text(lang, "canvas.per_class_title"), canvases.theme,
                             value_format=".1%")
            return text(lang, "canvas.per_class_alt", items=", ".join(
                f"{d}: {v:.1%} ({c})" for d, (v, c) in enumerate(zip(values, counts,
                                                                       strict=True))))

        self._draw("per_class_accuracy", paint, name)
        return values

    def confusion(self, labels: Any, predictions: Any, canvas: str | None = None) -> np.ndarray:
        """The confusion matrix (tfvis.render.confusionMatrix): a row per true digit, a
        column per prediction; returns the counts [10, 10]."""
        matrix = confusion_matrix(class_indices(labels), class_indices(predictions))
        rows = matrix.tolist()
        name = canvas or CANVAS["confusion"]

        def paint(canvases: Any, lang: str) -> str:
            ctx = canvases.ctx(name, 420, 420)
            charts.confusion_chart(ctx, 420, 420, rows, canvases.theme,
                                   text(lang, "canvas.true_label"),
                                   text(lang, "canvas.predicted_label"),
                                   text(lang, "canvas.confusion_title"))
            return text(lang, "canvas.confusion_alt", rows="; ".join(
                f"{d}: " + " ".join(str(v) for v in row) for d, row in enumerate(rows)))

        self._draw("confusion", paint, name)
        return matrix

    # ---------------------------------------------------------------- 5. try it
    def probabilities(self, probabilities: Any, canvas: str | None = None) -> None:
        """Ten probabilities as bars, the most likely digit highlighted."""
        values = [float(p) for p in np.asarray(probabilities, dtype=np.float64).ravel()]
        if len(values) != 10:
            raise ValueError(f"show.probabilities needs 10 probabilities, got {len(values)}")
        best = int(np.argmax(values))
        name = canvas or CANVAS["probabilities"]

        def paint(canvases: Any, lang: str) -> str:
            ctx = canvases.ctx(name, 360, 220)
            charts.bar_chart(ctx, 360, 220, [str(d) for d in range(10)], values,
                             text(lang, "canvas.probs_title"), canvases.theme,
                             highlight_index=best)
            return text(lang, "canvas.probs_alt", items=", ".join(
                f"{d}: {v:.0%}" for d, v in enumerate(values)))

        self._draw("probabilities", paint, name)


class FitCallbacks(Callback):
    """Draws the batch chart after batches (at most every CHART_INTERVAL_S, and at the end)
    and the epoch chart after every epoch, with the metrics chosen.

    Keras logs a batch's metrics as the epoch's running average; the batch chart shows each
    batch's own loss and accuracy, as tfjs-vis and the page's own chart do, read from the
    engine's run (`model.run`) when the model has one."""

    def __init__(self, show: Show, metrics: Sequence[str] = METRICS) -> None:
        super().__init__()
        self.show = show
        self.metrics = [metric_name(m) for m in metrics]
        self.batch_logs: list[dict] = []
        self.epoch_logs: dict[str, list[float | None]] = {}
        self._last_draw = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.batch_logs, self.epoch_logs, self._last_draw = [], {}, 0.0

    def _batches(self) -> list[dict]:
        run = getattr(self.model, "run", None)
        own = getattr(run, "history", {}).get("batches") if run is not None else None
        if own is not None and len(own) == len(self.batch_logs):
            return [{"loss": b["loss"], "accuracy": b["acc"]} for b in own]
        return self.batch_logs

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.batch_logs.append({metric_name(k): v for k, v in (logs or {}).items()})
        now = time.monotonic()
        if now - self._last_draw >= CHART_INTERVAL_S:
            self._last_draw = now
            self.show.batches(self._batches())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {metric_name(k): v for k, v in (logs or {}).items()}
        for key in set(self.epoch_logs) | set(logs):
            series = self.epoch_logs.setdefault(key, [None] * epoch)
            series.extend([None] * (epoch - len(series)))
            series.append(logs.get(key))
        self.show.history(self.epoch_logs, self.metrics)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.show.batches(self._batches())


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


# ---------------------------------------------------------------- painting

def digit_grid(canvases: Any, name: str, digits: np.ndarray, captions: Sequence[str],
               cols: int = EXAMPLE_COLS) -> None:
    """Digits (white ink on black, as MNIST) in a grid, a caption under each: what
    `CanvasSet.digit_grid` draws, from the interface every canvas set has."""
    theme = canvases.theme
    layout = draw.digit_layout(len(digits), cols, scale=GRID_SCALE, pad=2, label_h=LABEL_H)
    width, height = max(layout.width, 1), max(layout.height, 1)
    ctx = canvases.ctx(name, width, height)
    charts.clear(ctx, width, height, theme)
    if len(digits) == 0:
        return
    rgba = draw.digit_grid(digits, cols, scale=GRID_SCALE, pad=2, label_h=LABEL_H,
                           background=draw.parse_color(theme.background))
    canvases.put_image(name, rgba)
    ctx.font = theme.font(12)
    ctx.textAlign = "center"
    ctx.textBaseline = "top"
    ctx.fillStyle = theme.foreground
    for i, caption in enumerate(captions):
        x, y = layout.label_anchor(i)
        ctx.fillText(caption, x, y + 1)


def _two_panels(canvases: Any, name: str, top: Callable, bottom: Callable) -> None:
    charts.stacked(canvases.ctx(name), *canvases.size(name), top, bottom)


def _series_values(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def batch_charts(canvases: Any, name: str, points: Sequence[dict], lang: str) -> None:
    theme = canvases.theme
    xs = np.arange(1, len(points) + 1)
    losses = _series_values(p["loss"] for p in points)
    accs = _series_values(p["accuracy"] for p in points)
    axis = text(lang, "canvas.batch_axis")
    canvases.ctx(name, 480, 400)
    _two_panels(
        canvases, name,
        lambda ctx, w, h: charts.line_chart(
            ctx, w, h, [charts.Series(text(lang, "canvas.loss"), xs, losses)],
            text(lang, "canvas.batch_loss_title"), axis, text(lang, "canvas.loss"), theme,
            x_counts=True),
        lambda ctx, w, h: charts.line_chart(
            ctx, w, h, [charts.Series(text(lang, "canvas.accuracy"), xs, accs,
                                      color=theme.series_color(2))],
            text(lang, "canvas.batch_acc_title"), axis, text(lang, "canvas.accuracy"), theme,
            y_range=(0.0, 1.0), x_counts=True),
    )


def epoch_charts(canvases: Any, name: str, values: dict[str, list], wanted: Sequence[str],
                 lang: str) -> None:
    theme = canvases.theme
    epochs = max((len(v) for v in values.values()), default=0)
    xs = np.arange(1, epochs + 1)

    def series(keys: Sequence[str]) -> list[charts.Series]:
        lines = []
        for key in keys:
            if key in wanted and key in values:
                label = text(lang, "canvas.validation" if key.startswith("val_")
                             else "canvas.train")
                lines.append(charts.Series(label, xs[: len(values[key])],
                                           _series_values(values[key]),
                                           dashed=key.startswith("val_")))
        return lines

    axis = text(lang, "canvas.epoch_axis")
    x_range = (1, max(2, epochs))
    canvases.ctx(name, 480, 400)
    _two_panels(
        canvases, name,
        lambda ctx, w, h: charts.line_chart(
            ctx, w, h, series(LOSS_METRICS), text(lang, "canvas.epoch_loss_title"), axis,
            text(lang, "canvas.loss"), theme, x_range=x_range, x_counts=True),
        lambda ctx, w, h: charts.line_chart(
            ctx, w, h, series(ACCURACY_METRICS), text(lang, "canvas.epoch_acc_title"), axis,
            text(lang, "canvas.accuracy"), theme, y_range=(0.0, 1.0), x_range=x_range,
            x_counts=True),
    )


def batch_alt(points: Sequence[dict], lang: str) -> str:
    if not points:
        return text(lang, "canvas.no_batches_alt")
    return text(lang, "canvas.batch_alt", batch=len(points), loss=fmt(points[-1]["loss"]),
                acc=fmt(points[-1]["accuracy"]))


def epoch_alt(values: dict[str, list], lang: str) -> str:
    epochs = len(values.get("loss", []))
    if not epochs:
        return text(lang, "canvas.no_epochs_alt")

    def last(key: str) -> str:
        series = values.get(key) or [None]
        return fmt(series[-1])

    return text(lang, "canvas.epoch_alt", epoch=epochs, loss=last("loss"),
                acc=last("accuracy"), val_loss=last("val_loss"), val_acc=last("val_accuracy"))
