"""The layer kernels' wrappers (backend/wasm/ops.py) under CPython, with each WebAssembly kernel
replaced by a NumPy emulation of its documented ABI on raw memory (safe only because every call
is checked first). The real kernels run against the same NumPy versions in Chromium
(tests/e2e/test_simd.py)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from digitlab.backend import numpy_ops as ops
from digitlab.backend import registry
from digitlab.backend import wasm as simd
from digitlab.backend.wasm import gemm, loader, memory, verification
from digitlab.backend.wasm import ops as simd_ops
from digitlab.nn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tests.unit.test_simd_wrapper import (  # noqa: F401 - fixtures
    Recorder,
    kernel,
    pyodide_load,
)

F = 4  # bytes per float32


def raw(addr: int, shape: tuple, strides: tuple) -> np.ndarray:
    """A float32 view of raw memory: the emulations see only what the kernel would."""
    lo, hi = memory.extent(addr, list(zip(shape, strides, strict=True)))
    buf = (ctypes.c_char * max(hi - lo, 1)).from_address(lo)
    return np.ndarray(shape, np.float32, buffer=buf, offset=addr - lo, strides=strides)


def packed(addr: int, *shape: int) -> np.ndarray:
    return raw(addr, shape, tuple(int(np.prod(shape[i + 1:])) * F for i in range(len(shape))))


def windows(img, n, oh, ow, kh, run, img_stride, row_step, col_step, row_stride):
    return raw(img, (n, oh, ow, kh, run // F), (img_stride, row_step, col_step, row_stride, F))


def im2col(img, cols, n, oh, ow, kh, run, *strides):
    image = windows(img, n, oh, ow, kh, run, *strides)
    packed(cols, n * oh * ow * kh * run // F)[...] = image.reshape(-1)


def col2im_add(img, cols, n, oh, ow, kh, run, *strides):
    image = windows(img, n, oh, ow, kh, run, *strides)
    source = packed(cols, n, oh, ow, kh, run // F)
    for index in np.ndindex(n, oh, ow, kh):  # one window row at a time: windows overlap
        image[index] += source[index]


def pool_tiles(x, n, oh, ow, c, img_stride, rs):
    return raw(x, (n, oh, 2, ow, 2, c), (img_stride, 2 * rs, rs, 2 * c * F, c * F, F))


def pool2_forward(x, out, n, oh, ow, c, img_stride, rs):
    tiles = pool_tiles(x, n, oh, ow, c, img_stride, rs)
    packed(out, n, oh, ow, c)[...] = tiles.max(axis=(2, 4))


def pool2_backward(x, out, dout, dx, n, oh, ow, c, img_stride, rs):
    tiles, dtiles = (pool_tiles(p, n, oh, ow, c, img_stride, rs) for p in (x, dx))
    peak, grad = packed(out, n, oh, ow, c), packed(dout, n, oh, ow, c)
    taken = np.zeros(peak.shape, bool)
    for i in range(2):
        for j in range(2):
            hit = (tiles[:, :, i, :, j] == peak) & ~taken
            taken |= hit
            dtiles[:, :, i, :, j] = np.where(hit, grad, 0)


def bias_relu(y, rows, c, bias, relu):
    values = packed(y, rows, c)
    values += packed(bias, c)
    if relu:
        np.maximum(values, 0, out=values)


def grad_bias(dout, y, d, rows, c, dbias, partial, relu):
    g = packed(dout, rows, c).copy()
    if relu:
        g *= packed(y, rows, c) > 0
        packed(d, rows, c)[...] = g
    packed(dbias, c)[...] += g.sum(axis=0)


def conv_forward(x, bp, out, n, oh, ow, kh, run, *rest):
    *strides, f = rest
    k = kh * run // F
    panels = -(-f // gemm.PANEL)
    w = packed(bp, panels, k, gemm.PANEL).transpose(1, 0, 2).reshape(k, -1)[:, :f]
    image = windows(x, n, oh, ow, kh, run, *strides).reshape(n * oh * ow, k)
    product = image.astype(np.float64) @ w.astype(np.float64)
    packed(out, n * oh * ow, f)[...] = product.astype(np.float32)


EMULATIONS = {"digitlab_conv_forward": conv_forward, "digitlab_im2col": im2col,
              "digitlab_col2im_add": col2im_add,
              "digitlab_pool2_forward": pool2_forward, "digitlab_pool2_backward": pool2_backward,
              "digitlab_bias_relu": bias_relu, "digitlab_grad_bias": grad_bias}


@pytest.fixture()
def kernels(monkeypatch) -> list[tuple]:
    """The emulated layer kernels, recording each call as (name, args)."""
    seen: list[tuple] = []

    def recording(name):
        def run(*args):
            seen.append((name, args))
            EMULATIONS[name](*args)
        return run

    for name in simd_ops.SIGNATURES:
        monkeypatch.setitem(simd_ops._kernels, name, recording(name))
    return seen


def names(seen: list[tuple]) -> list[str]:
    return [name for name, _ in seen]


# ---------------------------------------------------------------- results


@pytest.mark.parametrize("shape,kernel_size,strides", [
    ((2, 9, 8, 1), (5, 5), (1, 1)), ((3, 7, 9, 4), (3, 2), (1, 1)), ((2, 8, 8, 8), (2, 3), (2, 2)),
    ((1, 5, 5, 3), (5, 5), (1, 1)), ((1, 1, 1, 4), (1, 1), (1, 1))])
def test_im2col_and_col2im_match_numpy(kernels, shape, kernel_size, strides):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    cols = simd_ops.im2col(x, kernel_size, strides)
    np.testing.assert_array_equal(cols, ops.numpy_im2col(x, kernel_size, strides))
    grads = rng.standard_normal(cols.shape).astype(np.float32)
    got, want = np.zeros_like(x), np.zeros_like(x)
    simd_ops.col2im_add(grads, got, kernel_size, strides)
    ops.numpy_col2im_add(grads, want, kernel_size, strides)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert names(kernels) == ["digitlab_im2col", "digitlab_col2im_add"]


@pytest.mark.parametrize("shape,kernel_size,strides,filters", [
    ((2, 9, 8, 1), (5, 5), (1, 1), 8), ((3, 7, 9, 4), (3, 2), (1, 1), 13),
    ((2, 8, 8, 8), (2, 3), (2, 2), 16), ((1, 5, 5, 3), (5, 5), (1, 1), 1)])
def test_convolution_read_in_place_matches_im2col_then_gemm(kernels, kernel, shape,  # noqa: F811
                                                           kernel_size, strides, filters):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(np.float32)
    cols = ops.numpy_im2col(x, kernel_size, strides)
    w = rng.standard_normal((cols.shape[1], filters)).astype(np.float32)
    got = simd_ops.conv_forward(x, w, kernel_size, strides)
    np.testing.assert_allclose(got.reshape(-1, filters), cols @ w, rtol=1e-5, atol=1e-5)
    assert names(kernels) == ["digitlab_conv_forward"]
    assert ops.numpy_conv_forward(x, w, kernel_size, strides) is None  # NumPy: use im2col


def test_a_row_strided_view_is_walked_in_place(kernels):
    x = np.random.default_rng(1).standard_normal((2, 12, 6, 4)).astype(np.float32)[:, ::2]
    cols = simd_ops.im2col(x, (3, 3), (1, 1))
    np.testing.assert_array_equal(cols, ops.numpy_im2col(x, (3, 3), (1, 1)))
    args = kernels[-1][1]
    assert args[0] == memory.address(x) and args[7] == x.strides[0] and args[10] == x.strides[1]


@pytest.mark.parametrize("shape", [(2, 6, 6, 4), (1, 7, 5, 8), (3, 2, 2, 12)])
def test_pooling_matches_numpy_with_ties(kernels, shape):
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal(shape)).astype(np.float32)  # many ties
    out = simd_ops.pool_forward(x, 2, 2)
    np.testing.assert_array_equal(out, ops.numpy_pool_forward(x, 2, 2))
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = simd_ops.pool_backward(x, out, dout, 2, 2)
    np.testing.assert_array_equal(dx, ops.numpy_pool_backward(x, out, dout, 2, 2))
    assert dx.sum() == pytest.approx(dout.sum(), rel=1e-5)  # one winner per window
    assert names(kernels) == ["digitlab_pool2_forward", "digitlab_pool2_backward"]


@pytest.mark.parametrize("relu", [True, False])
def test_bias_and_its_gradient_match_numpy(kernels, relu):
    rng = np.random.default_rng(3)
    y = rng.standard_normal((3, 5, 5, 8)).astype(np.float32)
    want = y.copy()
    bias = rng.standard_normal(8).astype(np.float32)
    simd_ops.bias_act(y, bias, relu)
    ops.numpy_bias_act(want, bias, relu)
    np.testing.assert_array_equal(y, want)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    d, dbias = simd_ops.grad_bias(dout, y, relu)
    want_d, want_bias = ops.numpy_grad_bias(dout, y, relu)
    np.testing.assert_array_equal(d, want_d)
    np.testing.assert_allclose(dbias, want_bias, rtol=1e-5, atol=1e-5)
    assert names(kernels) == ["digitlab_bias_relu", "digitlab_grad_bias"]


def test_cases_the_kernels_do_not_cover_go_to_numpy(kernels):
    rng = np.random.default_rng(4)
    odd_channels = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    simd_ops.pool_forward(odd_channels, 2, 2)
    simd_ops.bias_act(odd_channels, np.ones(3, np.float32), True)
    wide = rng.standard_normal((2, 6, 6, 4)).astype(np.float32)
    simd_ops.pool_forward(wide, 3, 3)  # not 2x2
    simd_ops.im2col(wide.astype(np.float64), (3, 3), (1, 1))
    simd_ops.im2col(wide.transpose(0, 2, 1, 3)[..., ::-1], (3, 3), (1, 1))  # pixel not packed
    assert kernels == []


def test_layers_train_the_same_through_the_kernels(kernels, kernel):  # noqa: F811
    """A conv -> pool -> dense step on both backends: same outputs and gradients."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 12, 12, 1)).astype(np.float32)
    layers = [Conv2D(8, 5, activation="relu", needs_input_grad=True), MaxPool2D(2),
              Conv2D(8, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
              Dense(16, activation="relu")]
    shape = x.shape[1:]
    for layer in layers:
        shape = layer.build(shape, rng)

    def step():
        a = x
        for layer in layers:
            a = layer.forward(a, True)
        g = np.ones_like(a)
        for layer in reversed(layers):
            g = layer.backward(g)
        return a, g, [v.copy() for layer in layers for v in layer.grads.values()]

    def predict():
        a = x
        for layer in layers:
            a = layer.forward(a)
        return a

    previous = registry.get_backend()
    want, want_predicted = step(), predict()
    registry.register_backend("simd-test", gemm.simd_gemm, simd_ops.TABLE)
    registry.set_backend("simd-test")
    try:
        got, predicted = step(), predict()
    finally:
        registry.set_backend(previous)
    np.testing.assert_allclose(predicted, want_predicted, rtol=1e-5, atol=1e-5)
    assert registry._ops == ops.BLAS_PASSES  # switching back restores the native NumPy passes
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(got[2], want[2], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)
    used = set(names(kernels))
    assert used == set(simd_ops.SIGNATURES), used


# ---------------------------------------------------------------- refusals


def test_misuse_is_refused_before_any_kernel_runs(kernels):
    report = verification.ops_refusals()
    assert report and all(report.values()), report
    assert kernels == []


def test_kernels_not_loaded_raise(monkeypatch):
    monkeypatch.setattr(simd_ops, "_kernels", {})
    with pytest.raises(RuntimeError, match="not loaded"):
        simd_ops.im2col(np.zeros((1, 3, 3, 4), np.float32), (2, 2), (1, 1))


def test_read_only_targets_fall_back_and_numpy_refuses_them(kernels):
    y = np.zeros((2, 4), np.float32)
    y.flags.writeable = False
    with pytest.raises(ValueError):
        simd_ops.bias_act(y, np.ones(4, np.float32), False)
    assert kernels == []


def test_verify_reports_on_the_emulated_kernels(kernel, kernels):  # noqa: F811
    report = simd.verify(cases=120, seed=3)
    assert report["maxRelErr"] < 1e-5 and all(report["refused"].values())
    ops_report = report["ops"]
    assert ops_report["exact"] and ops_report["maxRelErr"] < 1e-5, ops_report
    assert all(ops_report["refused"].values()), ops_report["refused"]
    assert all(count > 0 for count in ops_report["kernelCalls"].values()), ops_report


def test_load_falls_back_to_plain_and_says_why(pyodide_load, monkeypatch):  # noqa: F811
    """The whole load under "Pyodide" with emulated kernels: relaxed refuses to open (as in a
    browser without relaxed SIMD), plain passes both self-tests and becomes the backend."""
    gemm_kernel = Recorder()

    def open_kernel(path):
        if "relaxed" in path:
            raise OSError(f"{path}: invalid type section")
        return gemm_kernel, dict(EMULATIONS)

    monkeypatch.setattr(loader, "_open_kernel", open_kernel)
    assert simd.load("/tmp/gemm_plain.so", "/tmp/gemm_relaxed.so", relaxed=True) is True
    why = [{"variant": "relaxed", "reason": "OSError: /tmp/gemm_relaxed.so: invalid type section"}]
    assert simd.info() == {"backend": "simd", "variant": "plain", "errors": why}
    assert gemm_kernel.calls and registry._ops == simd_ops.TABLE
    report = simd.verify(cases=20, seed=4)
    assert report["variant"] == "plain" and report["errors"] == why
    assert report["maxRelErr"] < 1e-5 and report["ops"]["exact"], report
