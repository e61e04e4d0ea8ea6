import math
import re

import numpy as np
import pytest

from digitlab.viz.charts import (
    DARK,
    LIGHT,
    Series,
    bar_chart,
    confusion_cell_colors,
    confusion_chart,
    downsample_minmax,
    format_count,
    format_number,
    format_percent,
    line_chart,
    nice_range,
    nice_ticks,
)
from digitlab.viz.images import parse_color


def _rgb(css: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"rgba?\((\d+),(\d+),(\d+)(?:,[\d.]+)?\)", css.replace(" ", ""))
    if match:
        return tuple(int(v) for v in match.groups())
    return parse_color(css)[:3]


class FakeContext:
    """Records every call and attribute set, and rasterises fills and strokes into a NumPy
    RGB image (no anti-aliasing, no dashes, transforms ignored), enough to check pixels."""

    def __init__(self, width: int, height: int):
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "pixels", np.zeros((height, width, 3), dtype=np.uint8))
        object.__setattr__(self, "state", {"fillStyle": "#000", "strokeStyle": "#000"})
        object.__setattr__(self, "path", [])
        object.__setattr__(self, "stack", [])

    def __setattr__(self, name, value):
        self.calls.append(("set", name, value))
        self.state[name] = value

    def __getattr__(self, name):
        if name in self.state:
            return self.state[name]
        raise AttributeError(name)

    def _record(self, name, *args):
        self.calls.append((name, *args))

    def _paint(self, x0, y0, x1, y1, color):
        h, w = self.pixels.shape[:2]
        xa, xb = max(0, int(math.floor(x0))), min(w, int(math.ceil(x1)))
        ya, yb = max(0, int(math.floor(y0))), min(h, int(math.ceil(y1)))
        if xa < xb and ya < yb:
            self.pixels[ya:yb, xa:xb] = _rgb(color)

    def fillRect(self, x, y, w, h):
        self._record("fillRect", x, y, w, h)
        self._paint(x, y, x + w, y + h, self.state["fillStyle"])

    def clearRect(self, x, y, w, h):
        self._record("clearRect", x, y, w, h)
        self._paint(x, y, x + w, y + h, "#000")

    def strokeRect(self, x, y, w, h):
        self._record("strokeRect", x, y, w, h, self.state["strokeStyle"])

    def beginPath(self):
        self._record("beginPath")
        self.path.clear()

    def moveTo(self, x, y):
        self._record("moveTo", x, y)
        self.path.append([(x, y)])

    def lineTo(self, x, y):
        self._record("lineTo", x, y)
        self.path[-1].append((x, y))

    def stroke(self):
        self._record("stroke", self.state["strokeStyle"], [list(p) for p in self.path])
        color = _rgb(self.state["strokeStyle"])
        h, w = self.pixels.shape[:2]
        for polyline in self.path:
            pts = np.asarray(polyline, dtype=np.float64)
            for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:], strict=True):
                steps = int(max(abs(xb - xa), abs(yb - ya))) + 2
                xs = np.clip(np.rint(np.linspace(xa, xb, steps)).astype(int), 0, w - 1)
                ys = np.clip(np.rint(np.linspace(ya, yb, steps)).astype(int), 0, h - 1)
                self.pixels[ys, xs] = color

    def fill(self):
        self._record("fill")

    def fillText(self, text, x, y):
        self._record("fillText", text, x, y, self.state["fillStyle"], self.state.get("textAlign"))

    def setLineDash(self, pattern):
        self._record("setLineDash", list(pattern))

    def save(self):
        self._record("save")
        self.stack.append(dict(self.state))

    def restore(self):
        self._record("restore")
        self.state.clear()
        self.state.update(self.stack.pop())

    def translate(self, x, y):
        self._record("translate", x, y)

    def rotate(self, angle):
        self._record("rotate", angle)

    # Query helpers for the tests
    def named(self, name):
        return [c for c in self.calls if c[0] == name]

    def texts(self):
        return [c[1] for c in self.named("fillText")]

    def polylines(self, color):
        """Every polyline stroked in ``color`` (series lines, legend swatches)."""
        return [line for c in self.named("stroke") if c[1] == color for line in c[2]]


def _is_nice_step(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5))


def _inside(rect, x, y) -> bool:
    return rect.x - 1e-6 <= x <= rect.x + rect.w + 1e-6 and rect.y - 1e-6 <= y <= (
        rect.y + rect.h + 1e-6
    )


# ------------------------------------------------------------------------------- ticks, numbers


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 1), (0.0213, 2.31), (-3, 17), (0, 5500), (1, 10), (0.9, 0.905), (-1e6, 0)]
)
def test_ticks_are_nice_and_inside_range(lo, hi):
    ticks = nice_ticks(lo, hi, max_ticks=6)
    assert 2 <= len(ticks) <= 6
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0])
    assert _is_nice_step(steps[0])
    assert all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)
    assert all(math.isclose(t / steps[0], round(t / steps[0]), abs_tol=1e-6) for t in ticks)


@pytest.mark.parametrize(("lo", "hi"), [(1, 2), (1, 3), (1, 10), (1, 107)])
def test_count_axes_get_whole_number_ticks_only(lo, hi):
    """Epochs and batches: 1, 2, 3 and never 1.5 (a 3-epoch run used to show half epochs)."""
    assert nice_ticks(1, 3, max_ticks=8) == [1, 1.5, 2, 2.5, 3]  # what a count axis avoids
    ticks = nice_ticks(lo, hi, max_ticks=8, min_step=1.0)
    assert len(ticks) >= 2 and lo <= ticks[0] and ticks[-1] <= hi
    assert all(float(t).is_integer() for t in ticks), ticks


def test_nice_range_widens_to_whole_steps():
    lo, hi = nice_range(0.13, 2.31)
    assert lo <= 0.13 and hi >= 2.31
    assert nice_ticks(lo, hi)[0] == pytest.approx(lo)
    assert nice_ticks(lo, hi)[-1] == pytest.approx(hi)
    assert nice_range(3.0, 3.0)[0] < 3.0 < nice_range(3.0, 3.0)[1]


def test_format_number_is_compact():
    assert format_number(0.30000000000000004, 0.1) == "0.3"
    assert format_number(2.0, 0.5) == "2.0"
    assert format_number(5, 1) == "5"
    assert format_number(12000, 2000) == "12k"
    assert format_number(2_500_000, 500_000) == "2.5M"
    assert format_number(980) == "980"
    assert format_number(1004) == "1k" and format_number(0.98765) == "0.988"
    assert format_count(1035) == "1035" and format_count(123_456) == "123k"
    assert format_number(float("nan")) == "–"


def test_format_percent_has_the_decimals_the_step_needs():
    assert format_percent(0.2, 0.2) == "20%" and format_percent(1.0, 0.2) == "100%"
    assert format_percent(0.0, 0.2) == "0%"
    assert format_percent(0.25, 0.05) == "25%" and format_percent(0.05, 0.005) == "5.0%"
    assert format_percent(0.968) == "96.8%" and format_percent(math.nan) == "–"


# ------------------------------------------------------------------------------- line chart


def test_line_chart_draws_legend_title_labels_and_lines_inside_plot():
    ctx = FakeContext(400, 260)
    xs = np.arange(1, 11)
    train = Series("训练 train", xs, 1 / xs)
    val = Series("validation", xs, 1.2 / xs, dashed=True)
    plot = line_chart(ctx, 400, 260, [train, val], "Loss", "epoch", "loss", LIGHT)
    texts = ctx.texts()
    for word in ("训练 train", "validation", "Loss", "epoch", "loss"):
        assert word in texts
    assert plot.x > 0 and plot.x + plot.w <= 400 and plot.y > 0 and plot.y + plot.h <= 260
    inside = ctx.pixels[int(plot.y) + 1 : int(plot.y + plot.h) - 1,
                        int(plot.x) + 2 : int(plot.x + plot.w) - 1]
    for color in LIGHT.palette[:2]:
        assert (inside == _rgb(color)).all(axis=-1).sum() > 20, color
    # Background is the theme colour where nothing is drawn (top-right corner).
    assert tuple(ctx.pixels[-1, -1]) == _rgb(LIGHT.background)


def test_line_points_stay_in_plot_area_and_y_range_respected():
    ctx = FakeContext(300, 200)
    series = [Series("acc", [0, 1, 2, 3], [0.1, 0.5, 1.7, -0.4])]
    plot = line_chart(ctx, 300, 200, series, theme=DARK, y_range=(0, 1))
    lines = [line for line in ctx.polylines(DARK.palette[0]) if len(line) == 4]
    assert len(lines) == 1  # the series; the legend swatch has two points
    assert all(_inside(plot, x, y) for x, y in lines[0])
    assert min(y for _, y in lines[0]) == pytest.approx(plot.y)  # 1.7 clamped to the top
    assert max(y for _, y in lines[0]) == pytest.approx(plot.y + plot.h)  # -0.4 to the bottom
    tick_labels = set(ctx.texts())
    assert {"0.0", "1.0"} <= tick_labels or {"0", "1"} <= tick_labels


def test_line_chart_y_ticks_are_nice():
    ctx = FakeContext(300, 200)
    line_chart(ctx, 300, 200, [Series("loss", np.arange(50), np.linspace(2.31, 0.0213, 50))])
    # y tick labels are right-aligned; collect the numbers drawn left of the plot
    numbers = sorted(
        float(c[1]) for c in ctx.named("fillText") if re.fullmatch(r"-?\d+(\.\d+)?", c[1])
        and c[5] == "right"
    )
    assert len(numbers) >= 3
    steps = np.diff(numbers)
    assert np.allclose(steps, steps[0]) and _is_nice_step(steps[0])


def test_non_finite_values_are_skipped():
    ctx = FakeContext(300, 200)
    ys = [1.0, math.nan, 0.5, math.inf, 0.25, -math.inf]
    plot = line_chart(ctx, 300, 200, [Series("loss", range(6), ys)])
    coords = [v for c in ctx.calls if c[0] in ("moveTo", "lineTo", "fillRect") for v in c[1:]]
    assert all(math.isfinite(v) for v in coords)
    lines = [line for line in ctx.polylines(LIGHT.palette[0]) if len(line) > 2]
    assert len(lines) == 1 and len(lines[0]) == 3  # x = 0, 2, 4 survive
    assert all(_inside(plot, x, y) for x, y in lines[0])
    markers = [c for c in ctx.named("fillRect") if c[3] == 4 and c[4] == 4]
    assert len(markers) == 3


def test_downsampling_caps_line_calls_for_long_series():
    ctx = FakeContext(320, 200)
    n = 10_000
    ys = np.sin(np.linspace(0, 40, n))
    ys[7777] = 50.0  # a spike must survive min/max downsampling
    plot = line_chart(ctx, 320, 200, [Series("batch loss", np.arange(n), ys)], y_range=(-1, 50))
    longest = max(ctx.polylines(LIGHT.palette[0]), key=len)
    assert 100 < len(longest) <= 2 * plot.w
    assert len(ctx.named("lineTo")) <= 2 * plot.w + 40  # + a few for grid lines and axes
    top_y = min(y for _, y in longest)
    assert top_y == pytest.approx(plot.y, abs=1.0)  # the spike reaches the top of the axis


def test_downsample_minmax_keeps_extremes_in_order():
    x = np.arange(1000, dtype=float)
    y = np.cos(x)
    dx, dy = downsample_minmax(x, y, 10)
    assert dx.size <= 20
    assert np.all(np.diff(dx) > 0)
    assert dy.max() == y.max() and dy.min() == y.min()
    short_x, _ = downsample_minmax(x[:15], y[:15], 10)
    assert short_x.size == 15


def test_empty_series_and_single_point_do_not_crash():
    ctx = FakeContext(200, 150)
    plot = line_chart(ctx, 200, 150, [], "t", "x", "y")
    assert plot.w > 0 and plot.h > 0
    ctx = FakeContext(200, 150)
    line_chart(ctx, 200, 150, [Series("a", [], []), Series("b", [3], [0.7], color="#ff00ff")])
    markers = [c for c in ctx.named("fillRect") if c[3] == 4]
    assert len(markers) == 1
    assert (ctx.pixels == (255, 0, 255)).all(axis=-1).any()
    ctx = FakeContext(200, 150)
    line_chart(ctx, 200, 150, [Series("nan only", [0, 1], [math.nan, math.nan])])
    assert not ctx.named("lineTo") or all(math.isfinite(c[1]) for c in ctx.named("lineTo"))


def test_dashed_series_sets_and_resets_dash():
    ctx = FakeContext(300, 200)
    line_chart(ctx, 300, 200, [Series("val", [0, 1, 2], [1, 2, 3], dashed=True)])
    dashes = [c[1] for c in ctx.named("setLineDash")]
    assert any(d for d in dashes)
    assert dashes[-1] == []


# ------------------------------------------------------------------------------- bar chart


def test_bar_chart_highlights_and_formats_values():
    ctx = FakeContext(400, 200)
    probs = [0.01, 0.02, 0.9, 0.01, 0.0, 0.01, 0.01, 0.02, 0.01, 0.01]
    plot = bar_chart(ctx, 400, 200, [str(i) for i in range(10)], probs, "p", LIGHT,
                     ".0%", highlight_index=2)
    texts = ctx.texts()
    assert "90%" in texts and all(str(i) in texts for i in range(10))
    bar_fills = [c for c in ctx.calls if c[0] == "set" and c[1] == "fillStyle"]
    assert LIGHT.highlight in [c[2] for c in bar_fills]
    slot = plot.w / 10
    highlight_px = ctx.pixels[int(plot.y + plot.h) - 3, int(plot.x + slot * 2.5)]
    assert tuple(highlight_px) == _rgb(LIGHT.highlight)
    other_px = ctx.pixels[int(plot.y + plot.h) - 1, int(plot.x + slot * 1.5)]
    assert tuple(other_px) != _rgb(LIGHT.highlight)


def _y_tick_labels(ctx: FakeContext, plot) -> list[str]:
    """The right-aligned texts drawn left of the plot: the y axis's tick labels, top first."""
    ticks = [c for c in ctx.named("fillText") if c[5] == "right" and c[2] < plot.x]
    return [c[1] for c in sorted(ticks, key=lambda c: c[3])]


def test_bar_chart_with_a_percent_format_labels_its_axis_in_percent():
    ctx = FakeContext(480, 240)
    per_class = [0.968, 0.409, 0.133, 0.836, 0.026, 0.021, 0.724, 0.632, 0.028, 0.821]
    plot = bar_chart(ctx, 480, 240, [str(i) for i in range(10)], per_class, "Accuracy", LIGHT,
                     ".1%")
    assert "96.8%" in ctx.texts()  # the values above the bars
    assert _y_tick_labels(ctx, plot) == ["100%", "80%", "60%", "40%", "20%", "0%"]


def test_bar_chart_axis_keeps_numbers_for_other_formats():
    ctx = FakeContext(400, 200)
    plot = bar_chart(ctx, 400, 200, ["a", "b"], [5400, 6100], "", LIGHT, "d", y_range=None)
    labels = _y_tick_labels(ctx, plot)
    assert labels and not any("%" in label for label in labels)
    assert labels[-1] == "0" and labels[0].endswith("k")  # compact counts, as before


def test_bar_chart_fits_counts_and_skips_non_finite():
    ctx = FakeContext(400, 200)
    bar_chart(ctx, 400, 200, ["a", "b", "c"], [5400, math.nan, 6100], "", DARK,
              lambda v: f"{v:,.0f}", y_range=None)
    texts = ctx.texts()
    assert "5,400" in texts and "6,100" in texts and "nan" not in " ".join(texts)
    bars = [c for c in ctx.named("fillRect") if c[3] < 400 and c[1] > 0]
    assert len(bars) == 2


# ------------------------------------------------------------------------------- confusion


def _confusion() -> np.ndarray:
    rng = np.random.default_rng(1)
    m = rng.integers(0, 9, size=(10, 10))
    m[np.diag_indices(10)] = rng.integers(80, 120, size=10)
    return m


def test_confusion_chart_writes_every_count_and_axis_labels():
    m = _confusion()
    ctx = FakeContext(360, 380)
    confusion_chart(ctx, 360, 380, m.tolist(), LIGHT, "真实", "预测", "Confusion")
    texts = ctx.texts()
    for word in ("真实", "预测", "Confusion"):
        assert word in texts
    cell_texts = [t for t in texts if t.isdigit()]
    for value in m.ravel():
        assert str(value) in cell_texts
    assert len(cell_texts) >= 100 + 20  # 100 counts + row and column labels


def test_confusion_diagonal_is_distinguished():
    m = _confusion()
    ctx = FakeContext(360, 380)
    grid = confusion_chart(ctx, 360, 380, m, DARK)
    outlines = ctx.named("strokeRect")
    assert len(outlines) == 10
    cell = grid.w / 10
    for i, (_, x, y, _w, _h, _color) in enumerate(outlines):
        assert int((x - grid.x) // cell) == i and int((y - grid.y) // cell) == i
    colors = confusion_cell_colors(m)
    diag = [_rgb(colors[i][i].fill) for i in range(10)]
    off = [_rgb(colors[r][c].fill) for r in range(10) for c in range(10) if r != c and m[r, c]]
    assert all(g > r for r, g, _ in diag)  # green ramp
    assert all(r > g for r, g, _ in off)  # orange ramp


def test_confusion_text_contrasts_with_fill():
    m = np.array([[100, 0], [50, 50]])
    colors = confusion_cell_colors(m)
    for row in colors:
        for cell in row:
            fill_luma = np.dot(_rgb(cell.fill), [0.299, 0.587, 0.114])
            text_luma = np.dot(_rgb(cell.text), [0.299, 0.587, 0.114])
            assert abs(fill_luma - text_luma) > 90
    assert colors[0][0].text != colors[0][1].text  # full-green vs empty cell


def test_confusion_rejects_non_square():
    with pytest.raises(ValueError):
        confusion_chart(FakeContext(10, 10), 10, 10, [[1, 2, 3]], LIGHT)




def test_themes_have_distinct_train_and_validation_colours_and_cjk_fonts():
    for theme in (LIGHT, DARK):
        first, second = (np.array(_rgb(c), dtype=float) for c in theme.palette[:2])
        assert np.abs(first - second).sum() > 150
        assert "Noto Sans CJK SC" in theme.font() and "sans-serif" in theme.font()
        assert theme.background != theme.foreground
