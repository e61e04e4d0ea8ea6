"""The one matrix product every layer uses: gemm(a, b, trans_a, trans_b, out).

A backend is a GEMM plus, optionally, its own versions of the layers' other passes (ops.py);
the WebAssembly SIMD one is swapped in behind `set_backend`, and nothing else in the core knows
which backend runs. The backend is chosen by configuration, never by timing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from . import ops

Backend = Callable[[np.ndarray, np.ndarray, bool, bool, "np.ndarray | None"], np.ndarray]


def _matmul_views(a, b, trans_a, trans_b, out):
    # Native BLAS handles transposed views itself, so no copies here.
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)


def _matmul_contiguous(a, b, trans_a, trans_b, out):
    # Pyodide's NumPy has no BLAS: matmul runs 5-7 GFLOP/s on C-contiguous operands but only
    # 1-1.7 when an operand is a transposed view, so paying for one copy is much cheaper.
    a = np.ascontiguousarray(a.T) if trans_a else np.ascontiguousarray(a)
    b = np.ascontiguousarray(b.T) if trans_b else np.ascontiguousarray(b)
    return np.matmul(a, b, out=out)


_BACKENDS: dict[str, tuple[Backend, dict | None]] = {
    "matmul": (_matmul_views, None),
    "matmul-contiguous": (_matmul_contiguous, None),
}
DEFAULT_BACKEND = "matmul-contiguous" if sys.platform == "emscripten" else "matmul"
_active: list = [DEFAULT_BACKEND, _matmul_contiguous if sys.platform == "emscripten"
                 else _matmul_views]


def register_backend(name: str, fn: Backend, op_table: dict | None = None) -> None:
    """Make `fn(a, b, trans_a, trans_b, out)` selectable as `set_backend(name)`; `op_table`
    replaces ops.py's NumPy passes while it is active (see ops.use)."""
    _BACKENDS[name] = (fn, op_table)


def set_backend(name: str) -> None:
    """Select the backend by name (see `backends()`): its GEMM and its layer passes."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown GEMM backend {name!r}; known: {', '.join(sorted(_BACKENDS))}")
    fn, op_table = _BACKENDS[name]
    ops.use(op_table)
    _active[:] = [name, fn]


def get_backend() -> str:
    return _active[0]


def backends() -> list[str]:
    return sorted(_BACKENDS)


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    trans_a: bool = False,
    trans_b: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """op(a) @ op(b) for 2-D arrays, op = transpose when the flag is set. [m,k] @ [k,n] -> [m,n]"""
    return _active[1](a, b, trans_a, trans_b, out)
