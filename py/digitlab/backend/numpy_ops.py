"""The NumPy backend: the convolution layers' passes around the GEMM (im2col, col2im, tiled
max pooling, bias + ReLU and their gradients) and the GEMM itself.

These are the reference everywhere. The SIMD backend (backend/wasm) swaps
in kernels for the float32 cases it handles and calls back here for the rest; the layers never
know which ran. Under CPython (native BLAS) the "matmul" backend uses BLAS_PASSES instead: the
same passes rearranged for NumPy with OpenBLAS, checked against these. Arrays are NHWC; "2-D"
below means [rows, channels] views of them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided


def window_count(size: int, kernel: int, stride: int) -> int:
    """Positions of a `kernel`-wide window moved by `stride` inside `size` (no padding)."""
    return (size - kernel) // stride + 1


def numpy_conv_forward(xp: np.ndarray, w: np.ndarray, kernel_size: tuple[int, int],
                       strides: tuple[int, int]) -> np.ndarray | None:
    """A convolution without im2col's columns: NumPy has none, so None (use im2col + gemm)."""
    return None


def numpy_im2col(xp: np.ndarray, kernel_size: tuple[int, int],
                 strides: tuple[int, int]) -> np.ndarray:
    """[n,Hp,Wp,C] -> [n*Ho*Wo, kh*kw*C], column order (kh, kw, C) to match the kernel."""
    n, hp, wp, c = xp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = window_count(hp, kh, sh), window_count(wp, kw, sw)
    bn, bh, bw, bc = xp.strides
    windows = as_strided(
        xp, (n, oh, ow, kh, kw, c), (bn, bh * sh, bw * sw, bh, bw, bc), writeable=False
    )
    return windows.reshape(n * oh * ow, kh * kw * c)  # the one copy


def numpy_col2im_add(dcols: np.ndarray, dxp: np.ndarray, kernel_size: tuple[int, int],
                     strides: tuple[int, int]) -> None:
    """Scatter-add column gradients [n*Ho*Wo, kh*kw*C] into `dxp` [n,Hp,Wp,C], in place."""
    n, hp, wp, c = dxp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = window_count(hp, kh, sh), window_count(wp, kw, sw)
    d6 = dcols.reshape(n, oh, ow, kh, kw, c)
    rows = slice(0, sh * (oh - 1) + 1, sh)
    if sw == 1 and dxp.flags.c_contiguous:  # contiguous: the reshape below is a view
        # One transposing copy makes each offset's block contiguous, and with unit stride a
        # window row is a contiguous run of ow*c floats in dxp: ~1.8x faster in Pyodide than
        # adding 6-D strided views whose innermost run is only c floats. Same order of sums.
        blocks = np.ascontiguousarray(d6.transpose(3, 4, 0, 1, 2, 5))
        blocks = blocks.reshape(kh, kw, n, oh, ow * c)
        flat = dxp.reshape(n, hp, wp * c)
        for i in range(kh):
            for j in range(kw):
                flat[:, i:][:, rows, j * c : (j + ow) * c] += blocks[i, j]
        return
    # kh*kw vectorised adds; overlapping windows rule out one fancy-indexed scatter.
    for i in range(kh):
        for j in range(kw):
            dxp[:, i:][:, rows, j : j + sw * (ow - 1) + 1 : sw] += d6[:, :, :, i, j]


def _tiles(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """[n,H,W,C] -> [n,Ho,ph,Wo,pw,C] view of the whole tiles (leftover rows/columns dropped)."""
    n, h, w, c = x.shape
    oh, ow = h // ph, w // pw
    return x[:, : oh * ph, : ow * pw].reshape(n, oh, ph, ow, pw, c)


def numpy_pool_forward(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """Max over non-overlapping ph x pw tiles: [n,H,W,C] -> [n,H//ph,W//pw,C]."""
    tiles = _tiles(x, ph, pw)
    # One np.maximum per window position: measured ~15x faster than argmax over a window
    # axis, which needs a transposed copy.
    out = tiles[:, :, 0, :, 0].copy()
    for i in range(ph):
        for j in range(pw):
            if i or j:
                np.maximum(out, tiles[:, :, i, :, j], out=out)
    return out


def numpy_pool_backward(x: np.ndarray, out: np.ndarray, dout: np.ndarray, ph: int,
                        pw: int) -> np.ndarray:
    """Gradient of numpy_pool_forward: each window's dout goes to its first maximum in
    row-major order (as argmax picks it), so ties never double the gradient."""
    dx = np.zeros(x.shape, dtype=dout.dtype)
    tiles, dtiles = _tiles(x, ph, pw), _tiles(dx, ph, pw)
    taken = np.zeros(dout.shape, dtype=bool)
    for i in range(ph):
        for j in range(pw):
            hit = tiles[:, :, i, :, j] == out
            hit &= ~taken  # an earlier position already holds this window's maximum
            taken |= hit
            np.multiply(dout, hit, out=dtiles[:, :, i, :, j])
    return dx


def numpy_bias_act(y: np.ndarray, bias: np.ndarray, relu: bool) -> None:
    """y += bias (over the last axis), then ReLU when asked; in place."""
    y += bias
    if relu:
        np.maximum(y, 0, out=y)


def numpy_grad_bias(dout: np.ndarray, y: np.ndarray,
                    relu: bool) -> tuple[np.ndarray, np.ndarray]:
    """(dout through the ReLU whose output was y, that gradient summed over all but the last
    axis): the pre-activation gradient and the bias gradient."""
    d = dout * (y > 0) if relu else dout
    return d, d.reshape(-1, d.shape[-1]).sum(axis=0)


def matmul_views(a, b, trans_a, trans_b, out):
    # Native BLAS handles transposed views itself, so no copies here.
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)


def matmul_contiguous(a, b, trans_a, trans_b, out):
    # Pyodide's NumPy has no BLAS: matmul runs 5-7 GFLOP/s on C-contiguous operands but only
    # 1-1.7 when an operand is a transposed view, so paying for one copy is much cheaper.
    a = np.ascontiguousarray(a.T) if trans_a else np.ascontiguousarray(a)
    b = np.ascontiguousarray(b.T) if trans_b else np.ascontiguousarray(b)
    return np.matmul(a, b, out=out)


# ---------------------------------------------------------------- tuned for native BLAS
# Under CPython, NumPy has OpenBLAS, so the products are cheap and what costs is moving memory
# through NumPy loops whose innermost run is short. These passes give the same values as the
# ones above (the convolution's input gradient and the bias sums up to rounding: their sums run
# in another order) with longer runs. They are the "matmul" backend's; Pyodide's NumPy, without
# BLAS, keeps the passes above.


def blas_im2col(xp: np.ndarray, kernel_size: tuple[int, int],
                strides: tuple[int, int]) -> np.ndarray:
    """numpy_im2col's columns; with one input channel, built offset by offset.

    The 6-D copy of numpy_im2col moves runs of only kw*C floats, 5 for the first layer of a
    grayscale model; writing [kh*kw, n*Ho*Wo] instead copies whole output rows per offset
    (measured ~5x faster), and its transpose is the same [n*Ho*Wo, kh*kw] matrix, which BLAS
    multiplies without a copy in either orientation.
    """
    n, hp, wp, c = xp.shape
    if c != 1:  # with C channels the 6-D copy's runs are kw*C long already; it wins from C=2
        return numpy_im2col(xp, kernel_size, strides)
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = window_count(hp, kh, sh), window_count(wp, kw, sw)
    planes = xp[..., 0]
    rows, cols = slice(0, sh * (oh - 1) + 1, sh), slice(0, sw * (ow - 1) + 1, sw)
    columns = np.empty((kh, kw, n, oh, ow), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            columns[i, j] = planes[:, i:, j:][:, rows, cols]
    return columns.reshape(kh * kw, n * oh * ow).T


def blas_conv_input_grad(d: np.ndarray, w: np.ndarray, dxp: np.ndarray,
                         kernel_size: tuple[int, int], strides: tuple[int, int]) -> None:
    """dxp += col2im(d @ w.T), one kernel offset at a time: d [n*Ho*Wo, F], w [kh*kw*C, F].

    The whole d @ w.T is [n*Ho*Wo, kh*kw*C], and col2im must then read it offset by offset
    (a transposing copy or C-float runs). One [n*Ho*Wo, C] product per offset instead lands
    already in the block layout and small enough to stay in cache until it is added: ~2-5x
    faster than the product plus numpy_col2im_add. Same offsets, same order of the adds.
    """
    n, hp, wp, c = dxp.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    oh, ow = window_count(hp, kh, sh), window_count(wp, kw, sw)
    per_offset = w.reshape(kh * kw, c, w.shape[1])
    block = np.empty((n * oh * ow, c), dtype=np.result_type(d.dtype, w.dtype))
    rows = slice(0, sh * (oh - 1) + 1, sh)
    runs = sw == 1 and dxp.flags.c_contiguous  # then a window row is one run of ow*C floats
    flat = dxp.reshape(n, hp, wp * c) if runs else None
    for i in range(kh):
        for j in range(kw):
            np.matmul(d, per_offset[i * kw + j].T, out=block)
            if flat is not None:
                flat[:, i:][:, rows, j * c : (j + ow) * c] += block.reshape(n, oh, ow * c)
            else:
                dxp[:, i:][:, rows, j : j + sw * (ow - 1) + 1 : sw] += block.reshape(n, oh, ow, c)


def blas_pool_forward(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """numpy_pool_forward taking the maximum of the window's rows first: a tile row of
    Wo*pw*C floats is one contiguous run, so only the last pw-1 maxima run C floats at a time
    (measured ~1.5x faster). A maximum is exact, so the order gives the same values."""
    n, h, w, c = x.shape
    oh, ow = h // ph, w // pw
    rows = x[:, : oh * ph, : ow * pw].reshape(n, oh, ph, ow * pw * c)
    widest = rows[:, :, 0].copy()
    for i in range(1, ph):
        np.maximum(widest, rows[:, :, i], out=widest)
    columns = widest.reshape(n, oh, ow, pw, c)
    out = columns[:, :, :, 0].copy()
    for j in range(1, pw):
        np.maximum(out, columns[:, :, :, j], out=out)
    return out


def _lanes(mask: np.ndarray) -> np.ndarray:
    """A C-contiguous bool array's bytes as the widest unsigned ints that tile its last axis."""
    c = mask.shape[-1]
    size = next(size for size in (8, 4, 2, 1) if c % size == 0)
    return mask.view(f"u{size}")


def blas_pool_backward(x: np.ndarray, out: np.ndarray, dout: np.ndarray, ph: int,
                       pw: int) -> np.ndarray:
    """numpy_pool_backward's gradient, bit for bit, with one comparison of whole tile rows.

    The reference compares, masks and writes window offset by offset, each a NumPy loop over
    runs of C floats (8 for the tutorial's first pool). Here the maxima are repeated along each
    tile row (np.repeat copies C-float blocks with memcpy), so the comparison and the final
    product run over rows of Wo*pw*C; only the tie-break steps stay per offset, on the hit
    bytes read as wide integers (C bools at once for C = 8). Measured ~2.3x faster on
    [512,24,24,8]. The same first maximum in row-major window order wins: first per tile row
    (by j), then the first row (by i) holding a hit.
    """
    n, h, w, c = x.shape
    oh, ow = h // ph, w // pw
    tiled = h == oh * ph and w == ow * pw
    dx = (np.empty if tiled else np.zeros)(x.shape, dtype=dout.dtype)
    hit = _tiles(x, ph, pw) == np.repeat(out.reshape(n, oh, 1, ow, 1, c), pw, axis=4)
    bits = _lanes(hit)  # bytes 0/1: and / or / and-not on them are the logical ones
    taken = bits[:, :, :, :, 0].copy()  # [n,Ho,ph,Wo,C]: the row has a hit at some j so far
    for j in range(1, pw):
        later = bits[:, :, :, :, j]
        np.bitwise_and(later, ~taken, out=later)
        taken |= later
    row_taken = taken[:, :, 0].copy()  # [n,Ho,Wo,C]: an earlier row holds the maximum
    for i in range(1, ph):
        row = bits[:, :, i]
        row &= ~np.repeat(row_taken[:, :, :, None], pw, axis=3)
        row_taken |= taken[:, :, i]
    spread = np.repeat(dout.reshape(n, oh, 1, ow, 1, c), pw, axis=4)
    np.multiply(spread, hit, out=_tiles(dx, ph, pw))
    return dx


def blas_bias_act(y: np.ndarray, bias: np.ndarray, relu: bool) -> None:
    """numpy_bias_act with the bias repeated along each image's row: broadcasting an F-float
    bias runs NumPy's loop F floats at a time (measured ~2x slower). The same adds."""
    f = y.shape[-1]
    rows = y.reshape(y.shape[0], -1) if y.flags.c_contiguous else None
    if rows is None or rows.shape[1] == f:
        numpy_bias_act(y, bias, relu)
        return
    rows += np.tile(bias, rows.shape[1] // f)
    if relu:
        np.maximum(rows, 0, out=rows)


def blas_grad_bias(dout: np.ndarray, y: np.ndarray,
                   relu: bool) -> tuple[np.ndarray, np.ndarray]:
    """numpy_grad_bias, summing per image first: a [rows, F] sum down the rows, F = 8 floats
    wide, is a slow NumPy loop; [n, rows/n*F] rows are long (measured ~3x faster)."""
    d = np.multiply(dout, y > 0, dtype=dout.dtype) if relu else dout
    f = d.shape[-1]
    per_image = d.reshape(d.shape[0], -1).sum(axis=0) if d.ndim > 2 else d
    return d, per_image.reshape(-1, f).sum(axis=0)


PASSES: dict[str, Callable] = {
    "conv_forward": numpy_conv_forward,
    "im2col": numpy_im2col,
    "col2im_add": numpy_col2im_add,
    "pool_forward": numpy_pool_forward,
    "pool_backward": numpy_pool_backward,
    "bias_act": numpy_bias_act,
    "grad_bias": numpy_grad_bias,
}

BLAS_PASSES: dict[str, Callable] = {
    **PASSES,
    "im2col": blas_im2col,
    "conv_input_grad": blas_conv_input_grad,
    "pool_forward": blas_pool_forward,
    "pool_backward": blas_pool_backward,
    "bias_act": blas_bias_act,
    "grad_bias": blas_grad_bias,
}
