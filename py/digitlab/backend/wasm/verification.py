"""In-page verification of the loaded kernels, for the e2e tests (window.digitlab.simdVerify).

`verify(cases, seed)` runs gemm.simd_gemm (so the loaded digitlab_sgemm, whichever backend
the registry has active) on random shapes around the micro-kernel's tile edges (M, N near
1..9, 16, 32; K past the 256-deep block), with transposes, strided views and accumulate,
against NumPy float64; then each layer kernel of ops.py against its NumPy version in
backend/numpy_ops.py on random NHWC batches. It also checks that each kind of misuse (wrong
sizes, strides, dtype or address, an `as_strided` view larger than its buffer, overlapping
operands, an out-of-range argument) is refused with ValueError before any kernel runs. Under
CPython the unit tests run it on emulated kernels.
"""

from __future__ import annotations

import numpy as np

from digitlab.backend import numpy_ops
from digitlab.backend.wasm import ops
from digitlab.backend.wasm.gemm import PANEL, KernelCall, run_kernel, simd_gemm
from digitlab.backend.wasm.loader import info
from digitlab.backend.wasm.memory import FLOAT32, address, check_dense

# ---------------------------------------------------------------- the GEMM

def _random_case(rng: np.random.Generator) -> tuple:
    """Sizes around the tile edges (1, 3..9, 17, ...) and K past the 256 block, any transpose."""
    small = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33]
    m, n = (int(rng.choice(small)) if rng.random() < 0.7 else int(rng.integers(1, 80))
            for _ in range(2))
    k = int(rng.choice([1, 2, 7, 8, 255, 256, 257, 600])) if rng.random() < 0.3 else \
        int(rng.integers(1, 64))
    return m, n, k, bool(rng.integers(2)), bool(rng.integers(2)), bool(rng.integers(2))


def _max_relative_error(got: np.ndarray, a: np.ndarray, b: np.ndarray, start) -> float:
    """|got - exact| relative to |c| + sum |a_ik b_kj|, the scale of float32 rounding."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    c64 = np.zeros(got.shape) if start is None else start.astype(np.float64)
    scale = np.abs(c64) + np.abs(a64) @ np.abs(b64)
    return float(np.max(np.abs(got - (c64 + a64 @ b64)) / np.maximum(scale, 1e-30)))


def verify(cases: int = 2000, seed: int = 0) -> dict:
    """Compare the active GEMM with NumPy float64 on random shapes (transposes, strided views,
    accumulate) and check that misuse is refused; then the layer kernels (`verify_ops`, with a
    quarter of the cases), under "ops". The report carries `info()`'s keys too."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(cases):
        m, n, k, trans_a, trans_b, accumulate = _random_case(rng)
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(FLOAT32)
        b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(FLOAT32)
        op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
        start = rng.standard_normal((m, n)).astype(FLOAT32) if accumulate else None
        out = None if start is None else start.copy()
        got = simd_gemm(a, b, trans_a, trans_b, out=out, accumulate=accumulate)
        worst = max(worst, _max_relative_error(got, op_a, op_b, start))
    return {"cases": cases, "maxRelErr": worst, "refused": gemm_refusals(), **info(),
            "ops": verify_ops(max(1, cases // 4), seed)}


def gemm_refusals() -> dict:
    """Each kind of misuse must raise ValueError before the kernel runs."""
    a, bp, c = np.ones((6, 5), FLOAT32), np.zeros(5 * PANEL, FLOAT32), np.zeros((6, 8), FLOAT32)
    good = KernelCall(6, 8, 5, address(a), 20, 4, address(bp), address(c), 32)
    small = np.ones(4, FLOAT32)
    liar = np.lib.stride_tricks.as_strided(small, shape=(6, 5), strides=(20, 4))
    bad = {
        "rows": (KernelCall(7, 8, 5, *good.args()[3:]), a, bp, c),
        "k": (KernelCall(6, 8, 6, *good.args()[3:]), a, bp, c),
        "cols": (KernelCall(6, 9, 5, *good.args()[3:]), a, bp, c),
        "stride": (KernelCall(6, 8, 5, good.a, 24, 4, good.bp, good.c, 32), a, bp, c),
        "dtype": (good, a.astype(np.float64), bp, c),
        "address": (KernelCall(6, 8, 5, good.a + 4, 20, 4, good.bp, good.c, 32), a, bp, c),
        "outOfBounds": (KernelCall(6, 8, 5, address(liar), 20, 4, good.bp, good.c, 32),
                        liar, bp, c),
    }
    refused = {}
    for name, args in bad.items():
        try:
            run_kernel(*args)
            refused[name] = False
        except ValueError:
            refused[name] = True
    return refused


# ---------------------------------------------------------------- the layer kernels

def _random_image(rng: np.random.Generator) -> np.ndarray:
    """A small NHWC batch, sometimes a strided view, with ties (rounded values) in it."""
    n, h, w = (int(rng.integers(1, 4)), int(rng.integers(1, 14)), int(rng.integers(1, 14)))
    c = int(rng.choice([1, 3, 4, 8, 12, 16]))
    x = np.round(rng.standard_normal((n, 2 * h if rng.random() < 0.2 else h, w, c)) * 2)
    x = x.astype(FLOAT32)
    return x[:, ::2] if x.shape[1] != h else x


def verify_ops(cases: int = 1000, seed: int = 0) -> dict:
    """Every layer kernel against its NumPy version on random shapes; col2im and the bias sums may
    differ by rounding (their sums run in another order), the rest must be bit-for-bit equal."""
    rng = np.random.default_rng(seed)
    exact, worst = True, 0.0
    before = dict(ops.calls)
    for _ in range(cases):
        x = _random_image(rng)
        _, h, w, c = x.shape
        kernel_size = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        strides = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        cols = ops.im2col(x, kernel_size, strides)
        exact &= np.array_equal(cols, numpy_ops.numpy_im2col(x, kernel_size, strides))
        w = rng.standard_normal((cols.shape[1], int(rng.integers(1, 20)))).astype(FLOAT32)
        direct = ops.conv_forward(x, w, kernel_size, strides)
        product = simd_gemm(cols, w)
        # The same k order; the GEMM only rounds differently past its 256-deep K blocks.
        if w.shape[0] <= 256:
            exact &= np.array_equal(direct.reshape(product.shape), product)
        worst = max(worst, _relative(direct.reshape(product.shape), product))
        grads = rng.standard_normal(cols.shape).astype(FLOAT32)
        got, want = np.zeros_like(x), np.zeros_like(x)
        ops.col2im_add(grads, got, kernel_size, strides)
        numpy_ops.numpy_col2im_add(grads, want, kernel_size, strides)
        worst = max(worst, _relative(got, want))
        out = ops.pool_forward(x, 2, 2)
        exact &= np.array_equal(out, numpy_ops.numpy_pool_forward(x, 2, 2))
        dout = rng.standard_normal(out.shape).astype(FLOAT32)
        exact &= np.array_equal(ops.pool_backward(x, out, dout, 2, 2),
                                numpy_ops.numpy_pool_backward(x, out, dout, 2, 2))
        y, want_y, bias = x.copy(), x.copy(), rng.standard_normal(c).astype(FLOAT32)
        relu = bool(rng.integers(2))
        ops.bias_act(y, bias, relu)
        numpy_ops.numpy_bias_act(want_y, bias, relu)
        exact &= np.array_equal(y, want_y)
        d, dbias = ops.grad_bias(x, y, relu)
        want_d, want_bias = numpy_ops.numpy_grad_bias(x, y, relu)
        exact &= np.array_equal(d, want_d)
        worst = max(worst, _relative(dbias, want_bias))
    ran = {name.removeprefix("digitlab_"): ops.calls[name] - before[name] for name in ops.calls}
    return {"cases": cases, "exact": bool(exact), "maxRelErr": worst, "kernelCalls": ran,
            "refused": ops_refusals()}


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


def ops_refusals() -> dict:
    """Arguments that lie about an array must raise ValueError before any kernel runs."""
    x = np.zeros((2, 6, 6, 4), FLOAT32)
    cols = np.zeros((2 * 4 * 4, 3 * 3 * 4), FLOAT32)
    small = np.zeros(8, FLOAT32)
    liar = np.lib.stride_tricks.as_strided(small, shape=(2, 6, 6, 4), strides=(576, 96, 16, 4))
    shared = np.zeros(x.size + cols.size, FLOAT32)  # an image and columns that overlap
    image, overlapping = shared[: x.size].reshape(x.shape), shared[8 : 8 + cols.size]
    bad = {
        "colsTooSmall": lambda: ops.window_args(x, cols[:-1], (3, 3), (1, 1)),
        "colsFloat64": lambda: ops.window_args(x, cols.astype(np.float64), (3, 3), (1, 1)),
        "imageOutOfBounds": lambda: ops.window_args(liar, cols, (3, 3), (1, 1)),
        "colsOverlapImage": lambda: ops.window_args(image, overlapping.reshape(cols.shape),
                                                    (3, 3), (1, 1)),
        "poolOutOfBounds": lambda: ops.pool_geometry(liar),
        "denseWrongSize": lambda: check_dense("y", x, x.size + 1),
        "argumentRange": lambda: ops.run_kernel("digitlab_im2col", (-1,) * 11),
    }
    refused = {}
    for name, attempt in bad.items():
        try:
            attempt()
            refused[name] = False
        except ValueError:
            refused[name] = True
    return refused
