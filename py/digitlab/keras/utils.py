"""Keras's `keras.utils` helpers that the lab's cells use: the seed and one-hot labels.

The seed follows the project's rule, default 0 everywhere: a model's initial weights and its
dropout masks come from the seed in force when the model is built (`build_model(spec, seed)`,
the same streams the page's `train()` uses), and fit's batch order from the seed in force when
fit is called (the engine's `TrainingRun` seed). So the same seed gives the same weights as
`train({model: ...})` with that seed.
"""

from __future__ import annotations

import random

import numpy as np

_seed = 0


def set_random_seed(seed: int) -> None:
    """Seed everything that follows: model builds, fit's batch order, and, as Keras does,
    Python's `random` and NumPy's global generator."""
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) \
            or not 0 <= seed < 2**32:
        raise TypeError(f"set_random_seed expects an int from 0 to 2**32 - 1, got {seed!r}")
    _seed = int(seed)
    random.seed(_seed)
    np.random.seed(_seed)


def get_random_seed() -> int:
    """The seed in force (0 until set_random_seed is called)."""
    return _seed


def to_categorical(x: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Class numbers [N] (or [N, 1]) -> one-hot float32 rows [N, num_classes], as Keras's."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (not np.array_equal(labels, np.round(labels)) or labels.min() < 0
                        or labels.max() >= num_classes):
        raise ValueError("to_categorical expects whole class numbers from 0 to num_classes - 1,"
                         f" got values from {labels.min()} to {labels.max()}")
    labels = labels.astype(np.intp)
    return np.eye(num_classes, dtype=np.float32)[labels]


__all__ = ["get_random_seed", "set_random_seed", "to_categorical"]
