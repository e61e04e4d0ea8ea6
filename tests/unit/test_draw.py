import numpy as np
import pytest

from digitlab.data.preprocess import mnist_preprocess
from digitlab.viz.images import (
    DIVERGING,
    VIRIDIS,
    digit_grid,
    digit_layout,
    feature_maps_grid,
    filters_grid,
    grid_layout,
    parse_color,
)


def _digits(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


# ------------------------------------------------------------------------------- digit_grid


@pytest.mark.parametrize(
    ("n", "cols", "scale", "pad"), [(7, 3, 3, 2), (10, 10, 1, 0), (1, 4, 2, 1)]
)
def test_digit_grid_places_each_tile_exactly(n, cols, scale, pad):
    images = _digits(n)
    grid = digit_grid(images, cols, scale=scale, pad=pad)
    layout = digit_layout(n, cols, scale, pad)
    assert grid.dtype == np.uint8
    assert grid.shape == (layout.height, layout.width, 4)
    side = 28 * scale
    for i in range(n):
        x, y = layout.tile_origin(i)
        tile = grid[y : y + side, x : x + side]
        expected = np.kron(images[i].reshape(28, 28), np.ones((scale, scale), dtype=np.uint8))
        for channel in range(3):
            np.testing.assert_array_equal(tile[..., channel], expected)
        assert (tile[..., 3] == 255).all()


def test_digit_grid_accepts_square_images_and_inverts():
    images = _digits(4)
    flat = digit_grid(images, 2)
    square = digit_grid(images.reshape(4, 28, 28), 2)
    np.testing.assert_array_equal(flat, square)
    inverted = digit_grid(images, 2, invert=True)
    x, y = digit_layout(4, 2).tile_origin(3)
    assert inverted[y, x, 0] == 255 - images[3, 0]


def test_digit_grid_border_and_background_colours():
    images = np.zeros((3, 784), dtype=np.uint8)
    grid = digit_grid(images, 2, scale=1, pad=3, border_colors=["#ff0000", None, (0, 0, 255)],
                      background="#102030")
    layout = digit_layout(3, 2, 1, 3)
    bg = parse_color("#102030")
    x0, y0 = layout.tile_origin(0)
    assert tuple(grid[y0 - 1, x0 - 1]) == (255, 0, 0, 255)
    x1, y1 = layout.tile_origin(1)
    assert tuple(grid[y1 - 1, x1]) == bg  # no border colour -> background
    x2, y2 = layout.tile_origin(2)
    assert tuple(grid[y2 + 28, x2 + 5]) == (0, 0, 255, 255)
    # The empty fourth slot is pure background.
    assert (grid[y2:, layout.cell_w :] == bg).all()


def test_label_strip_is_background_below_the_border_ring():
    grid = digit_grid(_digits(2), 2, scale=1, pad=2, border_colors=["#ff0000", "#ff0000"],
                      label_h=12)
    layout = digit_layout(2, 2, 1, 2, label_h=12)
    assert grid.shape[0] == layout.height == 28 + 12 + 4
    cx, top = layout.label_anchor(0)
    assert top == 2 + 28
    assert tuple(grid[top + 2 + 5, int(cx)]) == (0, 0, 0, 0)  # past the ring: label strip
    assert tuple(grid[top, int(cx)]) == (255, 0, 0, 255)  # the ring under the tile


def test_layout_has_no_tile_past_its_count():
    layout = grid_layout(11, 4, 28, 28, scale=2, pad=3)
    assert layout.tile_origin(10) == (2 * layout.cell_w + 3, 2 * layout.cell_h + 3)
    with pytest.raises(IndexError):
        layout.tile_origin(11)


def test_empty_grid_has_no_rows():
    grid = digit_grid(np.zeros((0, 784), dtype=np.uint8), 5)
    assert grid.shape[0] == 0 and grid.shape[2] == 4


# ------------------------------------------------------------------------------- colormaps


def test_viridis_luminance_rises_monotonically():
    ramp = VIRIDIS(np.linspace(0, 1, 256))
    # Rounding to uint8 can wobble one step by under one unit of a channel; nothing more.
    assert np.all(np.diff(_luma(ramp)) > -0.5)
    assert np.all(np.diff(_luma(VIRIDIS(np.linspace(0, 1, 33)))) > 0)
    assert tuple(ramp[0]) == parse_color("#440154")[:3]
    assert tuple(ramp[-1]) == parse_color("#fde725")[:3]


def test_filters_grid_shows_sign_with_zero_neutral():
    kernels = np.zeros((5, 5, 1, 3))
    kernels[0, 0, 0, 0] = 2.0  # positive -> red end
    kernels[0, 0, 0, 1] = -0.001  # tiny negative still hits the blue end (per-filter scaling)
    rgba = filters_grid(kernels, cols=3, scale=4, pad=1)
    layout = grid_layout(3, 3, 5, 5, scale=4, pad=1)
    assert rgba.shape == (layout.height, layout.width, 4)
    (x0, y0), (x1, y1), (x2, y2) = (layout.tile_origin(i) for i in range(3))
    assert tuple(rgba[y0, x0, :3]) == tuple(DIVERGING(1.0))
    assert tuple(rgba[y1, x1, :3]) == tuple(DIVERGING(0.0))
    assert tuple(rgba[y0 + 10, x0 + 10, :3]) == tuple(DIVERGING(0.5))  # zero weight
    assert tuple(rgba[y2 + 3, x2 + 3, :3]) == tuple(DIVERGING(0.5))  # all-zero filter


def test_feature_maps_are_normalised_per_channel():
    maps = np.zeros((6, 6, 2))
    maps[..., 0] = np.arange(36).reshape(6, 6)
    maps[..., 1] = 1000 * np.arange(36).reshape(6, 6)  # same pattern, other magnitude
    rgba = feature_maps_grid(maps, cols=2, scale=1, pad=0)
    assert rgba.shape == (6, 12, 4)
    np.testing.assert_array_equal(rgba[:, :6], rgba[:, 6:])
    flat = feature_maps_grid(np.ones((4, 4, 1)))
    assert np.isfinite(flat).all()


# ------------------------------------------------------------------------------- preprocessing


def _bbox(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(image.shape)
    total = image.sum()
    return float((ys * image).sum() / total), float((xs * image).sum() / total)


def test_off_centre_one_becomes_a_centred_mnist_digit():
    pad = np.zeros((280, 280))
    pad[20:200, 210:232] = 1.0  # a '1' near the top-right corner
    digit = mnist_preprocess(pad)
    assert digit is not None
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0.0 and digit.max() == pytest.approx(1.0)
    height, width = _bbox(digit > 0)
    assert height == 20 and width <= 4  # fitted to 20 tall, aspect ratio kept
    cy, cx = _centre_of_mass(digit)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_wide_shape_keeps_its_aspect_ratio():
    pad = np.zeros((280, 280))
    pad[100:150, 20:220] = 1.0  # 4:1
    digit = mnist_preprocess(pad)
    height, width = _bbox(digit > 0)
    assert width == 20 and height == 5


def test_empty_and_faint_pads_give_none():
    assert mnist_preprocess(np.zeros((280, 280))) is None
    assert mnist_preprocess(np.full((280, 280), 0.01)) is None


@pytest.mark.parametrize("kind", ["dot", "diagonal", "full", "thin_line", "nan"])
def test_extreme_drawings_give_finite_valid_output(kind):
    pad = np.zeros((280, 280))
    if kind == "dot":
        pad[140, 37] = 1.0
    elif kind == "diagonal":
        idx = np.arange(280)
        pad[idx, idx] = 1.0
        pad[idx[1:], idx[:-1]] = 1.0
    elif kind == "full":
        pad[:] = 1.0
    elif kind == "thin_line":
        pad[3, :] = 0.6
    else:
        pad[:] = np.nan
        pad[10:40, 10:40] = 1.0
    digit = mnist_preprocess(pad)
    assert digit is not None
    assert digit.shape == (28, 28)
    assert np.isfinite(digit).all()
    assert digit.min() >= 0.0 and digit.max() <= 1.0 and digit.max() > 0.5
    height, width = _bbox(digit > 0)
    assert height <= 20 and width <= 20


def test_non_square_pad_is_accepted():
    pad = np.zeros((200, 320))
    pad[50:150, 150:170] = 1.0
    digit = mnist_preprocess(pad)
    cy, cx = _centre_of_mass(digit)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
