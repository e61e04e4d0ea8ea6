"""Central finite differences in float64 for layer and loss gradient checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, perturbing x in place one element at a time."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        plus = f()
        x[index] = old - eps
        minus = f()
        x[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the gradient's scale (robust for exact zeros)."""
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-8)
    return float(np.abs(a - b).max() / scale)


def to_float64(layer) -> None:
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}


def check_layer(layer, x: np.ndarray, seed: int = 0, tol: float = 1e-6) -> None:
    """Check backward's input and parameter gradients for loss = sum(forward(x) * r)."""
    to_float64(layer)
    out = layer.forward(x, training=True)
    r = np.random.default_rng(seed).standard_normal(out.shape)

    def loss() -> float:
        return float((layer.forward(x, training=True) * r).sum())

    layer.forward(x, training=True)
    dx = layer.backward(r)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    if dx is not None:
        err = relative_error(dx, numeric_grad(loss, x))
        assert err < tol, f"input gradient relative error {err:.2e}"
    for name, param in layer.params.items():
        err = relative_error(grads[name], numeric_grad(loss, param))
        assert err < tol, f"{name} gradient relative error {err:.2e}"
