"""Charts drawn on any object with the HTML Canvas 2D API.

``ctx`` is a CanvasRenderingContext2D / OffscreenCanvasRenderingContext2D proxied from JS by
Pyodide, or a fake in tests. This module never imports ``js`` or ``pyodide``. Each ctx call
crosses the Python -> JS boundary, so paths are batched (one ``stroke`` per series or per grid)
and long series are reduced to at most two points per horizontal pixel before drawing.

Pixels that come from NumPy (digit grids, filters) are not drawn here: building an ImageData
needs JS, so web/canvas.py puts them on the canvas.

All visible words arrive as parameters: the page is translated, so nothing here is English
except defaults that callers are expected to override.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from digitlab.viz.images import GREENS, ORANGES, css_color

ValueFormat = Callable[[float], str] | str

CJK_FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC", '
    '"Microsoft YaHei", "Hiragino Sans GB", sans-serif'
)


@dataclass(frozen=True)
class Theme:
    background: str
    foreground: str  # text and axes
    grid: str
    muted: str  # secondary text (tick labels)
    # Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
    palette: tuple[str, ...]
    bar: str
    highlight: str
    diagonal_outline: str
    font_family: str = CJK_FONT_FAMILY
    font_size: int = 12
    title_size: int = 14

    def font(self, size: int | None = None, bold: bool = False) -> str:
        weight = "600 " if bold else ""
        return f"{weight}{size or self.font_size}px {self.font_family}"

    def series_color(self, index: int) -> str:
        return self.palette[index % len(self.palette)]


LIGHT = Theme(
    background="#ffffff",
    foreground="#1f2328",
    grid="#e3e6ea",
    muted="#57606a",
    palette=("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"),
    bar="#0072b2",
    highlight="#d55e00",
    diagonal_outline="#1f2328",
)
DARK = Theme(
    background="#0d1117",
    foreground="#e6edf3",
    grid="#2a313a",
    muted="#9da7b3",
    palette=("#56b4e9", "#e69f00", "#009e73", "#cc79a7", "#f0e442", "#d55e00"),
    bar="#56b4e9",
    highlight="#e69f00",
    diagonal_outline="#e6edf3",
)


@dataclass
class Series:
    name: str
    xs: Sequence[float] | np.ndarray
    ys: Sequence[float] | np.ndarray
    color: str | None = None
    dashed: bool = False


class Rect(NamedTuple):
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Margins:
    left: float = 56
    right: float = 16
    top: float = 12
    bottom: float = 40


DASH = (6, 4)
MAX_POINTS_PER_PIXEL = 2
MARKER_MAX_POINTS = 40  # short series (per-epoch) get a marker on every point
LEGEND_SWATCH = 18

# ---------------------------------------------------------------------------------------------
# Numbers and text
# ---------------------------------------------------------------------------------------------


def nice_step(span: float, max_ticks: int = 6) -> float:
    """The smallest 1, 2 or 5 x 10^k step that splits ``span`` into at most ``max_ticks``."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / max(1, max_ticks - 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw * (1 - 1e-9):
            return multiple * magnitude
    return 10 * magnitude


def nice_ticks(lo: float, hi: float, max_ticks: int = 6, min_step: float = 0.0) -> list[float]:
    """Multiples of a 1-2-5 step (at least ``min_step``: 1 for counts) inside ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    if hi == lo:
        return [lo]
    step = max(nice_step(hi - lo, max_ticks), min_step)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    # round() removes float noise such as 0.30000000000000004 from the labels.
    return [round(k * step, 12) for k in range(first, last + 1)]


def nice_range(lo: float, hi: float, max_ticks: int = 6) -> tuple[float, float]:
    """Widen ``[lo, hi]`` outward to whole 1-2-5 steps; a flat range gets some room."""
    if hi == lo:
        pad = abs(lo) * 0.5 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, max_ticks)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step


def format_number(value: float, step: float | None = None) -> str:
    """Compact label: as many decimals as the tick step needs (or 3 significant digits without
    a step), k/M for large numbers."""
    if not math.isfinite(value):
        return "–"
    magnitude = abs(value)
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if magnitude >= limit and (step is None or step >= limit / 10):
            return _format_plain(value / limit, step / limit if step else None) + suffix
    return _format_plain(value, step)


def _format_plain(value: float, step: float | None) -> str:
    if step is not None and step > 0:
        decimals = max(0, min(6, -math.floor(math.log10(step) + 1e-9)))
        return f"{value:.{decimals}f}"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def format_count(value: float) -> str:
    """Counts are exact up to 9999 (they fit a cell); beyond that compact."""
    if math.isfinite(value) and abs(value) < 10_000 and value == int(value):
        return str(int(value))
    return format_number(value)


def format_percent(value: float, step: float | None = None) -> str:
    """A fraction as a percentage with as many decimals as the tick step needs: 0.2 -> '20%'."""
    if not math.isfinite(value):
        return "–"
    return _format_plain(value * 100, step * 100 if step else None) + "%"


def tick_format(value_format: ValueFormat) -> Callable[[float, float | None], str]:
    """How an axis labels its ticks next to values shown with ``value_format``: percentages
    for a percent format (an axis of 0-1 under bars that say 96.8% reads as a different unit),
    compact numbers otherwise."""
    if isinstance(value_format, str) and value_format.endswith("%"):
        return format_percent
    return format_number


def apply_format(value_format: ValueFormat, value: float) -> str:
    """``value_format`` is a callable or a format spec such as ``'.0%'`` or ``',d'``."""
    if not math.isfinite(value):
        return "–"
    if callable(value_format):
        return value_format(value)
    if value_format.endswith("d"):
        value = round(value)
    return format(value, value_format)


def estimate_text_width(text: str, font_px: float) -> float:
    """Rough text width without measureText (a JS round-trip); CJK glyphs are about 1 em."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return (wide * 1.0 + (len(text) - wide) * 0.58) * font_px


# ---------------------------------------------------------------------------------------------
# Small drawing helpers (each one a handful of ctx calls)
# ---------------------------------------------------------------------------------------------


def stacked(ctx: Any, width: float, height: float, top: Callable, bottom: Callable) -> None:
    """Two charts stacked in one canvas (loss above, accuracy below): each is drawn as
    `draw(ctx, width, height / 2)`, the lower one translated by half the height."""
    half = height / 2
    top(ctx, width, half)
    ctx.save()
    ctx.translate(0, half)
    bottom(ctx, width, half)
    ctx.restore()


def clear(ctx: Any, width: float, height: float, theme: Theme) -> None:
    ctx.fillStyle = theme.background
    ctx.fillRect(0, 0, width, height)


def draw_text(
    ctx: Any, text: str, x: float, y: float, color: str, font: str, align: str = "left",
    baseline: str = "alphabetic",
) -> None:
    ctx.fillStyle = color
    ctx.font = font
    ctx.textAlign = align
    ctx.textBaseline = baseline
    ctx.fillText(text, x, y)


def _set_line_dash(ctx: Any, dashed: bool) -> None:
    ctx.setLineDash(list(DASH) if dashed else [])


def _title_height(title: str, theme: Theme) -> float:
    return theme.title_size + 10 if title else 0


def _draw_title(ctx: Any, title: str, width: float, theme: Theme) -> None:
    if title:
        draw_text(ctx, title, width / 2, 6, theme.foreground, theme.font(theme.title_size, True),
                  "center", "top")


def _legend_rows(names: Sequence[str], max_width: float, theme: Theme) -> list[list[int]]:
    """Wrap legend entries into rows that fit ``max_width``; returns series indices per row."""
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, name in enumerate(names):
        entry = _legend_entry_width(name, theme)
        if rows[-1] and used + entry > max_width:
            rows.append([])
            used = 0.0
        rows[-1].append(i)
        used += entry
    return rows if rows[0] else []


def _legend_entry_width(name: str, theme: Theme) -> float:
    return LEGEND_SWATCH + 6 + estimate_text_width(name, theme.font_size) + 14


def _draw_legend(
    ctx: Any, series: Sequence[Series], colors: Sequence[str], rows: list[list[int]], x: float,
    y: float, theme: Theme,
) -> None:
    line_h = theme.font_size + 6
    for r, row in enumerate(rows):
        cx = x
        cy = y + r * line_h + line_h / 2
        for i in row:
            ctx.strokeStyle = colors[i]
            ctx.lineWidth = 2
            _set_line_dash(ctx, series[i].dashed)
            ctx.beginPath()
            ctx.moveTo(cx, cy)
            ctx.lineTo(cx + LEGEND_SWATCH, cy)
            ctx.stroke()
            draw_text(ctx, series[i].name, cx + LEGEND_SWATCH + 6, cy, theme.foreground,
                      theme.font(), "left", "middle")
            cx += _legend_entry_width(series[i].name, theme)
    _set_line_dash(ctx, False)


def _draw_y_label(ctx: Any, text: str, x: float, y: float, theme: Theme) -> None:
    if not text:
        return
    ctx.save()
    ctx.translate(x, y)
    ctx.rotate(-math.pi / 2)
    draw_text(ctx, text, 0, 0, theme.foreground, theme.font(), "center", "top")
    ctx.restore()


# ---------------------------------------------------------------------------------------------
# Data helpers
# ---------------------------------------------------------------------------------------------


def finite_points(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Pair up xs and ys (to the shorter length) and drop pairs with a non-finite value."""
    x = np.asarray(xs, dtype=np.float64).ravel()
    y = np.asarray(ys, dtype=np.float64).ravel()
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def downsample_minmax(
    px: np.ndarray, py: np.ndarray, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most the min and max of each of ``buckets`` equal-width x bins, in original order.

    A line through these points looks the same at one pixel per bin, and spikes (a diverging
    batch) survive, which plain striding would drop.
    """
    n = px.size
    buckets = max(1, int(buckets))
    if n <= MAX_POINTS_PER_PIXEL * buckets:
        return px, py
    lo, hi = px.min(), px.max()
    span = hi - lo
    if span > 0:
        bins = np.minimum(((px - lo) / span * buckets).astype(np.int64), buckets - 1)
    else:
        bins = np.zeros(n, dtype=np.int64)
    order = np.lexsort((py, bins))  # by bin, then by y within the bin
    sorted_bins = bins[order]
    starts = np.flatnonzero(np.r_[True, sorted_bins[1:] != sorted_bins[:-1]])
    ends = np.r_[starts[1:], n] - 1
    keep = np.unique(np.concatenate([order[starts], order[ends]]))
    return px[keep], py[keep]


def _data_bounds(points: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, float,
                                                                           float] | None:
    nonempty = [(x, y) for x, y in points if x.size]
    if not nonempty:
        return None
    xs = np.concatenate([x for x, _ in nonempty])
    ys = np.concatenate([y for _, y in nonempty])
    return float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())


class _Scale:
    """Linear data -> pixel mapping for one axis."""

    def __init__(self, lo: float, hi: float, start: float, end: float):
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def __call__(self, v: np.ndarray | float) -> np.ndarray | float:
        span = self.hi - self.lo
        return self.start + (np.asarray(v, dtype=np.float64) - self.lo) / span * (
            self.end - self.start
        )


# ---------------------------------------------------------------------------------------------
# Axes shared by line and bar charts
# ---------------------------------------------------------------------------------------------


def _draw_y_axis(ctx: Any, plot: Rect, y_scale: _Scale, ticks: list[float], theme: Theme,
                 label: Callable[[float, float | None], str] = format_number) -> None:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else None
    ctx.strokeStyle = theme.grid
    ctx.lineWidth = 1
    ctx.beginPath()
    for t in ticks:
        py = round(float(y_scale(t))) + 0.5  # half-pixel: crisp 1-px lines
        ctx.moveTo(plot.x, py)
        ctx.lineTo(plot.x + plot.w, py)
    ctx.stroke()
    for t in ticks:
        draw_text(ctx, label(t, step), plot.x - 6, float(y_scale(t)), theme.muted,
                  theme.font(), "right", "middle")


def _draw_x_ticks(ctx: Any, plot: Rect, x_scale: _Scale, ticks: list[float], theme: Theme
                  ) -> None:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else None
    bottom = plot.y + plot.h
    ctx.strokeStyle = theme.grid
    ctx.lineWidth = 1
    ctx.beginPath()
    for t in ticks:
        px = round(float(x_scale(t))) + 0.5
        ctx.moveTo(px, plot.y)
        ctx.lineTo(px, bottom)
    ctx.stroke()
    for t in ticks:
        draw_text(ctx, format_number(t, step), float(x_scale(t)), bottom + 5, theme.muted,
                  theme.font(), "center", "top")


def _draw_axes_frame(ctx: Any, plot: Rect, theme: Theme) -> None:
    ctx.strokeStyle = theme.foreground
    ctx.lineWidth = 1
    ctx.beginPath()
    ctx.moveTo(plot.x + 0.5, plot.y)
    ctx.lineTo(plot.x + 0.5, plot.y + plot.h + 0.5)
    ctx.lineTo(plot.x + plot.w, plot.y + plot.h + 0.5)
    ctx.stroke()


# ---------------------------------------------------------------------------------------------
# Line chart
# ---------------------------------------------------------------------------------------------


def line_chart(
    ctx: Any, width: float, height: float, series: Sequence[Series], title: str = "",
    x_label: str = "", y_label: str = "", theme: Theme = LIGHT,
    y_range: tuple[float, float] | None = None, x_range: tuple[float, float] | None = None,
    x_counts: bool = False,
) -> Rect:
    """Lines with axes, 1-2-5 ticks, axis labels, a legend and a title.

    ``x_counts``: x is a count (batches, epochs), so no tick falls between two whole numbers.

    Non-finite points are dropped; series longer than two points per pixel are min/max
    downsampled. Returns the plot area so callers can check or overlay pixels inside it.
    """
    clear(ctx, width, height, theme)
    _draw_title(ctx, title, width, theme)
    m = Margins(left=60 if y_label else 44, bottom=40 if x_label else 24)
    legend_top = m.top + _title_height(title, theme)
    legend = _legend_rows([s.name for s in series], width - m.left - m.right, theme)
    top = legend_top + len(legend) * (theme.font_size + 6) + 6
    plot = Rect(m.left, top, max(1.0, width - m.left - m.right),
                max(1.0, height - top - m.bottom))

    points = [finite_points(s.xs, s.ys) for s in series]
    x_lo, x_hi, y_lo, y_hi = _axis_ranges(points, x_range, y_range)
    x_scale = _Scale(x_lo, x_hi, plot.x, plot.x + plot.w)
    y_scale = _Scale(y_lo, y_hi, plot.y + plot.h, plot.y)

    _draw_y_axis(ctx, plot, y_scale, nice_ticks(y_lo, y_hi, _max_ticks(plot.h, 28)), theme)
    x_ticks = nice_ticks(x_lo, x_hi, _max_ticks(plot.w, 60), min_step=1.0 if x_counts else 0.0)
    _draw_x_ticks(ctx, plot, x_scale, x_ticks, theme)
    _draw_axes_frame(ctx, plot, theme)

    colors = [s.color or theme.series_color(i) for i, s in enumerate(series)]
    for s, (px, py), color in zip(series, points, colors, strict=True):
        _draw_series(ctx, plot, x_scale, y_scale, px, py, color, s.dashed)

    _draw_legend(ctx, series, colors, legend, m.left, legend_top, theme)
    if x_label:
        draw_text(ctx, x_label, plot.x + plot.w / 2, height - 4, theme.foreground, theme.font(),
                  "center", "bottom")
    _draw_y_label(ctx, y_label, 4, plot.y + plot.h / 2, theme)
    return plot


def _max_ticks(length_px: float, min_gap_px: float) -> int:
    return max(2, min(8, int(length_px // min_gap_px) + 1))


def _axis_ranges(
    points: Sequence[tuple[np.ndarray, np.ndarray]], x_range: tuple[float, float] | None,
    y_range: tuple[float, float] | None,
) -> tuple[float, float, float, float]:
    bounds = _data_bounds(points) or (0.0, 1.0, 0.0, 1.0)
    if x_range is not None:
        x_lo, x_hi = map(float, x_range)
    else:
        x_lo, x_hi = bounds[0], bounds[1]
        if x_hi == x_lo:  # a single x: centre it
            x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_range is not None:
        y_lo, y_hi = map(float, y_range)
    else:
        y_lo, y_hi = nice_range(bounds[2], bounds[3], 6)
    if not x_hi > x_lo:
        x_hi = x_lo + 1
    if not y_hi > y_lo:
        y_hi = y_lo + 1
    return x_lo, x_hi, y_lo, y_hi


def _draw_series(
    ctx: Any, plot: Rect, x_scale: _Scale, y_scale: _Scale, xs: np.ndarray, ys: np.ndarray,
    color: str, dashed: bool,
) -> None:
    if xs.size == 0:
        return
    xs, ys = downsample_minmax(xs, ys, int(plot.w))
    # Clamping instead of clip(): values beyond a fixed y_range stay visible at the edge.
    px = np.clip(x_scale(xs), plot.x, plot.x + plot.w).tolist()
    py = np.clip(y_scale(ys), plot.y, plot.y + plot.h).tolist()
    ctx.strokeStyle = color
    ctx.fillStyle = color
    ctx.lineWidth = 2
    if len(px) > 1:
        _set_line_dash(ctx, dashed)
        ctx.beginPath()
        ctx.moveTo(px[0], py[0])
        for x, y in zip(px[1:], py[1:], strict=True):
            ctx.lineTo(x, y)
        ctx.stroke()
        _set_line_dash(ctx, False)
    if len(px) <= MARKER_MAX_POINTS:
        for x, y in zip(px, py, strict=True):
            ctx.fillRect(x - 2, y - 2, 4, 4)


# ---------------------------------------------------------------------------------------------
# Bar chart
# ---------------------------------------------------------------------------------------------


def bar_chart(
    ctx: Any, width: float, height: float, labels: Sequence[str], values: Sequence[float],
    title: str = "", theme: Theme = LIGHT, value_format: ValueFormat = ".0%",
    highlight_index: int | None = None, y_range: tuple[float, float] | None = (0.0, 1.0),
    colors: Sequence[str | None] | None = None,
) -> Rect:
    """Vertical bars with the category labels under them and the formatted value above.

    The y axis's ticks follow ``value_format``: percentages for a percent format.
    ``y_range=None`` fits the axis to the data (e.g. class counts). ``highlight_index`` draws
    that bar in the theme's highlight colour (the predicted digit on the pad).
    """
    clear(ctx, width, height, theme)
    _draw_title(ctx, title, width, theme)
    vals = np.asarray(values, dtype=np.float64).ravel()
    top = 12 + _title_height(title, theme) + theme.font_size + 4  # room for value labels
    plot = Rect(44, top, max(1.0, width - 44 - 10), max(1.0, height - top - 24))
    y_lo, y_hi = _bar_range(vals, y_range)
    y_scale = _Scale(y_lo, y_hi, plot.y + plot.h, plot.y)
    _draw_y_axis(ctx, plot, y_scale, nice_ticks(y_lo, y_hi, _max_ticks(plot.h, 28)), theme,
                 tick_format(value_format))

    n = max(1, len(labels))
    slot = plot.w / n
    bar_w = max(1.0, slot * 0.7)
    baseline = float(y_scale(max(y_lo, min(0.0, y_hi))))
    for i, label in enumerate(labels):
        cx = plot.x + slot * (i + 0.5)
        value = vals[i] if i < vals.size else math.nan
        if math.isfinite(value):
            y = float(np.clip(y_scale(value), plot.y, plot.y + plot.h))
            ctx.fillStyle = _bar_color(i, theme, highlight_index, colors)
            ctx.fillRect(cx - bar_w / 2, min(y, baseline), bar_w, abs(baseline - y))
            draw_text(ctx, apply_format(value_format, value), cx, min(y, baseline) - 3,
                      theme.foreground, theme.font(max(9, theme.font_size - 2)), "center",
                      "bottom")
        draw_text(ctx, str(label), cx, plot.y + plot.h + 5,
                  theme.foreground, theme.font(bold=i == highlight_index), "center", "top")
    _draw_axes_frame(ctx, plot, theme)
    return plot


def _bar_range(vals: np.ndarray, y_range: tuple[float, float] | None) -> tuple[float, float]:
    if y_range is not None:
        lo, hi = map(float, y_range)
    else:
        finite = vals[np.isfinite(vals)]
        top = float(finite.max()) if finite.size else 1.0
        lo, hi = nice_range(min(0.0, float(finite.min()) if finite.size else 0.0), max(top, 0.0))
    return (lo, hi) if hi > lo else (lo, lo + 1)


def _bar_color(
    i: int, theme: Theme, highlight_index: int | None, colors: Sequence[str | None] | None
) -> str:
    if i == highlight_index:
        return theme.highlight
    if colors is not None and i < len(colors) and colors[i]:
        return colors[i]  # type: ignore[return-value]
    return theme.bar


# ---------------------------------------------------------------------------------------------
# Confusion matrix
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfusionCell:
    fill: str
    text: str


def confusion_cell_colors(confusion: np.ndarray) -> list[list[ConfusionCell]]:
    """Fill and text colour per cell.

    Shade is the share of the true class's row, so rare and common classes compare fairly.
    The diagonal (correct) uses a green ramp and mistakes an orange one, so the two read apart
    even without the outline; text flips to white on dark fills.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    diagonal = np.eye(*counts.shape, dtype=bool)
    # Mistakes are rarely above a third of a row; stretch them so they are visible at all.
    t = np.where(diagonal, share, np.clip(share * 3.0, 0.0, 1.0))
    rgb = np.where(diagonal[..., None], GREENS(t), ORANGES(t)).astype(np.float64)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    cells = []
    for r in range(counts.shape[0]):
        row = []
        for c in range(counts.shape[1]):
            text = "#000000" if luma[r, c] > 140 else "#ffffff"
            row.append(ConfusionCell(css_color(tuple(int(v) for v in rgb[r, c])), text))
        cells.append(row)
    return cells


def confusion_chart(
    ctx: Any, width: float, height: float, confusion: Sequence[Sequence[float]] | np.ndarray,
    theme: Theme = LIGHT, true_label: str = "true", predicted_label: str = "predicted",
    title: str = "", class_labels: Sequence[str] | None = None,
) -> Rect:
    """Rows are the true class, columns the prediction; every count is written in its cell."""
    counts = np.asarray(confusion, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {counts.shape}")
    n = counts.shape[0]
    labels = list(class_labels) if class_labels is not None else [str(i) for i in range(n)]
    clear(ctx, width, height, theme)
    _draw_title(ctx, title, width, theme)

    top = 10 + _title_height(title, theme) + theme.font_size + 8  # predicted label + col labels
    left = 22 + theme.font_size + 8  # rotated true label + row labels
    side = max(1.0, min(width - left - 8, height - top - 8))
    grid = Rect(left + theme.font_size, top + theme.font_size, side - theme.font_size,
                side - theme.font_size)
    cell = grid.w / max(1, n)

    draw_text(ctx, predicted_label, grid.x + grid.w / 2, top - 6, theme.foreground,
              theme.font(bold=True), "center", "bottom")
    _draw_y_label(ctx, true_label, 4, grid.y + grid.h / 2, theme)
    for i, label in enumerate(labels[:n]):
        draw_text(ctx, label, grid.x + cell * (i + 0.5), grid.y - 3, theme.muted, theme.font(),
                  "center", "bottom")
        draw_text(ctx, label, grid.x - 5, grid.y + cell * (i + 0.5), theme.muted, theme.font(),
                  "right", "middle")

    colors = confusion_cell_colors(counts)
    texts = [[format_count(v) for v in row] for row in counts.tolist()]
    count_font = theme.font(_fitting_font_px(max(len(t) for row in texts for t in row), cell,
                                             theme.font_size))
    for r in range(n):
        for c in range(n):
            x, y = grid.x + c * cell, grid.y + r * cell
            ctx.fillStyle = colors[r][c].fill
            ctx.fillRect(x, y, cell, cell)
            draw_text(ctx, texts[r][c], x + cell / 2, y + cell / 2,
                      colors[r][c].text, count_font, "center", "middle")
    ctx.strokeStyle = theme.diagonal_outline
    ctx.lineWidth = 1.5
    for i in range(n):
        ctx.strokeRect(grid.x + i * cell + 1, grid.y + i * cell + 1, cell - 2, cell - 2)
    return grid


def _fitting_font_px(chars: int, cell: float, largest: int) -> int:
    # Digits are about 0.58 em wide; keep a little margin inside the cell.
    by_width = cell * 0.85 / (max(1, chars) * 0.58)
    return max(7, int(min(largest, cell * 0.45, by_width)))
