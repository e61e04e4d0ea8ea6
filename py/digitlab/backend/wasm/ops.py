"""Checked wrappers of the SIMD layer kernels (kernels/ops_wat.py, and the in-place convolution
of kernels/gemm_wat.py): im2col, col2im, 2x2 max pooling, bias + ReLU and their gradients, with
the signatures of ops.py.

The kernels trust their arguments, so as for the GEMM (simd.py) every call is first proven
safe in Python: float32 operands with the exact shapes and strides the kernel will use, and
every byte range the kernel reads or writes inside the array it belongs to, and inside that
array's memory block. Cases the kernels do not cover (other dtypes, channels not a multiple of
4, other pool sizes, layouts whose pixel is not contiguous) go to the NumPy versions instead.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np

from digitlab.backend import numpy_ops as ops
from digitlab.backend.wasm import (
    gemm as simd,  # which imports this module too: names used at call time only
)

# name -> the number of i32 arguments; addresses are passed as unsigned, the rest signed.
SIGNATURES = {
    "digitlab_im2col": 11,
    "digitlab_col2im_add": 11,
    "digitlab_pool2_forward": 8,
    "digitlab_pool2_backward": 10,
    "digitlab_bias_relu": 5,
    "digitlab_grad_bias": 8,
    "digitlab_conv_forward": 13,
}
_kernels: dict[str, Callable] = {}
calls: dict[str, int] = dict.fromkeys(SIGNATURES, 0)  # per kernel, for tests and profiling


def bind(library: object) -> None:
    """Take the kernels from a loaded side module (a ctypes.CDLL)."""
    for name, count in SIGNATURES.items():
        fn = getattr(library, name)
        fn.argtypes = [ctypes.c_uint32] * count
        fn.restype = None
        _kernels[name] = fn


def unbind() -> None:
    _kernels.clear()


def _run(name: str, args: tuple[int, ...]) -> None:
    simd.require(all(isinstance(v, int) and 0 <= v < simd.ADDRESS_LIMIT for v in args),
                 f"{name}: argument out of range")
    kernel = _kernels.get(name)
    if kernel is None:
        raise RuntimeError(f"the SIMD kernel {name} is not loaded")
    calls[name] += 1
    kernel(*args)


def _float32(*arrays: np.ndarray) -> bool:
    return all(isinstance(a, np.ndarray) and a.dtype == simd.FLOAT32 for a in arrays)


def _pixels_contiguous(x: np.ndarray) -> bool:
    """NHWC with each pixel's channels, and each row's pixels, adjacent: a window row is one
    run of floats. Strides must be positive and fit i32 for the kernels' pointer steps."""
    return (x.ndim == 4 and x.strides[3] == simd.ITEM and x.strides[2] == x.shape[3] * simd.ITEM
            and all(0 < s <= simd.I32_MAX for s in x.strides[:2]) and simd.readable_in_place(x))


def _check_dense(name: str, arr: np.ndarray, addr: int, floats: int) -> tuple[int, int]:
    """`arr` must be a C-contiguous float32 block of `floats` elements at `addr`."""
    simd.require(_float32(arr), f"{name} is not float32")
    simd.require(arr.flags.c_contiguous and arr.size == floats,
                 f"{name} is not {floats} packed floats")
    simd.require(simd.address(arr) == addr and addr % simd.ITEM == 0, f"{name} address differs")
    region = (addr, addr + floats * simd.ITEM)
    simd.check_region(name, arr, region)
    return region


# ---------------------------------------------------------------- im2col and col2im

def _image_walk(xp: np.ndarray, kernel_size: tuple[int, int],
                strides: tuple[int, int]) -> tuple[tuple[int, ...], tuple[int, int]]:
    """((n, oh, ow, kh, run, img_stride, row_step, col_step, row_stride), the byte range of xp
    the windows cover), checked: the walk shared by im2col, col2im and conv_forward."""
    n, hp, wp, c = xp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = ops.window_count(hp, kh, sh), ops.window_count(wp, kw, sw)
    simd.require(min(n, oh, ow, kh, kw, c, sh, sw) >= 1, "empty window walk")
    simd.require(_pixels_contiguous(xp), "image pixels are not contiguous float32")
    run = kw * c * simd.ITEM
    img_stride, row_stride = xp.strides[0], xp.strides[1]
    walk = (n, oh, ow, kh, run, img_stride, row_stride * sh, xp.strides[2] * sw, row_stride)
    region = simd.extent(simd.address(xp), [(n, img_stride), (oh, row_stride * sh),
                                            (ow, xp.strides[2] * sw), (kh, row_stride)],
                         itemsize=run)
    simd.check_region("image", xp, region)
    simd.require(max(walk) <= simd.I32_MAX, "sizes or strides beyond i32")
    return walk, region


def _window_args(xp: np.ndarray, cols: np.ndarray, kernel_size: tuple[int, int],
                 strides: tuple[int, int]) -> tuple[int, ...]:
    """Arguments of digitlab_im2col / col2im_add, checked against both arrays."""
    walk, image_region = _image_walk(xp, kernel_size, strides)
    n, oh, ow, kh, run = walk[:5]
    floats = n * oh * ow * kh * run // simd.ITEM
    cols_region = _check_dense("cols", cols, simd.address(cols), floats)
    simd.require(cols.shape == (n * oh * ow, kh * run // simd.ITEM), f"cols shape {cols.shape}")
    simd.require(not simd.overlaps(image_region, cols_region), "cols overlaps the image")
    return (simd.address(xp), simd.address(cols), *walk)


def im2col(xp: np.ndarray, kernel_size: tuple[int, int], strides: tuple[int, int]) -> np.ndarray:
    if not (_float32(xp) and _pixels_contiguous(xp)):
        return ops.numpy_im2col(xp, kernel_size, strides)
    n, hp, wp, c = xp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    rows = n * ops.window_count(hp, kh, sh) * ops.window_count(wp, kw, sw)
    cols = np.empty((rows, kh * kw * c), dtype=simd.FLOAT32)
    _run("digitlab_im2col", _window_args(xp, cols, kernel_size, strides))
    return cols


def col2im_add(dcols: np.ndarray, dxp: np.ndarray, kernel_size: tuple[int, int],
               strides: tuple[int, int]) -> None:
    if not (_float32(dcols, dxp) and _pixels_contiguous(dxp) and dcols.flags.c_contiguous
            and dxp.flags.writeable):
        ops.numpy_col2im_add(dcols, dxp, kernel_size, strides)
        return
    _run("digitlab_col2im_add", _window_args(dxp, dcols, kernel_size, strides))


def conv_forward(xp: np.ndarray, w: np.ndarray, kernel_size: tuple[int, int],
                 strides: tuple[int, int]) -> np.ndarray | None:
    """im2col(xp) @ w, the same sums, with each window read in place (no columns written);
    None where the kernel does not apply (the layer then takes the im2col path)."""
    if not (_float32(xp, w) and _pixels_contiguous(xp) and w.ndim == 2 and w.shape[1] >= 1):
        return None
    walk, image_region = _image_walk(xp, kernel_size, strides)
    n, oh, ow, kh, run = walk[:5]
    k, f = w.shape
    simd.require(k == kh * run // simd.ITEM,
                 f"kernel has {k} rows, a window {kh * run // simd.ITEM} floats")
    packed = simd.pack_b(w)
    panels = -(-f // simd.PANEL)
    simd.require(packed.flags.c_contiguous and packed.dtype == simd.FLOAT32
                 and packed.size >= panels * k * simd.PANEL, "packed kernel too small")
    packed_region = (simd.address(packed),
                     simd.address(packed) + panels * k * simd.PANEL * simd.ITEM)
    simd.check_region("packed kernel", packed, packed_region)
    out = np.empty((n, oh, ow, f), dtype=simd.FLOAT32)
    out_region = _check_dense("out", out, simd.address(out), out.size)
    simd.require(not simd.overlaps(out_region, image_region), "out overlaps the image")
    simd.require(not simd.overlaps(out_region, packed_region), "out overlaps the kernel")
    _run("digitlab_conv_forward",
         (simd.address(xp), simd.address(packed), simd.address(out), *walk, f))
    return out


# ---------------------------------------------------------------- 2x2 max pooling

def _pool_ok(x: np.ndarray, ph: int, pw: int) -> bool:
    return ((ph, pw) == (2, 2) and _float32(x) and x.ndim == 4 and x.shape[3] % 4 == 0
            and x.shape[1] >= 2 and x.shape[2] >= 2 and x.shape[0] >= 1 and x.shape[3] >= 4
            and _pixels_contiguous(x))


def _pool_geometry(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, int]]:
    """((n, oh, ow, c, img_stride, row_stride), the byte range of x the windows cover)."""
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    geometry = (n, oh, ow, c, x.strides[0], x.strides[1])
    region = simd.extent(simd.address(x), [(n, x.strides[0]), (2 * oh, x.strides[1])],
                         itemsize=2 * ow * c * simd.ITEM)
    simd.check_region("x", x, region)
    simd.require(max(geometry) <= simd.I32_MAX, "sizes or strides beyond i32")
    return geometry, region


def pool_forward(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    if not _pool_ok(x, ph, pw):
        return ops.numpy_pool_forward(x, ph, pw)
    geometry, x_region = _pool_geometry(x)
    n, oh, ow, c = geometry[:4]
    out = np.empty((n, oh, ow, c), dtype=simd.FLOAT32)
    out_region = _check_dense("out", out, simd.address(out), out.size)
    simd.require(not simd.overlaps(x_region, out_region), "out overlaps x")
    _run("digitlab_pool2_forward", (simd.address(x), simd.address(out), *geometry))
    return out


def pool_backward(x: np.ndarray, out: np.ndarray, dout: np.ndarray, ph: int,
                  pw: int) -> np.ndarray:
    if not (_pool_ok(x, ph, pw) and x.flags.c_contiguous and _float32(out, dout)):
        return ops.numpy_pool_backward(x, out, dout, ph, pw)
    geometry, x_region = _pool_geometry(x)
    n, oh, ow, c = geometry[:4]
    out, dout = np.ascontiguousarray(out), np.ascontiguousarray(dout)
    simd.require(out.shape == dout.shape == (n, oh, ow, c), "out/dout shape differs from x's")
    # dx is addressed through x's strides: same shape, both C-contiguous. Rows and columns
    # left over past the last whole window get no gradient, and the kernel does not touch them.
    odd = x.shape[1] % 2 or x.shape[2] % 2
    dx = (np.zeros if odd else np.empty)(x.shape, dtype=simd.FLOAT32)
    simd.require(dx.strides == x.strides, "dx strides differ from x's")
    shift = simd.address(dx) - simd.address(x)
    dx_region = (x_region[0] + shift, x_region[1] + shift)
    simd.check_region("dx", dx, dx_region)
    regions = [x_region, _check_dense("out", out, simd.address(out), out.size),
               _check_dense("dout", dout, simd.address(dout), dout.size)]
    simd.require(not any(simd.overlaps(dx_region, r) for r in regions), "dx overlaps an input")
    _run("digitlab_pool2_backward",
         (simd.address(x), simd.address(out), simd.address(dout), simd.address(dx), *geometry))
    return dx


# ---------------------------------------------------------------- bias, ReLU and gradients

def _channels_ok(*arrays: np.ndarray) -> bool:
    first = arrays[0]
    return (_float32(*arrays) and first.ndim >= 1 and first.size > 0
            and first.shape[-1] % 4 == 0 and all(a.flags.c_contiguous for a in arrays))


def bias_act(y: np.ndarray, bias: np.ndarray, relu: bool) -> None:
    if not (_channels_ok(y, bias) and bias.shape == y.shape[-1:] and y.flags.writeable):
        ops.numpy_bias_act(y, bias, relu)
        return
    c = y.shape[-1]
    rows = y.size // c
    y_region = _check_dense("y", y, simd.address(y), rows * c)
    bias_region = _check_dense("bias", bias, simd.address(bias), c)
    simd.require(not simd.overlaps(y_region, bias_region), "y overlaps bias")
    _run("digitlab_bias_relu", (simd.address(y), rows, c, simd.address(bias), int(relu)))


def grad_bias(dout: np.ndarray, y: np.ndarray, relu: bool) -> tuple[np.ndarray, np.ndarray]:
    if not (_channels_ok(dout, y) and dout.shape == y.shape):
        return ops.numpy_grad_bias(dout, y, relu)
    c = dout.shape[-1]
    rows = dout.size // c
    d = np.empty_like(dout) if relu else dout
    dbias, partial = np.zeros(c, dtype=simd.FLOAT32), np.zeros(c, dtype=simd.FLOAT32)
    regions = {name: _check_dense(name, arr, simd.address(arr), arr.size)
               for name, arr in (("dout", dout), ("y", y), ("d", d), ("dbias", dbias),
                                 ("partial", partial))}
    simd.require(d.size == rows * c and dbias.size == c, "sizes differ")
    written = ["dbias", "partial"] + (["d"] if relu else [])
    for name in written:
        others = [r for other, r in regions.items() if other != name]
        simd.require(not any(simd.overlaps(regions[name], r) for r in others), f"{name} overlaps")
    _run("digitlab_grad_bias", (simd.address(dout), simd.address(y), simd.address(d), rows, c,
                                simd.address(dbias), simd.address(partial), int(relu)))
    return d, dbias


TABLE: dict[str, Callable] = {
    "conv_forward": conv_forward,
    "im2col": im2col,
    "col2im_add": col2im_add,
    "pool_forward": pool_forward,
    "pool_backward": pool_backward,
    "bias_act": bias_act,
    "grad_bias": grad_bias,
}


def self_test() -> bool:
    """Each kernel against its NumPy version on awkward shapes: right before used."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, 9, 4)).astype(simd.FLOAT32)
    x[0, 0, 0, :] = x[0, 0, 1, :]  # a tie: the gradient must go to the first only
    for kernel_size, strides in (((3, 2), (1, 1)), ((2, 3), (2, 2))):
        want = ops.numpy_im2col(x, kernel_size, strides)
        if not np.array_equal(im2col(x, kernel_size, strides), want):
            return False
        grads = rng.standard_normal(want.shape).astype(simd.FLOAT32)
        a, b = np.zeros_like(x), np.zeros_like(x)
        ops.numpy_col2im_add(grads, a, kernel_size, strides)
        col2im_add(grads, b, kernel_size, strides)
        if not np.allclose(a, b, rtol=1e-5, atol=1e-5):
            return False
    out = pool_forward(x, 2, 2)
    dout = rng.standard_normal(out.shape).astype(simd.FLOAT32)
    if not (np.array_equal(out, ops.numpy_pool_forward(x, 2, 2)) and np.array_equal(
            pool_backward(x, out, dout, 2, 2), ops.numpy_pool_backward(x, out, dout, 2, 2))):
        return False
    y, bias = x.copy(), rng.standard_normal(4).astype(simd.FLOAT32)
    bias_act(y, bias, True)
    want = np.maximum(x + bias, 0)
    d, dbias = grad_bias(x, y, True)
    want_d, want_bias = ops.numpy_grad_bias(x, y, True)
    return (np.array_equal(y, want) and np.array_equal(d, want_d)
            and np.allclose(dbias, want_bias, rtol=1e-5, atol=1e-5))


# ---------------------------------------------------------------- in-page verification

def _random_image(rng: np.random.Generator) -> np.ndarray:
    """A small NHWC batch, sometimes a strided view, with ties (rounded values) in it."""
    n, h, w = (int(rng.integers(1, 4)), int(rng.integers(1, 14)), int(rng.integers(1, 14)))
    c = int(rng.choice([1, 3, 4, 8, 12, 16]))
    x = np.round(rng.standard_normal((n, 2 * h if rng.random() < 0.2 else h, w, c)) * 2)
    x = x.astype(simd.FLOAT32)
    return x[:, ::2] if x.shape[1] != h else x


def verify(cases: int = 1000, seed: int = 0) -> dict:
    """Every kernel against its NumPy version on random shapes; col2im and the bias sums may
    differ by rounding (their sums run in another order), the rest must be bit-for-bit equal."""
    rng = np.random.default_rng(seed)
    exact, worst = True, 0.0
    before = dict(calls)
    for _ in range(cases):
        x = _random_image(rng)
        _, h, w, c = x.shape
        kernel_size = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        strides = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        cols = im2col(x, kernel_size, strides)
        exact &= np.array_equal(cols, ops.numpy_im2col(x, kernel_size, strides))
        w = rng.standard_normal((cols.shape[1], int(rng.integers(1, 20)))).astype(simd.FLOAT32)
        direct = conv_forward(x, w, kernel_size, strides)
        product = simd.simd_gemm(cols, w)
        # The same k order; the GEMM only rounds differently past its 256-deep K blocks.
        if w.shape[0] <= 256:
            exact &= np.array_equal(direct.reshape(product.shape), product)
        worst = max(worst, _relative(direct.reshape(product.shape), product))
        grads = rng.standard_normal(cols.shape).astype(simd.FLOAT32)
        got, want = np.zeros_like(x), np.zeros_like(x)
        col2im_add(grads, got, kernel_size, strides)
        ops.numpy_col2im_add(grads, want, kernel_size, strides)
        worst = max(worst, _relative(got, want))
        out = pool_forward(x, 2, 2)
        exact &= np.array_equal(out, ops.numpy_pool_forward(x, 2, 2))
        dout = rng.standard_normal(out.shape).astype(simd.FLOAT32)
        exact &= np.array_equal(pool_backward(x, out, dout, 2, 2),
                                ops.numpy_pool_backward(x, out, dout, 2, 2))
        y, want_y, bias = x.copy(), x.copy(), rng.standard_normal(c).astype(simd.FLOAT32)
        relu = bool(rng.integers(2))
        bias_act(y, bias, relu)
        ops.numpy_bias_act(want_y, bias, relu)
        exact &= np.array_equal(y, want_y)
        d, dbias = grad_bias(x, y, relu)
        want_d, want_bias = ops.numpy_grad_bias(x, y, relu)
        exact &= np.array_equal(d, want_d)
        worst = max(worst, _relative(dbias, want_bias))
    ran = {name.removeprefix("digitlab_"): calls[name] - before[name] for name in calls}
    return {"cases": cases, "exact": bool(exact), "maxRelErr": worst, "kernelCalls": ran,
            "refused": _refusals()}


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


def _refusals() -> dict:
    """Arguments that lie about an array must raise ValueError before any kernel runs."""
    x = np.zeros((2, 6, 6, 4), simd.FLOAT32)
    cols = np.zeros((2 * 4 * 4, 3 * 3 * 4), simd.FLOAT32)
    small = np.zeros(8, simd.FLOAT32)
    liar = np.lib.stride_tricks.as_strided(small, shape=(2, 6, 6, 4), strides=(576, 96, 16, 4))
    shared = np.zeros(x.size + cols.size, simd.FLOAT32)  # an image and columns that overlap
    image, overlapping = shared[: x.size].reshape(x.shape), shared[8 : 8 + cols.size]
    bad = {
        "colsTooSmall": lambda: _window_args(x, cols[:-1], (3, 3), (1, 1)),
        "colsFloat64": lambda: _window_args(x, cols.astype(np.float64), (3, 3), (1, 1)),
        "imageOutOfBounds": lambda: _window_args(liar, cols, (3, 3), (1, 1)),
        "colsOverlapImage": lambda: _window_args(image, overlapping.reshape(cols.shape),
                                                 (3, 3), (1, 1)),
        "poolOutOfBounds": lambda: _pool_geometry(liar),
        "denseWrongSize": lambda: _check_dense("y", x, simd.address(x), x.size + 1),
        "argumentRange": lambda: _run("digitlab_im2col", (-1,) * 11),
    }
    refused = {}
    for name, attempt in bad.items():
        try:
            attempt()
            refused[name] = False
        except ValueError:
            refused[name] = True
    return refused
