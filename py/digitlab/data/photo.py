"""A photo (or scan, or drawing file) of a digit -> the pad's ink and an MNIST-style 28x28 digit.

For readers who cannot draw with a mouse: any image Pillow reads (PNG, JPEG, ...). The steps,
all vectorised NumPy after Pillow decodes and shrinks the image:

1. decode, turn by the camera's EXIF orientation, flatten transparency onto white paper,
   greyscale, shrink so the longer side is at most `WORK_SIDE` (area averaging: it also
   smooths sensor noise);
2. decide the polarity: the paper is most of the picture, so if the median is on the light
   side of the range the ink is darker than the paper and the image is inverted;
3. even out the paper: its level is estimated per block (a high percentile of each block, so
   the ink in it does not count) and subtracted, which removes shadows and uneven light;
4. contrast stretch (the strongest ink becomes 1) and an Otsu threshold that zeroes the noise
   left on the paper; isolated specks far from the digit are dropped when cropping;
5. crop to the ink and fit it into the pad (`pad_ink`), and, through the pad's own
   `mnist_preprocess`, into 20x20 centred by mass in 28x28 (`photo_to_mnist`).

Unreadable, huge and blank images are refused with BAD_IMAGE and a reason.
"""

from __future__ import annotations

import io

import numpy as np

from digitlab.data.preprocess import mnist_preprocess
from digitlab.errors import DigitLabError

MAX_BYTES = 20 * 1024 * 1024  # a phone photo is a few MB; more is not a photo of a digit
MAX_PIXELS = 50_000_000  # checked from the header, before any pixel is decoded
WORK_SIDE = 280  # the pad's size: the ink ends up there anyway
BLOCKS = 8  # the paper's level is estimated on a BLOCKS x BLOCKS grid
PAPER_PERCENTILE = 90  # of each block (ink dark): paper is most of a block, ink the darkest part
MIN_CONTRAST = 0.08  # ink weaker than this, after evening out the paper, is a blank image
PAD_FILL = 0.7  # the digit's longer side on the pad, as a fraction of the pad
SPECK_FRACTION = 0.02  # a separate run of ink lighter than this share is a speck


class ImageError(DigitLabError):
    """An image the upload cannot use: `reason` is empty, too_large, too_many_pixels,
    unreadable or blank."""

    code = "BAD_IMAGE"


def read_grey(data: bytes) -> np.ndarray:
    """The image as float greyscale [H, W] in [0, 1] (1 = white), longer side <= WORK_SIDE."""
    from PIL import Image, ImageOps  # here: importing PIL would delay the page's boot

    if not data:
        raise ImageError("empty")
    if len(data) > MAX_BYTES:
        raise ImageError("too_large", size_mb=round(len(data) / 2**20, 1),
                         limit_mb=MAX_BYTES // 2**20)
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageError("too_many_pixels", width=width, height=height,
                             limit=MAX_PIXELS)
        image.draft("L", (WORK_SIDE, WORK_SIDE))  # JPEG: decode at a reduced scale, much faster
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(paper, rgba)  # transparent = white paper
        grey = image.convert("L")
        grey.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    except ImageError:
        raise
    except Exception as exception:  # noqa: BLE001 - Pillow raises many kinds for bad files
        raise ImageError("unreadable", cause=f"{type(exception).__name__}: {exception}") from None
    return np.asarray(grey, dtype=np.float64) / 255.0


def _block_level(grey: np.ndarray, percentile: float) -> np.ndarray:
    """A smooth per-pixel estimate of the paper: `percentile` of each block of a BLOCKS grid,
    interpolated bilinearly between block centres."""
    h, w = grey.shape
    rows = np.linspace(0, h, BLOCKS + 1).astype(int)
    cols = np.linspace(0, w, BLOCKS + 1).astype(int)
    levels = np.array([[np.percentile(grey[rows[i]:max(rows[i + 1], rows[i] + 1),
                                           cols[j]:max(cols[j + 1], cols[j] + 1)], percentile)
                        for j in range(BLOCKS)] for i in range(BLOCKS)])
    # A block the digit fills has no paper to measure: each block takes the lowest level of
    # itself and its neighbours (the ink is the bright part, so the paper is the low one).
    padded = np.pad(levels, 1, mode="edge")
    levels = np.min([padded[1 + dy:1 + dy + BLOCKS, 1 + dx:1 + dx + BLOCKS]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    centre_y = (rows[:-1] + rows[1:] - 1) / 2
    centre_x = (cols[:-1] + cols[1:] - 1) / 2
    y0, y1, wy = _between(np.arange(h), centre_y)
    x0, x1, wx = _between(np.arange(w), centre_x)
    top = levels[y0][:, x0] * (1 - wx) + levels[y0][:, x1] * wx
    bottom = levels[y1][:, x0] * (1 - wx) + levels[y1][:, x1] * wx
    return top * (1 - wy)[:, None] + bottom * wy[:, None]


def _between(positions: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """For each position, the two block centres around it and the weight of the second
    (clamped beyond the outer centres)."""
    fraction = np.interp(positions, centres, np.arange(len(centres), dtype=np.float64))
    first = np.floor(fraction).astype(int)
    second = np.minimum(first + 1, len(centres) - 1)
    return first, second, fraction - first


def _otsu(values: np.ndarray) -> float:
    """The threshold in [0, 1] that best splits `values` into two classes (Otsu's method)."""
    counts, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    mass = np.cumsum(counts * centres)
    total, total_mass = weight[-1], mass[-1]
    below, above = weight[:-1], total - weight[:-1]
    valid = (below > 0) & (above > 0)
    mean_below = np.divide(mass[:-1], below, out=np.zeros(255), where=valid)
    mean_above = np.divide(total_mass - mass[:-1], above, out=np.zeros(255), where=valid)
    between = np.where(valid, below * above * (mean_below - mean_above) ** 2, -1.0)
    return float(edges[int(np.argmax(between)) + 1])


def ink_of(grey: np.ndarray) -> np.ndarray:
    """Greyscale (1 = white) -> ink [H, W] in [0, 1] (1 = full ink, 0 = paper)."""
    low, median, high = np.percentile(grey, [1, 50, 99])
    if high - low < MIN_CONTRAST:
        raise ImageError("blank")
    if median > (low + high) / 2:  # light paper, dark ink: make the ink the bright part
        grey = 1.0 - grey
    paper = _block_level(grey, 100 - PAPER_PERCENTILE)  # the ink is now the bright part
    ink = np.clip(grey - paper, 0.0, None)
    strongest = np.percentile(ink, 99.9)
    if strongest < MIN_CONTRAST:
        raise ImageError("blank")
    ink = np.clip(ink / strongest, 0.0, 1.0)
    threshold = _otsu(ink)
    return np.where(ink > threshold, ink, 0.0)


def _main_span(mass: np.ndarray) -> tuple[int, int]:
    """First and one-past-last index of the digit along one axis. The ink's projection is split
    into runs separated by empty gaps; runs holding under SPECK_FRACTION of the ink are specks
    of noise, not strokes (a digit's own strokes project onto one contiguous run)."""
    present = np.concatenate([[False], mass > 0, [False]])
    edges = np.flatnonzero(present[1:] != present[:-1])
    starts, stops = edges[0::2], edges[1::2]
    cumulative = np.concatenate([[0.0], np.cumsum(mass)])
    share = (cumulative[stops] - cumulative[starts]) / cumulative[-1]
    kept = share >= SPECK_FRACTION
    return int(starts[kept][0]), int(stops[kept][-1])


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box, without the specks of noise around it."""
    top, bottom = _main_span(ink.sum(axis=1))
    left, right = _main_span(ink.sum(axis=0))
    return ink[top:bottom, left:right]


def pad_ink(data: bytes, width: int = WORK_SIDE, height: int = WORK_SIDE) -> np.ndarray:
    """The image's ink fitted into a `height` x `width` pad, centred, as uint8 alpha: what the
    page draws on the pad, so the pad (and everything that reads it) shows the upload."""
    from PIL import Image

    crop = crop_to_ink(ink_of(read_grey(data)))
    h, w = crop.shape
    factor = PAD_FILL * min(width, height) / max(h, w)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    resample = Image.Resampling.BOX if factor < 1 else Image.Resampling.BILINEAR
    fitted = np.asarray(Image.fromarray(crop.astype(np.float32)).resize((new_w, new_h), resample))
    out = np.zeros((height, width), dtype=np.float64)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = np.clip(fitted, 0.0, 1.0)
    return np.round(out * 255).astype(np.uint8)


def photo_to_mnist(data: bytes) -> np.ndarray:
    """The image as an MNIST-style digit: 28x28 float32, white ink on black, as the pad's."""
    digit = mnist_preprocess(pad_ink(data) / np.float32(255))
    if digit is None:  # cannot happen after ink_of's checks, but a digit must exist
        raise ImageError("blank")
    return digit
