"""The drawing pad's ink -> an MNIST-style 28x28 digit, made the way MNIST's own digits were.

Pure NumPy, plus Pillow's area-averaging resize, imported only when the pad is first used.
"""

from __future__ import annotations

import numpy as np

MNIST_SIDE = 28
MNIST_BOX = 20  # MNIST digits were fitted into a 20x20 box, then centred by mass in 28x28
INK_THRESHOLD = 0.05



def _ink_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    # BOX is an exact area average when shrinking (the antialiasing MNIST's creators used);
    # when enlarging a tiny mark it would give blocky steps, so bilinear there.
    from PIL import Image  # here, not at the top: importing PIL would delay the page's boot

    shrinking = height <= image.shape[0] and width <= image.shape[1]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32))  # mode 'F'
    return np.asarray(pil.resize((width, height), resample=resample), dtype=np.float64)


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = image.sum()
    ys = np.arange(image.shape[0], dtype=np.float64)
    xs = np.arange(image.shape[1], dtype=np.float64)
    return float(image.sum(axis=1) @ ys / total), float(image.sum(axis=0) @ xs / total)


def mnist_preprocess(ink_alpha: np.ndarray, threshold: float = INK_THRESHOLD) -> np.ndarray | None:
    """Turn the drawing pad's ink coverage ``[H, W]`` in [0, 1] into a 28x28 float32 digit.

    Mirrors how MNIST was made: crop to the ink, fit into 20x20 keeping the aspect ratio with
    area-averaging, then place in 28x28 so the centre of mass sits at the centre. White ink 1.0
    on black 0.0, like the training data. Returns None when nothing is drawn.
    """
    ink = np.asarray(ink_alpha, dtype=np.float64)
    if ink.ndim != 2:
        raise ValueError(f"expected a 2-D ink array, got shape {ink.shape}")
    ink = np.clip(np.where(np.isfinite(ink), ink, 0.0), 0.0, 1.0)
    mask = ink > threshold
    if not mask.any():
        return None
    top, bottom, left, right = _ink_bbox(mask)
    crop = np.where(mask, ink, 0.0)[top:bottom, left:right]
    h, w = crop.shape
    factor = MNIST_BOX / max(h, w)
    new_h = min(MNIST_BOX, max(1, round(h * factor)))
    new_w = min(MNIST_BOX, max(1, round(w * factor)))
    digit = np.clip(_resize(crop, new_h, new_w), 0.0, 1.0)
    peak = digit.max()
    if peak <= 0:
        return None
    # Area-averaging a thin pen stroke dims it; MNIST strokes peak at full intensity.
    digit /= peak
    return _place_by_mass(digit)


def _place_by_mass(digit: np.ndarray) -> np.ndarray:
    h, w = digit.shape
    cy, cx = _centre_of_mass(digit)
    centre = (MNIST_SIDE - 1) / 2  # 13.5: the middle of a 28-pixel grid in index coordinates
    # Integer shift (as MNIST did), clipped so the whole digit stays inside the frame.
    top = int(np.clip(round(centre - cy), 0, MNIST_SIDE - h))
    left = int(np.clip(round(centre - cx), 0, MNIST_SIDE - w))
    out = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out
