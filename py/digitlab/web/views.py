"""What each step of the page shows: the digits, charts and maps, drawn on named canvases.

Pure drawing logic over a `CanvasSet`-like object (`ctx(name, w, h)`, `put_image`), so it
imports nothing from the browser.

Every canvas is drawn through `_show(canvases, name, lang, paint)`: `paint(canvases, lang)`
paints the canvas with that language's words and returns its text alternative, which travels
to the page as a `{"type": "alt", "id": "<name>-alt", "text"}` message. `_show` keeps the last
`paint` of each canvas, so `redraw(canvases, lang)` paints everything the page shows again in
another language, whatever state the controller is in: a drawing cannot be forgotten by a
language switch, because no canvas is drawn any other way.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from digitlab.i18n import text
from digitlab.viz import charts
from digitlab.viz import images as draw

EXAMPLE_COLS = 10
LABEL_H = 16
GRID_SCALE = 2
MISCLASSIFIED_SHOWN = 40
PREDICTIONS_SHOWN = 10
WRONG_COLOR = "#d55e00"
RIGHT_COLOR = "#009e73"


# (canvases, lang) -> the canvas's alt text (None: it has none). The canvases come as an
# argument, not from the closure, so a painter keeps only what it draws: a page's entry in
# `_shown` would otherwise keep its own (weak) key alive.
Painter = Callable[[Any, str], "str | None"]


class _Shown:
    """What one page's canvases show: the last drawing of each, and where alt texts go."""

    def __init__(self, post: Callable[[dict], Any]) -> None:
        self.post = post
        self.drawings: dict[str, Painter] = {}


# One entry per CanvasSet (a controller's page); weak, so a finished test's page goes away.
_shown: weakref.WeakKeyDictionary[Any, _Shown] = weakref.WeakKeyDictionary()


def attach(canvases: Any, post: Callable[[dict], Any]) -> None:
    """Send the alt texts of what is drawn on `canvases` through `post` (to the page)."""
    _shown[canvases] = _Shown(post)


def _shown_on(canvases: Any) -> _Shown:
    if canvases not in _shown:
        _shown[canvases] = _Shown(lambda message: None)
    return _shown[canvases]


def _show(canvases: Any, name: str, lang: str, paint: Painter) -> None:
    """Draw canvas `name` in `lang`, post its alt text, and keep `paint` for `redraw`."""
    shown = _shown_on(canvases)
    shown.drawings[name] = paint
    _paint(canvases, shown, name, paint, lang)


def present(canvases: Any, name: str, lang: str, paint: Painter) -> None:
    """Show a code cell's drawing on canvas `name` as the page's own are shown (its alt text
    posted, kept for a language switch)."""
    _show(canvases, name, lang, paint)


def _paint(canvases: Any, shown: _Shown, name: str, paint: Painter, lang: str) -> None:
    alt = paint(canvases, lang)
    if alt is not None:
        shown.post({"type": "alt", "id": f"{name}-alt", "text": alt})


def redraw(canvases: Any, lang: str) -> list[str]:
    """Draw every canvas that shows something again, in `lang`; returns their names."""
    shown = _shown_on(canvases)
    for name, paint in list(shown.drawings.items()):
        _paint(canvases, shown, name, paint, lang)
    return list(shown.drawings)


def drawn(canvases: Any) -> list[str]:
    """The canvases that show something, in the order they were first drawn."""
    return list(_shown_on(canvases).drawings)


def fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


# ---------------------------------------------------------------- 1. data

def example_layout(count: int) -> draw.GridLayout:
    return draw.digit_layout(count, EXAMPLE_COLS, scale=GRID_SCALE, pad=2, label_h=LABEL_H)


def draw_examples(canvases: Any, data: Any, lang: str) -> None:
    """The example panel; its alt text lists the labels in reading order (the caption above
    it is the page's own text)."""
    indices, labels = data.examples()
    images, captions = data.images[indices], [str(int(v)) for v in labels]

    def paint(canvases: Any, lang: str) -> str:
        canvases.digit_grid("examples", images, captions, cols=EXAMPLE_COLS, scale=GRID_SCALE)
        return text(lang, "canvas.examples_alt", count=len(captions), labels=", ".join(captions))

    _show(canvases, "examples", lang, paint)


def draw_class_balance(canvases: Any, data: Any, lang: str) -> None:
    """Images per digit in the training set (above) and the test set (below)."""
    train, test = data.class_counts("train"), data.class_counts("test")
    digits = [str(d) for d in range(10)]

    def paint(canvases: Any, lang: str) -> str:
        def panel(counts: np.ndarray, title_key: str) -> Callable:
            return lambda ctx, w, h: charts.bar_chart(
                ctx, w, h, digits, [int(v) for v in counts],
                f"{text(lang, 'canvas.class_balance_title')}: {text(lang, title_key)}",
                canvases.theme, value_format="d", y_range=None)

        canvases.ctx("class-balance", 480, 360)
        _two_panels(canvases, "class-balance", panel(train, "canvas.training_images"),
                    panel(test, "canvas.test_images"))
        return text(lang, "canvas.class_balance_alt",
                    train=", ".join(f"{d}: {v}" for d, v in enumerate(train)),
                    test=", ".join(f"{d}: {v}" for d, v in enumerate(test)))

    _show(canvases, "class-balance", lang, paint)


# ---------------------------------------------------------------- 3. train

def batch_alt(history: dict, lang: str) -> str:
    """The batch chart's text alternative: its last point."""
    batches = history["batches"]
    if not batches:
        return text(lang, "canvas.no_batches_alt")
    return text(lang, "canvas.batch_alt", batch=len(batches), loss=fmt(batches[-1]["loss"]),
                acc=fmt(batches[-1]["acc"]))


def epoch_alt(history: dict, lang: str) -> str:
    """The epoch chart's text alternative: its last epoch, training and validation."""
    if not history["loss"]:
        return text(lang, "canvas.no_epochs_alt")
    return text(lang, "canvas.epoch_alt", epoch=len(history["loss"]),
                loss=fmt(history["loss"][-1]), acc=fmt(history["acc"][-1]),
                val_loss=fmt(history["val_loss"][-1]), val_acc=fmt(history["val_acc"][-1]))


class ProgressMeter:
    """Epoch/batch position, images per second and time left, for the progress bar.

    `done` images of the run were trained before this meter started (a continued run): the
    fraction is of the whole run, the speed of this part only.

    A message is made for the first batch, every epoch's end, and otherwise at most once every
    `interval` seconds: each one costs the page a layout, and on a machine whose every core
    trains, that time is taken from a worker (fast batches come 50 or more a second)."""

    def __init__(self, train_size: int, epochs: int, done: int = 0,
                 interval: float = 0.0) -> None:
        self.train_size, self.epochs = train_size, epochs
        self.start = time.perf_counter()
        self.done = done
        self.images = 0
        self.batches = 0
        self.interval = interval
        self.last: float | None = None  # when the last message was made

    def progress(self, event: dict, history: dict, lang: str) -> dict | None:
        """The progress message for `event`, or None while the last one is recent."""
        if event["kind"] == "batch":
            self.images += event["size"]
            self.batches = event["batches"]
        now = time.perf_counter()
        if (event["kind"] == "batch" and self.last is not None
                and now - self.last < self.interval):
            return None
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        total = self.train_size * self.epochs
        speed = self.images / elapsed
        left = max(total - self.done - self.images, 0)
        self.batches = event.get("batches", self.batches)
        batch = event.get("batch", self.batches - 1)
        return {
            "type": "progress", "kind": event["kind"], "epoch": event["epoch"] + 1,
            "epochs": self.epochs, "batch": batch + 1, "batches": self.batches,
            "fraction": min((self.done + self.images) / total, 1.0), "imagesPerSecond": speed,
            "eta": left / speed if speed > 0 else 0.0,
            "loss": event["loss"], "acc": event["acc"],
            # Both charts' texts every time: the page sets both from each message.
            "alt": {"batch": batch_alt(history, lang), "epoch": epoch_alt(history, lang)},
        }


def _two_panels(canvases: Any, name: str, top: Callable, bottom: Callable) -> None:
    charts.stacked(canvases.ctx(name), *canvases.size(name), top, bottom)


def draw_training(canvases: Any, history: dict, lang: str) -> None:
    """The batch and epoch charts of `history` (a run's, which grows while it trains). Each
    painter reads the theme as it paints, so a switch of colour scheme redraws in the new one."""

    def paint_batches(canvases: Any, lang: str) -> str:
        theme = canvases.theme
        batches = history["batches"]
        xs = np.arange(1, len(batches) + 1)
        losses = np.array([b["loss"] for b in batches], dtype=np.float64)
        accs = np.array([b["acc"] for b in batches], dtype=np.float64)
        batch_axis = text(lang, "canvas.batch_axis")
        canvases.ctx("chart-batch", 480, 400)
        _two_panels(
            canvases, "chart-batch",
            lambda ctx, w, h: charts.line_chart(
                ctx, w, h, [charts.Series(text(lang, "canvas.loss"), xs, losses)],
                text(lang, "canvas.batch_loss_title"), batch_axis, text(lang, "canvas.loss"),
                theme, x_counts=True),
            lambda ctx, w, h: charts.line_chart(
                ctx, w, h, [charts.Series(text(lang, "canvas.accuracy"), xs, accs,
                                          color=theme.series_color(2))],
                text(lang, "canvas.batch_acc_title"), batch_axis, text(lang, "canvas.accuracy"),
                theme, y_range=(0.0, 1.0), x_counts=True),
        )
        return batch_alt(history, lang)

    def paint_epochs(canvases: Any, lang: str) -> str:
        theme = canvases.theme
        epochs = np.arange(1, len(history["loss"]) + 1)

        def series(train_key: str, val_key: str) -> list[charts.Series]:
            val = [np.nan if v is None else v for v in history[val_key]]
            return [charts.Series(text(lang, "canvas.train"), epochs,
                                  np.array(history[train_key], float)),
                    charts.Series(text(lang, "canvas.validation"), epochs, np.array(val, float),
                                  dashed=True)]

        epoch_axis = text(lang, "canvas.epoch_axis")
        canvases.ctx("chart-epoch", 480, 400)
        _two_panels(
            canvases, "chart-epoch",
            lambda ctx, w, h: charts.line_chart(
                ctx, w, h, series("loss", "val_loss"), text(lang, "canvas.epoch_loss_title"),
                epoch_axis, text(lang, "canvas.loss"), theme, x_range=(1, max(2, len(epochs))),
                x_counts=True),
            lambda ctx, w, h: charts.line_chart(
                ctx, w, h, series("acc", "val_acc"), text(lang, "canvas.epoch_acc_title"),
                epoch_axis, text(lang, "canvas.accuracy"), theme, y_range=(0.0, 1.0),
                x_range=(1, max(2, len(epochs))), x_counts=True),
        )
        return epoch_alt(history, lang)

    _show(canvases, "chart-batch", lang, paint_batches)
    _show(canvases, "chart-epoch", lang, paint_epochs)


# ---------------------------------------------------------------- 4. evaluate

def draw_evaluation(canvases: Any, images: np.ndarray, labels: np.ndarray, evaluation: dict,
                    lang: str) -> None:
    """Per-digit accuracy, the confusion matrix, the digits it got wrong and the first
    predictions. What is kept for a redraw is only what is drawn (up to 40 + 10 images)."""
    per_class, counts = evaluation["perClass"], evaluation["counts"]
    confusion = evaluation["confusion"]

    def paint_per_class(canvases: Any, lang: str) -> str:
        ctx = canvases.ctx("per-class", 480, 240)
        charts.bar_chart(ctx, 480, 240, [str(d) for d in range(10)], per_class,
                         text(lang, "canvas.per_class_title"), canvases.theme,
                         value_format=".1%")
        return text(lang, "canvas.per_class_alt", items=", ".join(
            f"{d}: {v:.1%} ({c})" for d, (v, c) in enumerate(zip(per_class, counts, strict=True))))

    def paint_confusion(canvases: Any, lang: str) -> str:
        ctx = canvases.ctx("confusion", 420, 420)
        charts.confusion_chart(ctx, 420, 420, confusion, canvases.theme,
                               text(lang, "canvas.true_label"),
                               text(lang, "canvas.predicted_label"),
                               text(lang, "canvas.confusion_title"))
        return text(lang, "canvas.confusion_alt", rows="; ".join(
            f"{d}: " + " ".join(str(v) for v in row) for d, row in enumerate(confusion)))

    _show(canvases, "per-class", lang, paint_per_class)
    _show(canvases, "confusion", lang, paint_confusion)
    predicted = np.asarray(evaluation["predictions"])
    _draw_misclassified(canvases, images, labels, predicted, lang)
    _draw_predictions(canvases, images, labels, evaluation["probabilities"], lang)


def _draw_misclassified(canvases: Any, images: np.ndarray, labels: np.ndarray,
                        predicted: np.ndarray, lang: str) -> None:
    """The first digits it got wrong, each captioned "true→predicted" (the page's legend
    says so)."""
    mistakes = np.flatnonzero(predicted != labels)
    wrong = mistakes[:MISCLASSIFIED_SHOWN]
    digits, pairs = images[wrong].copy(), [(int(labels[i]), int(predicted[i])) for i in wrong]
    total = len(labels)

    def paint(canvases: Any, lang: str) -> str:
        canvases.digit_grid("misclassified", digits, [f"{t}→{p}" for t, p in pairs],
                            cols=EXAMPLE_COLS, scale=GRID_SCALE,
                            caption_colors=[WRONG_COLOR] * len(pairs))
        if not pairs:
            return text(lang, "canvas.misclassified_none_alt", count=total)
        return text(lang, "canvas.misclassified_alt", shown=len(pairs), wrong=len(mistakes),
                    items=", ".join(f"{t} → {p}" for t, p in pairs))

    _show(canvases, "misclassified", lang, paint)


def _draw_predictions(canvases: Any, images: np.ndarray, labels: np.ndarray,
                      probabilities: np.ndarray, lang: str) -> None:
    """The first test digits, each with its top-3 classes and their probabilities."""
    shown = min(PREDICTIONS_SHOWN, len(images))
    images, labels = images[:shown].copy(), labels[:shown].copy()
    probabilities = probabilities[:shown].copy()
    top3 = np.argsort(-probabilities, axis=1)[:, :3]

    def paint(canvases: Any, lang: str) -> str:
        scale, cell_w, text_h = 2, 56, 3 * 14
        width, height = cell_w * shown, 28 * scale + 8 + text_h
        ctx = canvases.ctx("predictions", max(width, 1), height)
        charts.clear(ctx, max(width, 1), height, canvases.theme)
        if shown > 0:
            grid = draw.digit_grid(images, shown, scale=scale, pad=(cell_w - 28 * scale) // 2,
                                   background=draw.parse_color(canvases.theme.background))
            canvases.put_image("predictions", grid[: 28 * scale + 4])
            ctx.font = canvases.theme.font(11)
            ctx.textAlign = "center"
            ctx.textBaseline = "top"
        for i in range(shown):
            for rank, digit in enumerate(top3[i]):
                right = digit == labels[i]
                ctx.fillStyle = (RIGHT_COLOR if right else WRONG_COLOR) if rank == 0 else \
                    canvases.theme.muted
                ctx.fillText(f"{digit}: {probabilities[i, digit]:.0%}", cell_w * (i + 0.5),
                             28 * scale + 6 + rank * 14)
        return text(lang, "canvas.predictions_alt", count=shown, items="; ".join(
            f"{labels[i]}: " + ", ".join(f"{d} {probabilities[i, d]:.0%}" for d in top3[i])
            for i in range(shown)))

    _show(canvases, "predictions", lang, paint)


# ---------------------------------------------------------------- 5. try it

def _empty_state(canvases: Any, name: str, width: int, height: int, key: str,
                 lang: str) -> None:
    """A canvas that says in words why it shows nothing (and what would fill it)."""

    def paint(canvases: Any, lang: str) -> str:
        message = text(lang, key)
        ctx = canvases.ctx(name, width, height)
        charts.clear(ctx, width, height, canvases.theme)
        charts.draw_text(ctx, message, width / 2, height / 2, canvases.theme.muted,
                         canvases.theme.font(13), "center", "middle")
        return message

    _show(canvases, name, lang, paint)


def draw_pad_empty(canvases: Any, lang: str) -> None:
    """No model yet: the pad's views say so instead of showing nothing."""
    for name, width, height in (("pad-probs", 360, 220), ("feature-maps", 560, 60),
                                ("filters", 560, 60)):
        _empty_state(canvases, name, width, height, "canvas.no_model", lang)


def draw_pad_probabilities(canvases: Any, probabilities: list[float] | None, lang: str) -> None:
    """The ten probabilities, or (an empty pad) words saying to draw: never ten 0 % bars."""
    if probabilities is None:
        _empty_state(canvases, "pad-probs", 360, 220, "canvas.probs_empty", lang)
        return
    values = list(probabilities)
    best = int(np.argmax(values))

    def paint(canvases: Any, lang: str) -> str:
        ctx = canvases.ctx("pad-probs", 360, 220)
        charts.bar_chart(ctx, 360, 220, [str(d) for d in range(10)], values,
                         text(lang, "canvas.probs_title"), canvases.theme, highlight_index=best)
        top3 = np.argsort(-np.asarray(values), kind="stable")[:3]
        return text(lang, "canvas.probs_alt", items=", ".join(
            f"{d}: {v:.0%}" for d, v in enumerate(values))) + " " + text(
            lang, "canvas.probs_top_alt", top=", ".join(f"{d} ({values[d]:.0%})" for d in top3))

    _show(canvases, "pad-probs", lang, paint)


def draw_network_inside(canvases: Any, model: Any, image: np.ndarray | None, lang: str,
                        shown: int | None = None) -> None:
    """The first conv layer's filters, and each conv layer's feature maps for `image`: test
    image `shown`, or the drawing when `shown` is None. Without an image, words saying how to
    choose one (the maps never silently show some other image)."""
    kernels = model.first_conv_kernels()
    if kernels is not None:
        kernels = kernels.copy()  # what is kept for a redraw, not the live weights
        size = f"{kernels.shape[0]} × {kernels.shape[1]}"

        def paint_filters(canvases: Any, lang: str) -> str:
            theme = canvases.theme  # as it paints: a colour-scheme switch redraws in the new one
            filters = draw.filters_grid(kernels, cols=kernels.shape[-1], scale=6,
                                        background=draw.parse_color(theme.background))
            width, height = max(filters.shape[1], 200), filters.shape[0] + 24
            ctx = canvases.ctx("filters", width, height)
            charts.clear(ctx, width, height, theme)
            charts.draw_text(ctx, text(lang, "canvas.filters_title"), 2, 2, theme.foreground,
                             theme.font(bold=True), "left", "top")
            canvases.put_image("filters", filters, 0, 22)
            return text(lang, "canvas.filters_alt", count=kernels.shape[-1], size=size)

        _show(canvases, "filters", lang, paint_filters)
    if image is None:
        _empty_state(canvases, "feature-maps", 560, 60, "canvas.maps_empty", lang)
        return
    conv_maps = [m for m in model.feature_maps(image) if m["type"].lower().startswith("conv")]
    names = [m["name"] for m in conv_maps]
    shapes = [m["output"].shape for m in conv_maps]
    outputs = [m["output"] for m in conv_maps]

    def paint_maps(canvases: Any, lang: str) -> str:
        theme = canvases.theme
        background = draw.parse_color(theme.background)
        panels = [draw.feature_maps_grid(output, cols=8, scale=2, background=background)
                  for output in outputs]
        width = max([p.shape[1] for p in panels] + [200])
        height = sum(p.shape[0] + 22 for p in panels) or 22
        ctx = canvases.ctx("feature-maps", width, height)
        charts.clear(ctx, width, height, theme)
        y = 0
        for name, panel in zip(names, panels, strict=True):
            title = (text(lang, "canvas.maps_drawing", layer=name) if shown is None
                     else text(lang, "canvas.maps_test", layer=name, index=shown))
            charts.draw_text(ctx, title, 2, y + 2, theme.foreground, theme.font(bold=True),
                             "left", "top")
            canvases.put_image("feature-maps", panel, 0, y + 20)
            y += panel.shape[0] + 22
        which = (text(lang, "canvas.maps_drawing_alt") if shown is None
                 else text(lang, "canvas.maps_test_alt", index=shown))
        return which + " " + text(lang, "canvas.maps_alt", layers="; ".join(
            text(lang, "canvas.maps_layer_alt", n=n, count=shape[-1],
                 size=f"{shape[0]} × {shape[1]}")
            for n, shape in enumerate(shapes, start=1)))

    _show(canvases, "feature-maps", lang, paint_maps)
