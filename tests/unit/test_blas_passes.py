"""The passes tuned for native BLAS (numpy_ops.BLAS_PASSES, the "matmul" backend under CPython)
against the reference passes they replace: the same columns, maxima, biased activations and ReLU
gradients bit for bit; the convolution's input gradient and the bias sums up to rounding, as
their sums run in another order."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from digitlab.backend import numpy_ops, registry

SHAPES = [  # (x shape, kernel, strides): one channel (the offset-by-offset columns) and several
    ((3, 9, 11, 1), (3, 2), (1, 1)),
    ((2, 10, 7, 1), (5, 5), (2, 1)),
    ((2, 8, 9, 1), (2, 3), (1, 2)),
    ((3, 12, 12, 8), (5, 5), (1, 1)),
    ((2, 9, 8, 3), (3, 3), (2, 2)),
    ((1, 4, 4, 2), (4, 4), (1, 1)),
]


@pytest.mark.parametrize("shape,kernel_size,strides", SHAPES)
def test_im2col_gives_the_reference_columns(shape, kernel_size, strides):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = numpy_ops.blas_im2col(x, kernel_size, strides)
    assert np.array_equal(got, numpy_ops.numpy_im2col(x, kernel_size, strides))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kernel_size,strides", SHAPES)
def test_conv_input_grad_is_col2im_of_the_product(shape, kernel_size, strides, dtype):
    rng = np.random.default_rng(1)
    n, h, w, c = shape
    oh = numpy_ops.window_count(h, kernel_size[0], strides[0])
    ow = numpy_ops.window_count(w, kernel_size[1], strides[1])
    d = rng.standard_normal((n * oh * ow, 6)).astype(dtype)
    kernel = rng.standard_normal((kernel_size[0] * kernel_size[1] * c, 6)).astype(dtype)
    start = rng.standard_normal(shape).astype(dtype)  # it adds to what is there
    want, got = start.copy(), start.copy()
    numpy_ops.numpy_col2im_add(d @ kernel.T, want, kernel_size, strides)
    numpy_ops.blas_conv_input_grad(d, kernel, got, kernel_size, strides)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_conv_input_grad_into_a_chunk_of_a_larger_array():
    # Conv2D.backward passes dxp[start:start+chunk], and a view that is not C-contiguous takes
    # the strided adds.
    rng = np.random.default_rng(2)
    d = rng.standard_normal((2 * 4 * 4, 3)).astype(np.float32)
    kernel = rng.standard_normal((3 * 3 * 2, 3)).astype(np.float32)
    want, got = np.zeros((4, 6, 6, 2), np.float32), np.zeros((4, 6, 6, 2), np.float32)
    numpy_ops.numpy_col2im_add(d @ kernel.T, want[1:3], (3, 3), (1, 1))
    numpy_ops.blas_conv_input_grad(d, kernel, got[1:3], (3, 3), (1, 1))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert not got[0].any() and not got[3].any()
    column = np.zeros((2, 6, 6, 4), np.float32)[..., 1:3]  # rows of runs with gaps between
    numpy_ops.blas_conv_input_grad(d, kernel, column, (3, 3), (1, 1))
    np.testing.assert_allclose(column, want[1:3], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 6, 5, 8), (7, 10), (3, 2, 2, 1)])
@pytest.mark.parametrize("relu", [True, False])
def test_grad_bias_matches_the_reference(shape, relu):
    rng = np.random.default_rng(3)
    dout, y = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape)
    y = np.maximum(y, 0).astype(np.float32)
    d, dbias = numpy_ops.blas_grad_bias(dout, y, relu)
    want_d, want_bias = numpy_ops.numpy_grad_bias(dout, y, relu)
    assert np.array_equal(d, want_d) and dbias.shape == want_bias.shape == (shape[-1],)
    np.testing.assert_allclose(dbias, want_bias, rtol=1e-5, atol=1e-5)


def test_the_native_backend_uses_them_and_the_contiguous_one_the_reference():
    assert sys.platform != "emscripten", "the unit tests run under CPython"
    previous = registry.get_backend()
    assert previous == registry.DEFAULT_BACKEND == "matmul"
    assert registry._ops == numpy_ops.BLAS_PASSES
    try:
        registry.set_backend("matmul-contiguous")  # Pyodide's default: no BLAS
        assert registry._ops == numpy_ops.PASSES and "conv_input_grad" not in registry._ops
    finally:
        registry.set_backend(previous)
    assert registry._ops == numpy_ops.BLAS_PASSES


def test_without_a_fused_input_gradient_the_product_and_col2im_run():
    calls = []

    def col2im(dcols, dxp, kernel_size, strides):
        calls.append(dcols.shape)
        numpy_ops.numpy_col2im_add(dcols, dxp, kernel_size, strides)

    previous = registry.get_backend()
    registry.register_backend("no-fused-pass", numpy_ops.matmul_views,
                              {**numpy_ops.PASSES, "col2im_add": col2im})
    registry.set_backend("no-fused-pass")
    rng = np.random.default_rng(4)
    d = rng.standard_normal((2 * 3 * 3, 4)).astype(np.float32)
    kernel = rng.standard_normal((2 * 2 * 3, 4)).astype(np.float32)
    got, want = np.zeros((2, 4, 4, 3), np.float32), np.zeros((2, 4, 4, 3), np.float32)
    try:
        registry.conv_input_grad(d, kernel, got, (2, 2), (1, 1))
    finally:
        registry.set_backend(previous)
    numpy_ops.numpy_col2im_add(d @ kernel.T, want, (2, 2), (1, 1))
    assert calls == [(18, 12)] and np.array_equal(got, want)


@pytest.mark.parametrize("shape", [(3, 24, 24, 8), (2, 7, 9, 4), (1, 9, 9, 3)])
@pytest.mark.parametrize("pool", [(2, 2), (3, 3), (2, 3), (1, 2)])
def test_pool_forward_gives_the_reference_maxima(shape, pool):
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    x[0, :2, :2] = 0.5  # a window of ties
    assert np.array_equal(numpy_ops.blas_pool_forward(x, *pool),
                          numpy_ops.numpy_pool_forward(x, *pool))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 24, 24, 8), (2, 7, 9, 4), (1, 9, 9, 3), (2, 6, 6, 2)])
@pytest.mark.parametrize("pool", [(2, 2), (3, 3), (2, 3), (1, 2)])
def test_pool_backward_gives_the_reference_gradient(shape, pool, dtype):
    # Ties everywhere (rounded ReLU outputs: many all-zero windows), leftover rows and columns
    # (9 by 2), a NaN and an infinite output gradient: the same first maximum takes each
    # window's gradient, and the products are the same, so equal bit for bit.
    rng = np.random.default_rng(7)
    x = np.maximum(np.round(rng.standard_normal(shape)), 0).astype(dtype)
    x[0, 0, 0, 0] = np.nan
    out = numpy_ops.numpy_pool_forward(x, *pool)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dout[-1, 0, 0, -1] = np.inf
    with np.errstate(invalid="ignore"):  # inf * 0 where the window's maximum is elsewhere
        got = numpy_ops.blas_pool_backward(x, out, dout, *pool)
        want = numpy_ops.numpy_pool_backward(x, out, dout, *pool)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("shape", [(4, 6, 5, 8), (7, 10), (3, 2, 2, 1)])
@pytest.mark.parametrize("relu", [True, False])
def test_bias_act_gives_the_reference_values(shape, relu):
    rng = np.random.default_rng(6)
    y = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(shape[-1]).astype(np.float32)
    want = y.copy()
    numpy_ops.numpy_bias_act(want, bias, relu)
    numpy_ops.blas_bias_act(y, bias, relu)
    assert np.array_equal(y, want)
    wide = rng.standard_normal((3, 4, 10)).astype(np.float32)[..., ::2]  # not contiguous
    want = wide.copy()
    numpy_ops.numpy_bias_act(want, bias[:1].repeat(5), relu)
    numpy_ops.blas_bias_act(wide, bias[:1].repeat(5), relu)
    assert np.array_equal(wide, want)
