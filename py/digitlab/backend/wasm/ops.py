"""Checked wrappers of the WebAssembly layer kernels (kernels/ops_wat.py, and the in-place
convolution digitlab_conv_forward of kernels/gemm_wat.py): im2col, col2im, 2x2 max pooling,
bias + ReLU and their gradients, with the signatures of backend/numpy_ops.py's PASSES; `TABLE`
is what the loader registers as the SIMD backend's passes.

The kernels trust their arguments, so as for the GEMM (gemm.py) every call is first proven safe
in Python (memory.py): float32 operands with the exact shapes and strides the kernel will use,
images NHWC with each window row one contiguous run of floats, every byte range the kernel
reads or writes inside the array it belongs to and inside that array's memory block, written
ranges overlapping no input, and every argument an address or size within i32/ADDRESS_LIMIT.
Cases the kernels do not cover (other dtypes, channels not a multiple of 4, other pool sizes,
layouts whose pixel is not contiguous) go to the NumPy versions instead. Each kernel's exact
ABI is in kernels/ops_wat.py's header; `SIGNATURES` gives its argument count (all i32).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from digitlab.backend import numpy_ops
from digitlab.backend.wasm.gemm import PANEL, pack_b
from digitlab.backend.wasm.memory import (
    ADDRESS_LIMIT,
    FLOAT32,
    I32_MAX,
    ITEM,
    Layout,
    Region,
    check_dense,
    check_region,
    extent,
    layout,
    overlaps,
    readable_in_place,
    refuse,
    require,
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


def bind(kernels: dict[str, Callable]) -> None:
    """Use these kernels (name -> the side module's export, one per SIGNATURES entry)."""
    missing = set(SIGNATURES) - set(kernels)
    if missing:
        raise ValueError(f"layer kernels missing: {', '.join(sorted(missing))}")
    _kernels.clear()
    _kernels.update(kernels)


def unbind() -> None:
    _kernels.clear()


def run_kernel(name: str, args: tuple[int, ...]) -> None:
    """The only way a layer kernel is called, after its wrapper's checks."""
    for value in args:
        if not (isinstance(value, int) and 0 <= value < ADDRESS_LIMIT):
            refuse(f"{name}: argument out of range")
    kernel = _kernels.get(name)
    if kernel is None:
        raise RuntimeError(f"the SIMD kernel {name} is not loaded")
    calls[name] += 1
    kernel(*args)


def _float32(*arrays: np.ndarray) -> bool:
    return all(isinstance(a, np.ndarray) and a.dtype == FLOAT32 for a in arrays)


def _pixels_contiguous(x: np.ndarray, known: Layout) -> bool:
    """NHWC with each pixel's channels, and each row's pixels, adjacent: a window row is one
    run of floats. Strides must be positive and fit i32 for the kernels' pointer steps.
    `known` is layout(x), just read."""
    return (x.ndim == 4 and x.strides[3] == ITEM and x.strides[2] == x.shape[3] * ITEM
            and 0 < x.strides[0] <= I32_MAX and 0 < x.strides[1] <= I32_MAX
            and readable_in_place(x, known))


def _image_layout(x: np.ndarray) -> Layout | None:
    """x's layout when it is a float32 image the window kernels can walk, else None."""
    if not _float32(x):
        return None
    known = layout(x)
    return known if _pixels_contiguous(x, known) else None


# ---------------------------------------------------------------- im2col and col2im

def _image_walk(xp: np.ndarray, kernel_size: tuple[int, int], strides: tuple[int, int],
                known: Layout) -> tuple[tuple[int, ...], Region]:
    """((n, oh, ow, kh, run, img_stride, row_step, col_step, row_stride), the byte range of xp
    the windows cover), checked: the walk shared by im2col, col2im and conv_forward. `known`
    is layout(xp), just read."""
    n, hp, wp, c = xp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = numpy_ops.window_count(hp, kh, sh), numpy_ops.window_count(wp, kw, sw)
    require(min(n, oh, ow, kh, kw, c, sh, sw) >= 1, "empty window walk")
    require(_pixels_contiguous(xp, known), "image pixels are not contiguous float32")
    run = kw * c * ITEM
    img_stride, row_stride = xp.strides[0], xp.strides[1]
    walk = (n, oh, ow, kh, run, img_stride, row_stride * sh, xp.strides[2] * sw, row_stride)
    region = extent(known[0], [(n, img_stride), (oh, row_stride * sh),
                               (ow, xp.strides[2] * sw), (kh, row_stride)], itemsize=run)
    check_region("image", xp, region, known)
    require(max(walk) <= I32_MAX, "sizes or strides beyond i32")
    return walk, region


def window_args(xp: np.ndarray, cols: np.ndarray, kernel_size: tuple[int, int],
                strides: tuple[int, int], known: Layout | None = None) -> tuple[int, ...]:
    """Arguments of digitlab_im2col / col2im_add, checked against both arrays; `known` is
    layout(xp) when the caller has just read it."""
    if known is None:
        known = layout(xp)
    walk, image_region = _image_walk(xp, kernel_size, strides, known)
    n, oh, ow, kh, run = walk[:5]
    floats = n * oh * ow * kh * run // ITEM
    cols_region = check_dense("cols", cols, floats)
    require(cols.shape == (n * oh * ow, kh * run // ITEM), "cols shape %s", cols.shape)
    require(not overlaps(image_region, cols_region), "cols overlaps the image")
    return (known[0], cols_region[0], *walk)


def im2col(xp: np.ndarray, kernel_size: tuple[int, int], strides: tuple[int, int]) -> np.ndarray:
    known = _image_layout(xp)
    if known is None:
        return numpy_ops.numpy_im2col(xp, kernel_size, strides)
    n, hp, wp, c = xp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    rows = n * numpy_ops.window_count(hp, kh, sh) * numpy_ops.window_count(wp, kw, sw)
    cols = np.empty((rows, kh * kw * c), dtype=FLOAT32)
    run_kernel("digitlab_im2col", window_args(xp, cols, kernel_size, strides, known))
    return cols


def col2im_add(dcols: np.ndarray, dxp: np.ndarray, kernel_size: tuple[int, int],
               strides: tuple[int, int]) -> None:
    known = _image_layout(dxp) if _float32(dcols) else None
    if known is None or not (dcols.flags.c_contiguous and dxp.flags.writeable):
        numpy_ops.numpy_col2im_add(dcols, dxp, kernel_size, strides)
        return
    run_kernel("digitlab_col2im_add", window_args(dxp, dcols, kernel_size, strides, known))


def conv_forward(xp: np.ndarray, w: np.ndarray, kernel_size: tuple[int, int],
                 strides: tuple[int, int]) -> np.ndarray | None:
    """im2col(xp) @ w, the same sums, with each window read in place (no columns written);
    None where the kernel does not apply (the layer then takes the im2col path)."""
    known = _image_layout(xp) if _float32(w) else None
    if known is None or not (w.ndim == 2 and w.shape[1] >= 1):
        return None
    walk, image_region = _image_walk(xp, kernel_size, strides, known)
    n, oh, ow, kh, run = walk[:5]
    k, f = w.shape
    require(k == kh * run // ITEM, "kernel has %s rows, a window %s floats", k, kh * run // ITEM)
    packed = pack_b(w)
    panels = -(-f // PANEL)
    require(packed.flags.c_contiguous and packed.dtype == FLOAT32
            and packed.size >= panels * k * PANEL, "packed kernel too small")
    packed_known = layout(packed)
    packed_region = (packed_known[0], packed_known[0] + panels * k * PANEL * ITEM)
    check_region("packed kernel", packed, packed_region, packed_known)
    out = np.empty((n, oh, ow, f), dtype=FLOAT32)
    out_region = check_dense("out", out, out.size)
    require(not overlaps(out_region, image_region), "out overlaps the image")
    require(not overlaps(out_region, packed_region), "out overlaps the kernel")
    run_kernel("digitlab_conv_forward", (known[0], packed_region[0], out_region[0], *walk, f))
    return out


# ---------------------------------------------------------------- 2x2 max pooling

def _pool_layout(x: np.ndarray, ph: int, pw: int) -> Layout | None:
    """x's layout when the 2x2 pooling kernel applies to x, else None."""
    if not ((ph, pw) == (2, 2) and _float32(x) and x.ndim == 4 and x.shape[3] % 4 == 0
            and x.shape[1] >= 2 and x.shape[2] >= 2 and x.shape[0] >= 1 and x.shape[3] >= 4):
        return None
    known = layout(x)
    return known if _pixels_contiguous(x, known) else None


def pool_geometry(x: np.ndarray,
                  known: Layout | None = None) -> tuple[tuple[int, ...], Region]:
    """((n, oh, ow, c, img_stride, row_stride), the byte range of x the windows cover); `known`
    is layout(x) when the caller has just read it."""
    if known is None:
        known = layout(x)
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    geometry = (n, oh, ow, c, x.strides[0], x.strides[1])
    region = extent(known[0], [(n, x.strides[0]), (2 * oh, x.strides[1])],
                    itemsize=2 * ow * c * ITEM)
    check_region("x", x, region, known)
    require(max(geometry) <= I32_MAX, "sizes or strides beyond i32")
    return geometry, region


def pool_forward(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    known = _pool_layout(x, ph, pw)
    if known is None:
        return numpy_ops.numpy_pool_forward(x, ph, pw)
    geometry, x_region = pool_geometry(x, known)
    n, oh, ow, c = geometry[:4]
    out = np.empty((n, oh, ow, c), dtype=FLOAT32)
    out_region = check_dense("out", out, out.size)
    require(not overlaps(x_region, out_region), "out overlaps x")
    run_kernel("digitlab_pool2_forward", (known[0], out_region[0], *geometry))
    return out


def pool_backward(x: np.ndarray, out: np.ndarray, dout: np.ndarray, ph: int,
                  pw: int) -> np.ndarray:
    known = _pool_layout(x, ph, pw)
    if known is None or not (x.flags.c_contiguous and _float32(out, dout)):
        return numpy_ops.numpy_pool_backward(x, out, dout, ph, pw)
    geometry, x_region = pool_geometry(x, known)
    n, oh, ow, c = geometry[:4]
    out, dout = np.ascontiguousarray(out), np.ascontiguousarray(dout)
    require(out.shape == dout.shape == (n, oh, ow, c), "out/dout shape differs from x's")
    # dx is addressed through x's strides: same shape, both C-contiguous. Rows and columns
    # left over past the last whole window get no gradient, and the kernel does not touch them.
    odd = x.shape[1] % 2 or x.shape[2] % 2
    dx = (np.zeros if odd else np.empty)(x.shape, dtype=FLOAT32)
    require(dx.strides == x.strides, "dx strides differ from x's")
    dx_known = layout(dx)
    shift = dx_known[0] - known[0]
    dx_region = (x_region[0] + shift, x_region[1] + shift)
    check_region("dx", dx, dx_region, dx_known)
    out_region = check_dense("out", out, out.size)
    dout_region = check_dense("dout", dout, dout.size)
    for region in (x_region, out_region, dout_region):
        require(not overlaps(dx_region, region), "dx overlaps an input")
    run_kernel("digitlab_pool2_backward",
               (known[0], out_region[0], dout_region[0], dx_known[0], *geometry))
    return dx


# ---------------------------------------------------------------- bias, ReLU and gradients

def _channels_ok(*arrays: np.ndarray) -> bool:
    first = arrays[0]
    return (_float32(*arrays) and first.ndim >= 1 and first.size > 0
            and first.shape[-1] % 4 == 0 and all(a.flags.c_contiguous for a in arrays))


def bias_act(y: np.ndarray, bias: np.ndarray, relu: bool) -> None:
    if not (_channels_ok(y, bias) and bias.shape == y.shape[-1:] and y.flags.writeable):
        numpy_ops.numpy_bias_act(y, bias, relu)
        return
    c = y.shape[-1]
    rows = y.size // c
    y_region = check_dense("y", y, rows * c)
    bias_region = check_dense("bias", bias, c)
    require(not overlaps(y_region, bias_region), "y overlaps bias")
    run_kernel("digitlab_bias_relu", (y_region[0], rows, c, bias_region[0], int(relu)))


def grad_bias(dout: np.ndarray, y: np.ndarray, relu: bool) -> tuple[np.ndarray, np.ndarray]:
    if not (_channels_ok(dout, y) and dout.shape == y.shape):
        return numpy_ops.numpy_grad_bias(dout, y, relu)
    c = dout.shape[-1]
    rows = dout.size // c
    d = np.empty_like(dout) if relu else dout
    dbias, partial = np.zeros(c, dtype=FLOAT32), np.zeros(c, dtype=FLOAT32)
    regions = {name: check_dense(name, arr, arr.size)
               for name, arr in (("dout", dout), ("y", y), ("d", d), ("dbias", dbias),
                                 ("partial", partial))}
    require(d.size == rows * c and dbias.size == c, "sizes differ")
    written = ["dbias", "partial"] + (["d"] if relu else [])
    for name in written:
        for other, region in regions.items():
            require(other == name or not overlaps(regions[name], region), "%s overlaps", name)
    run_kernel("digitlab_grad_bias", (regions["dout"][0], regions["y"][0], regions["d"][0],
                                      rows, c, regions["dbias"][0], regions["partial"][0],
                                      int(relu)))
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
