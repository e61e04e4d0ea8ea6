"""The encoding the data and the network agree on: uint8 pixels become float32 in [0, 1],
int labels become one-hot rows.

Both `data` (its seeded batches) and `nn` (which accepts uint8 images and int labels) use it,
so neither has to know the other.
"""

from __future__ import annotations

import numpy as np

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def normalize(images: np.ndarray, shape: tuple[int, ...] = IMAGE_SHAPE) -> np.ndarray:
    """uint8 0..255 -> float32 0..1 (floats pass through), reshaped to [N, *shape]."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / np.float32(255)
    elif not np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32)
    return images.reshape(-1, *shape)


def one_hot(labels: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Int labels [N] -> one-hot [N,10]."""
    return np.eye(NUM_CLASSES, dtype=dtype)[np.asarray(labels, dtype=np.intp)]
