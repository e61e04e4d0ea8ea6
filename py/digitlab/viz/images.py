"""Pure NumPy rendering: colours, colormaps, digit grids, filter and feature-map mosaics.

Everything here returns plain arrays (uint8 RGBA ``[H, W, 4]`` or float32) and runs the same
under CPython and Pyodide; putting the pixels on a canvas is the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RGBA = tuple[int, int, int, int]
ColorLike = str | Sequence[int]

MNIST_SIDE = 28  # digits are 28 x 28 pixels


# ---------------------------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------------------------


def parse_color(color: ColorLike) -> RGBA:
    """``'#rgb'``, ``'#rrggbb'``, ``'#rrggbbaa'`` or an ``(r, g, b[, a])`` sequence -> RGBA."""
    if isinstance(color, str):
        text = color.strip().lstrip("#")
        if len(text) in (3, 4):
            text = "".join(ch * 2 for ch in text)
        if len(text) not in (6, 8):
            raise ValueError(f"not a hex colour: {color!r}")
        values = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
    else:
        values = [int(v) for v in color]
    if len(values) == 3:
        values.append(255)
    if len(values) != 4 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"not an RGB(A) colour: {color!r}")
    return (values[0], values[1], values[2], values[3])


def css_color(color: ColorLike) -> str:
    """A colour as a CSS string the canvas understands."""
    r, g, b, a = parse_color(color)
    if a == 255:
        return f"rgb({r},{g},{b})"
    return f"rgba({r},{g},{b},{a / 255:.3g})"


@dataclass(frozen=True)
class Colormap:
    """Colours at evenly spaced anchors in [0, 1], linearly interpolated in between."""

    name: str
    anchors: tuple[str, ...]

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        """Map values in [0, 1] (clipped) to uint8 RGB, shape ``t.shape + (3,)``."""
        t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
        stops = np.linspace(0.0, 1.0, len(self.anchors))
        rgb = np.array([parse_color(c)[:3] for c in self.anchors], dtype=np.float64)
        channels = [np.interp(t, stops, rgb[:, k]) for k in range(3)]
        return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


# Samples of matplotlib's viridis: perceptually uniform, lightness rises monotonically, and it
# survives colour-blindness and greyscale printing.
VIRIDIS = Colormap(
    "viridis",
    ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
     "#fde725"),
)
# Blue (negative) - near white (zero) - red (positive), ColorBrewer RdBu: for signed weights.
DIVERGING = Colormap("diverging", ("#0571b0", "#92c5de", "#f7f7f7", "#f4a582", "#ca0020"))
GRAYS = Colormap("grays", ("#000000", "#ffffff"))
# Single-hue ramps used by the confusion matrix: correct (diagonal) vs. mistakes.
GREENS = Colormap("greens", ("#f7fcf5", "#a1d99b", "#41ab5d", "#005a32"))
ORANGES = Colormap("oranges", ("#fff5eb", "#fdae6b", "#e6550d", "#7f2704"))

COLORMAPS = {cm.name: cm for cm in (VIRIDIS, DIVERGING, GRAYS, GREENS, ORANGES)}


def get_colormap(colormap: str | Colormap) -> Colormap:
    if isinstance(colormap, Colormap):
        return colormap
    try:
        return COLORMAPS[colormap]
    except KeyError:
        raise ValueError(f"unknown colormap {colormap!r}; known: {sorted(COLORMAPS)}") from None


# ---------------------------------------------------------------------------------------------
# Tiling
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridLayout:
    """Geometry of a tiled grid: each cell is ``pad | tile | pad`` wide and
    ``pad | tile | label_h | pad`` tall, cells packed row-major with no extra gap."""

    count: int
    cols: int
    rows: int
    tile_w: int  # tile size in output pixels, i.e. already scaled
    tile_h: int
    scale: int
    pad: int
    label_h: int = 0

    @property
    def cell_w(self) -> int:
        return self.tile_w + 2 * self.pad

    @property
    def cell_h(self) -> int:
        return self.tile_h + self.label_h + 2 * self.pad

    @property
    def width(self) -> int:
        return self.cols * self.cell_w

    @property
    def height(self) -> int:
        return self.rows * self.cell_h

    def tile_origin(self, i: int) -> tuple[int, int]:
        """Top-left ``(x, y)`` of tile ``i``'s image pixels."""
        if not 0 <= i < self.count:
            raise IndexError(f"tile {i} out of range 0..{self.count - 1}")
        row, col = divmod(i, self.cols)
        return col * self.cell_w + self.pad, row * self.cell_h + self.pad

    def label_anchor(self, i: int) -> tuple[float, int]:
        """``(centre x, top y)`` of the label strip under tile ``i``."""
        x, y = self.tile_origin(i)
        return x + self.tile_w / 2, y + self.tile_h


def grid_layout(
    count: int, cols: int, tile_h: int, tile_w: int, scale: int = 1, pad: int = 0,
    label_h: int = 0,
) -> GridLayout:
    """Layout for ``count`` tiles of ``tile_h x tile_w`` source pixels, scaled by ``scale``."""
    if cols < 1 or scale < 1 or pad < 0 or label_h < 0 or count < 0:
        raise ValueError("need cols >= 1, scale >= 1, pad >= 0, label_h >= 0, count >= 0")
    rows = -(-count // cols)
    return GridLayout(count, cols, rows, tile_w * scale, tile_h * scale, scale, pad, label_h)


def _upscale(tiles: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of ``[N, h, w, ...]`` by an integer factor."""
    if scale == 1:
        return tiles
    return np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)


def _color_array(colors: Sequence[ColorLike | None] | None, n: int, default: RGBA) -> np.ndarray:
    """Per-tile RGBA, ``[n, 4]`` uint8; None entries take ``default``."""
    out = np.empty((n, 4), dtype=np.uint8)
    out[:] = default
    if colors is not None:
        if len(colors) != n:
            raise ValueError(f"{len(colors)} border colours for {n} tiles")
        for i, color in enumerate(colors):
            if color is not None:
                out[i] = parse_color(color)
    return out


def tile_rgba(
    tiles: np.ndarray, layout: GridLayout, background: ColorLike = (0, 0, 0, 0),
    border_colors: Sequence[ColorLike | None] | None = None,
) -> np.ndarray:
    """Arrange already-scaled RGBA tiles ``[N, tile_h, tile_w, 4]`` into one image.

    The whole mosaic is one reshape/transpose, so the cost does not grow with Python calls.
    A tile's border colour fills its padding ring (not the label strip).
    """
    n = layout.count
    bg = np.asarray(parse_color(background), dtype=np.uint8)
    slots = layout.rows * layout.cols
    pad, th, tw = layout.pad, layout.tile_h, layout.tile_w
    cells = np.empty((slots, layout.cell_h, layout.cell_w, 4), dtype=np.uint8)
    cells[:] = bg
    rings = _color_array(border_colors, n, tuple(int(v) for v in bg))
    cells[:n, : th + 2 * pad] = rings[:, None, None, :]
    cells[:n, pad : pad + th, pad : pad + tw] = tiles
    grid = cells.reshape(layout.rows, layout.cols, layout.cell_h, layout.cell_w, 4)
    grid = grid.transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grid.reshape(layout.height, layout.width, 4))


def _as_digit_stack(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == MNIST_SIDE * MNIST_SIDE:
        return images.reshape(-1, MNIST_SIDE, MNIST_SIDE)
    if images.ndim == 3:
        return images
    raise ValueError(f"expected [N, 784] or [N, h, w] images, got shape {images.shape}")


def _gray_to_rgba(gray: np.ndarray) -> np.ndarray:
    rgba = np.empty(gray.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = gray[..., None]
    rgba[..., 3] = 255
    return rgba


def digit_layout(
    count: int, cols: int, scale: int = 2, pad: int = 2, label_h: int = 0,
    side: int = MNIST_SIDE,
) -> GridLayout:
    """The layout ``digit_grid`` uses for ``count`` digits (for labels and hit-testing)."""
    return grid_layout(count, cols, side, side, scale, pad, label_h)


def digit_grid(
    images_uint8: np.ndarray, cols: int, scale: int = 2, pad: int = 2, invert: bool = False,
    border_colors: Sequence[ColorLike | None] | None = None,
    background: ColorLike = (0, 0, 0, 0), label_h: int = 0,
) -> np.ndarray:
    """Tile uint8 digits (``[N, 784]`` or ``[N, 28, 28]``) into an RGBA image.

    MNIST is white ink on black; ``invert`` gives black ink on white for light pages. Geometry is
    ``digit_layout(N, cols, scale, pad, label_h)``; ``label_h`` leaves room for text under tiles.
    """
    digits = _as_digit_stack(images_uint8)
    if digits.dtype != np.uint8:
        digits = np.clip(digits, 0, 255).astype(np.uint8)
    if invert:
        digits = 255 - digits
    n, h, w = digits.shape
    layout = grid_layout(n, cols, h, w, scale, pad, label_h)
    tiles = _gray_to_rgba(_upscale(digits, scale))
    return tile_rgba(tiles, layout, background, border_colors)


# ---------------------------------------------------------------------------------------------
# Filters, feature maps
# ---------------------------------------------------------------------------------------------


def filters_grid(
    kernels: np.ndarray, cols: int | None = None, scale: int = 8, pad: int = 2,
    background: ColorLike = (0, 0, 0, 0),
) -> np.ndarray:
    """First-layer conv filters ``[kh, kw, cin, cout]`` as a mosaic, one tile per output filter.

    Input channels are averaged (the first layer has one). Each filter is scaled by its own
    largest |weight| so its pattern is visible whatever its norm, keeping 0 at the neutral middle
    of the diverging map so the sign reads correctly.
    """
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim != 4:
        raise ValueError(f"expected kernels [kh, kw, cin, cout], got shape {kernels.shape}")
    per_filter = kernels.mean(axis=2).transpose(2, 0, 1)  # [cout, kh, kw]
    per_filter = np.where(np.isfinite(per_filter), per_filter, 0.0)
    peak = np.abs(per_filter).max(axis=(1, 2), keepdims=True)
    signed = np.divide(per_filter, peak, out=np.zeros_like(per_filter), where=peak > 0)
    tiles = _rgba_from_unit(signed * 0.5 + 0.5, DIVERGING)
    count, kh, kw = per_filter.shape
    layout = grid_layout(count, cols or _default_cols(count), kh, kw, scale, pad)
    return tile_rgba(_upscale(tiles, scale), layout, background)


def feature_maps_grid(
    maps: np.ndarray, cols: int | None = None, scale: int = 2, pad: int = 2,
    colormap: str | Colormap = VIRIDIS, background: ColorLike = (0, 0, 0, 0),
) -> np.ndarray:
    """Activations ``[H, W, C]`` as a mosaic, each channel stretched to its own min..max."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps [H, W, C], got shape {maps.shape}")
    per_channel = np.where(np.isfinite(maps), maps, 0.0).transpose(2, 0, 1)  # [C, H, W]
    low = per_channel.min(axis=(1, 2), keepdims=True)
    span = per_channel.max(axis=(1, 2), keepdims=True) - low
    unit = np.divide(per_channel - low, span, out=np.zeros_like(per_channel), where=span > 0)
    tiles = _rgba_from_unit(unit, get_colormap(colormap))
    count, h, w = per_channel.shape
    layout = grid_layout(count, cols or _default_cols(count), h, w, scale, pad)
    return tile_rgba(_upscale(tiles, scale), layout, background)


def _rgba_from_unit(unit: np.ndarray, colormap: Colormap) -> np.ndarray:
    rgba = np.empty(unit.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = colormap(unit)
    rgba[..., 3] = 255
    return rgba


def _default_cols(count: int) -> int:
    # Close to square, but never wider than 8 so mosaics fit a narrow panel.
    return max(1, min(8, int(np.ceil(np.sqrt(count)))))
