"""What each step of the page shows: the digits, charts and maps, drawn on named canvases.

Pure drawing logic over a `CanvasSet`-like object (`ctx(name, w, h)`, `put_image`), so it
imports nothing from the browser. Alt texts for screen readers travel to the page through
`post` as `{"type": "alt", "id", "text"}` messages.
"""

from __future__ import annotations

import time
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


def _noop(message: dict) -> None:
    return None


post_alt: Callable[[dict], Any] = _noop  # app.py points this at the page


def alt(canvas_id: str, message: str) -> None:
    post_alt({"type": "alt", "id": f"{canvas_id}-alt", "text": message})


def fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


# ---------------------------------------------------------------- 1. data

def example_layout(count: int) -> draw.GridLayout:
    return draw.digit_layout(count, EXAMPLE_COLS, scale=GRID_SCALE, pad=2, label_h=LABEL_H)


def draw_examples(canvases: Any, data: Any, lang: str) -> None:
    indices, labels = data.examples()
    canvases.digit_grid("examples", data.images[indices], [str(int(v)) for v in labels],
                        cols=EXAMPLE_COLS, scale=GRID_SCALE)


def draw_class_balance(canvases: Any, data: Any, lang: str) -> None:
    """Images per digit in the training set (above) and the test set (below)."""
    train, test = data.class_counts("train"), data.class_counts("test")
    digits = [str(d) for d in range(10)]
    canvases.ctx("class-balance", 480, 360)

    def panel(counts: np.ndarray, title_key: str) -> Callable:
        return lambda ctx, w, h: charts.bar_chart(
            ctx, w, h, digits, [int(v) for v in counts],
            f"{text(lang, 'canvas.class_balance_title')}: {text(lang, title_key)}", canvases.theme,
            value_format="d", y_range=None)

    _two_panels(canvases, "class-balance", panel(train, "canvas.training_images"),
                panel(test, "canvas.test_images"))
    alt("class-balance", text(lang, "canvas.class_balance_alt",
                              train=", ".join(f"{d}: {v}" for d, v in enumerate(train)),
                              test=", ".join(f"{d}: {v}" for d, v in enumerate(test))))


# ---------------------------------------------------------------- 3. train

class ProgressMeter:
    """Epoch/batch position, images per second and time left, for the progress bar.

    `done` images of the run were trained before this meter started (a continued run): the
    fraction is of the whole run, the speed of this part only."""

    def __init__(self, train_size: int, epochs: int, done: int = 0) -> None:
        self.train_size, self.epochs = train_size, epochs
        self.start = time.perf_counter()
        self.done = done
        self.images = 0
        self.batches = 0

    def progress(self, event: dict, history: dict, lang: str) -> dict:
        if event["kind"] == "batch":
            self.images += event["size"]
            self.batches = event["batches"]
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        total = self.train_size * self.epochs
        speed = self.images / elapsed
        left = max(total - self.done - self.images, 0)
        self.batches = event.get("batches", self.batches)
        batch = event.get("batch", self.batches - 1)
        message = {
            "type": "progress", "kind": event["kind"], "epoch": event["epoch"] + 1,
            "epochs": self.epochs, "batch": batch + 1, "batches": self.batches,
            "fraction": min((self.done + self.images) / total, 1.0), "imagesPerSecond": speed,
            "eta": left / speed if speed > 0 else 0.0,
            "loss": event["loss"], "acc": event["acc"],
        }
        if event["kind"] == "batch":
            message["alt"] = {"batch": text(lang, "canvas.batch_alt", batch=len(history["batches"]),
                                            loss=fmt(event["loss"]), acc=fmt(event["acc"]))}
        else:
            message["alt"] = {"epoch": text(lang, "canvas.epoch_alt", epoch=event["epoch"] + 1,
                                            loss=fmt(event["loss"]), acc=fmt(event["acc"]),
                                            val_loss=fmt(event["val_loss"]),
                                            val_acc=fmt(event["val_acc"]))}
        return message


def _two_panels(canvases: Any, name: str, top: Callable, bottom: Callable) -> None:
    """Two charts stacked in one canvas: loss above, accuracy below."""
    width, height = canvases.size(name)
    ctx = canvases.ctx(name)
    half = height / 2
    top(ctx, width, half)
    ctx.save()
    ctx.translate(0, half)
    bottom(ctx, width, half)
    ctx.restore()


def draw_training(canvases: Any, history: dict, lang: str) -> None:
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
            text(lang, "canvas.batch_loss_title"), batch_axis, text(lang, "canvas.loss"), theme,
            x_counts=True),
        lambda ctx, w, h: charts.line_chart(
            ctx, w, h, [charts.Series(text(lang, "canvas.accuracy"), xs, accs,
                                      color=theme.series_color(2))],
            text(lang, "canvas.batch_acc_title"), batch_axis, text(lang, "canvas.accuracy"), theme,
            y_range=(0.0, 1.0), x_counts=True),
    )
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
            ctx, w, h, series("acc", "val_acc"), text(lang, "canvas.epoch_acc_title"), epoch_axis,
            text(lang, "canvas.accuracy"), theme, y_range=(0.0, 1.0),
            x_range=(1, max(2, len(epochs))), x_counts=True),
    )


# ---------------------------------------------------------------- 4. evaluate

def draw_evaluation(canvases: Any, images: np.ndarray, labels: np.ndarray, evaluation: dict,
                    lang: str) -> None:
    theme = canvases.theme
    per_class = evaluation["perClass"]
    ctx = canvases.ctx("per-class", 480, 240)
    charts.bar_chart(ctx, 480, 240, [str(d) for d in range(10)], per_class,
                     text(lang, "canvas.per_class_title"), theme, value_format=".1%")
    alt("per-class", text(lang, "canvas.per_class_alt", items=", ".join(
        f"{d}: {v:.1%} ({c})" for d, (v, c) in enumerate(
            zip(per_class, evaluation["counts"], strict=True)))))

    ctx = canvases.ctx("confusion", 420, 420)
    charts.confusion_chart(ctx, 420, 420, evaluation["confusion"], theme,
                           text(lang, "canvas.true_label"), text(lang, "canvas.predicted_label"),
                           text(lang, "canvas.confusion_title"))
    alt("confusion", text(lang, "canvas.confusion_alt", rows="; ".join(
        f"{d}: " + " ".join(str(v) for v in row)
        for d, row in enumerate(evaluation["confusion"]))))

    predicted = np.asarray(evaluation["predictions"])
    wrong = np.flatnonzero(predicted != labels)[:MISCLASSIFIED_SHOWN]
    canvases.digit_grid(
        "misclassified", images[wrong],
        [f"{labels[i]}→{predicted[i]}" for i in wrong], cols=EXAMPLE_COLS, scale=GRID_SCALE,
        caption_colors=[WRONG_COLOR] * len(wrong))
    _draw_predictions(canvases, images, labels, evaluation["probabilities"], lang)


def _draw_predictions(canvases: Any, images: np.ndarray, labels: np.ndarray,
                      probabilities: np.ndarray, lang: str) -> None:
    """The first test digits, each with its top-3 classes and their probabilities."""
    shown = min(PREDICTIONS_SHOWN, len(images))
    top3 = np.argsort(-probabilities[:shown], axis=1)[:, :3]
    scale, cell_w, text_h = 2, 56, 3 * 14
    width, height = cell_w * shown, 28 * scale + 8 + text_h
    ctx = canvases.ctx("predictions", max(width, 1), height)
    charts.clear(ctx, max(width, 1), height, canvases.theme)
    if shown == 0:
        return
    grid = draw.digit_grid(images[:shown], shown, scale=scale, pad=(cell_w - 28 * scale) // 2,
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


# ---------------------------------------------------------------- 5. try it

def _empty_state(canvases: Any, name: str, width: int, height: int, message: str) -> None:
    """A canvas that says in words why it shows nothing (and what would fill it)."""
    ctx = canvases.ctx(name, width, height)
    charts.clear(ctx, width, height, canvases.theme)
    charts.draw_text(ctx, message, width / 2, height / 2, canvases.theme.muted,
                     canvases.theme.font(13), "center", "middle")
    alt(name, message)


def draw_pad_empty(canvases: Any, lang: str) -> None:
    """No model yet: the pad's views say so instead of showing nothing."""
    message = text(lang, "canvas.no_model")
    _empty_state(canvases, "pad-probs", 360, 220, message)
    _empty_state(canvases, "feature-maps", 560, 60, message)
    _empty_state(canvases, "filters", 560, 60, message)


def draw_pad_probabilities(canvases: Any, probabilities: list[float] | None, lang: str) -> None:
    """The ten probabilities, or (an empty pad) words saying to draw: never ten 0 % bars."""
    if probabilities is None:
        _empty_state(canvases, "pad-probs", 360, 220, text(lang, "canvas.probs_empty"))
        return
    values = probabilities
    best = int(np.argmax(values))
    ctx = canvases.ctx("pad-probs", 360, 220)
    charts.bar_chart(ctx, 360, 220, [str(d) for d in range(10)], values,
                     text(lang, "canvas.probs_title"), canvases.theme, highlight_index=best)
    alt("pad-probs", text(lang, "canvas.probs_alt", items=", ".join(
        f"{d}: {v:.0%}" for d, v in enumerate(values))))


def draw_network_inside(canvases: Any, model: Any, image: np.ndarray | None, lang: str,
                        shown: int | None = None) -> None:
    """The first conv layer's filters, and each conv layer's feature maps for `image`: test
    image `shown`, or the drawing when `shown` is None. Without an image, words saying how to
    choose one (the maps never silently show some other image)."""
    theme = canvases.theme
    background = draw.parse_color(theme.background)
    kernels = model.first_conv_kernels()
    if kernels is not None:
        rgba = draw.filters_grid(kernels, cols=kernels.shape[-1], scale=6, background=background)
        ctx = canvases.ctx("filters", max(rgba.shape[1], 200), rgba.shape[0] + 24)
        charts.clear(ctx, max(rgba.shape[1], 200), rgba.shape[0] + 24, theme)
        charts.draw_text(ctx, text(lang, "canvas.filters_title"), 2, 2, theme.foreground,
                         theme.font(bold=True), "left", "top")
        canvases.put_image("filters", rgba, 0, 22)
        alt("filters", text(lang, "canvas.filters_title"))
    if image is None:
        _empty_state(canvases, "feature-maps", 560, 60, text(lang, "canvas.maps_empty"))
        return
    conv_maps = [m for m in model.feature_maps(image) if m["type"].lower().startswith("conv")]
    panels = [draw.feature_maps_grid(m["output"], cols=8, scale=2, background=background)
              for m in conv_maps]
    width = max([p.shape[1] for p in panels] + [200])
    height = sum(p.shape[0] + 22 for p in panels) or 22
    ctx = canvases.ctx("feature-maps", width, height)
    charts.clear(ctx, width, height, theme)
    y = 0
    for info, panel in zip(conv_maps, panels, strict=True):
        title = (text(lang, "canvas.maps_drawing", layer=info["name"]) if shown is None
                 else text(lang, "canvas.maps_test", layer=info["name"], index=shown))
        charts.draw_text(ctx, title, 2, y + 2, theme.foreground, theme.font(bold=True), "left",
                         "top")
        canvases.put_image("feature-maps", panel, 0, y + 20)
        y += panel.shape[0] + 22
    alt("feature-maps", text(lang, "canvas.maps_drawing_alt") if shown is None
        else text(lang, "canvas.maps_test_alt", index=shown))
