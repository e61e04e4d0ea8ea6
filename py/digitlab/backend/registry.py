"""The one matrix product every layer uses: gemm(a, b, trans_a, trans_b, out).

A backend is a GEMM plus, optionally, its own versions of the layers' other passes (ops.py);
the WebAssembly SIMD one is swapped in behind `set_backend`, and nothing else in the core knows
which backend runs. The backend is chosen by configuration, never by timing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from digitlab.backend import numpy_ops

Backend = Callable[[np.ndarray, np.ndarray, bool, bool, "np.ndarray | None"], np.ndarray]


_BACKENDS: dict[str, tuple[Backend, dict | None]] = {
    # Native BLAS: transposed views as they are, and the passes shaped for cheap products.
    "matmul": (numpy_ops.matmul_views, numpy_ops.BLAS_PASSES),
    "matmul-contiguous": (numpy_ops.matmul_contiguous, None),
}
DEFAULT_BACKEND = "matmul-contiguous" if sys.platform == "emscripten" else "matmul"
_active: list = [DEFAULT_BACKEND, _BACKENDS[DEFAULT_BACKEND][0]]


def register_backend(name: str, fn: Backend, op_table: dict | None = None) -> None:
    """Make `fn(a, b, trans_a, trans_b, out)` selectable as `set_backend(name)`; `op_table`
    replaces the NumPy passes while it is active."""
    _BACKENDS[name] = (fn, op_table)


def set_backend(name: str) -> None:
    """Select the backend by name (see `backends()`): its GEMM and its layer passes."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown GEMM backend {name!r}; known: {', '.join(sorted(_BACKENDS))}")
    fn, op_table = _BACKENDS[name]
    _use_ops(op_table)
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


# ---------------------------------------------------------------- the layers' other passes

_ops: dict[str, Callable] = dict(_BACKENDS[DEFAULT_BACKEND][1] or numpy_ops.PASSES)


def _use_ops(table: dict[str, Callable] | None) -> None:
    """Make `table` (name -> function, same signatures as numpy_ops.PASSES) the active passes;
    None: NumPy's."""
    _ops.clear()
    _ops.update(numpy_ops.PASSES if table is None else table)


def conv_forward(xp: np.ndarray, w: np.ndarray, kernel_size: tuple[int, int],
                 strides: tuple[int, int]) -> np.ndarray | None:
    """[n,Hp,Wp,C] (*) w [kh*kw*C, F] -> [n,Ho,Wo,F], the windows read in place, or None where
    the backend cannot (then im2col + gemm)."""
    return _ops["conv_forward"](xp, w, kernel_size, strides)


def im2col(xp: np.ndarray, kernel_size: tuple[int, int],
           strides: tuple[int, int]) -> np.ndarray:
    return _ops["im2col"](xp, kernel_size, strides)


def col2im_add(dcols: np.ndarray, dxp: np.ndarray, kernel_size: tuple[int, int],
               strides: tuple[int, int]) -> None:
    _ops["col2im_add"](dcols, dxp, kernel_size, strides)


def conv_input_grad(d: np.ndarray, w: np.ndarray, dxp: np.ndarray,
                    kernel_size: tuple[int, int], strides: tuple[int, int]) -> None:
    """dxp [n,Hp,Wp,C] += the input gradient of a convolution whose output gradient is
    d [n*Ho*Wo, F] and kernel w [kh*kw*C, F]: col2im_add(gemm(d, w.T)), unless the backend
    has one pass for both (an optional entry: a backend without it keeps these two calls)."""
    fused = _ops.get("conv_input_grad")
    if fused is None:
        col2im_add(gemm(d, w, trans_b=True), dxp, kernel_size, strides)
    else:
        fused(d, w, dxp, kernel_size, strides)


def pool_forward(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    return _ops["pool_forward"](x, ph, pw)


def pool_backward(x: np.ndarray, out: np.ndarray, dout: np.ndarray, ph: int,
                  pw: int) -> np.ndarray:
    return _ops["pool_backward"](x, out, dout, ph, pw)


def bias_act(y: np.ndarray, bias: np.ndarray, relu: bool) -> None:
    _ops["bias_act"](y, bias, relu)


def grad_bias(dout: np.ndarray, y: np.ndarray, relu: bool) -> tuple[np.ndarray, np.ndarray]:
    return _ops["grad_bias"](dout, y, relu)
