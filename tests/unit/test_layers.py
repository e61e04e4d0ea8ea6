import numpy as np
import pytest
from gradcheck import check_layer, numeric_grad, relative_error, to_float64

from digitlab.nn import layers
from digitlab.nn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, variance_scaling
from digitlab.nn.losses import log_softmax, softmax, softmax_cross_entropy


def built(layer, input_shape, seed=0):
    layer.build(input_shape, np.random.default_rng(seed))
    return layer


def distinct_values(shape, seed=0):
    """Random values whose pairwise gaps are far above the finite-difference step."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.01 - 1.0


def naive_conv(x, kernel, bias, stride, padding):
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    if padding == "same":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2])) + bias
    return out


def naive_pool(x, size, stride):
    n, h, w, c = x.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            window = x[:, i * stride : i * stride + size, j * stride : j * stride + size, :]
            out[:, i, j, :] = window.max(axis=(1, 2))
    return out


CONV_CASES = [  # (input HxWxC, filters, kernel, stride, padding)
    ((7, 7, 2), 3, 3, 1, "valid"),
    ((8, 8, 3), 2, 3, 2, "valid"),
    ((7, 6, 2), 3, 3, 1, "same"),
    ((7, 7, 1), 2, 4, 2, "same"),
    ((9, 9, 2), 2, 5, 3, "same"),
]


@pytest.mark.parametrize("shape, filters, kernel, stride, padding", CONV_CASES)
def test_conv_forward_matches_naive_loops(shape, filters, kernel, stride, padding):
    conv = built(Conv2D(filters, kernel, stride, padding), shape)
    conv.params["bias"][:] = np.arange(filters) * 0.1
    x = np.random.default_rng(1).random((3, *shape)).astype(np.float32)
    out = conv.forward(x)
    expected = naive_conv(x.astype(np.float64), conv.params["kernel"], conv.params["bias"],
                          stride, padding)
    assert out.shape == (3, *conv.output_shape(shape)) == expected.shape
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, filters, kernel, stride, padding", CONV_CASES)
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv_backward_matches_finite_differences(shape, filters, kernel, stride, padding,
                                                   activation):
    conv = built(Conv2D(filters, kernel, stride, padding, activation), shape)
    conv.params["bias"][:] = 0.05  # keep relu units away from the kink at 0
    check_layer(conv, np.random.default_rng(2).standard_normal((2, *shape)))


def test_conv_first_layer_skips_input_gradient():
    conv = built(Conv2D(2, 3, needs_input_grad=False), (6, 6, 1))
    conv.forward(np.ones((2, 6, 6, 1), dtype=np.float32), training=True)
    assert conv.backward(np.ones((2, 4, 4, 2), dtype=np.float32)) is None
    assert conv.grads["kernel"].shape == (3, 3, 1, 2)
    np.testing.assert_allclose(conv.grads["bias"], [32.0, 32.0])


def test_conv_chunks_give_the_same_results(monkeypatch):
    conv = built(Conv2D(4, 3, 1, "same", "relu"), (10, 10, 3))
    x = np.random.default_rng(3).random((7, 10, 10, 3)).astype(np.float32)
    dout = np.random.default_rng(4).random((7, 10, 10, 4)).astype(np.float32)
    whole = conv.forward(x, training=True)
    dx_whole = conv.backward(dout).copy()
    grads_whole = {k: v.copy() for k, v in conv.grads.items()}
    per_image = 10 * 10 * 27 * 4
    monkeypatch.setattr(layers, "IM2COL_BUDGET_BYTES", 2 * per_image)  # chunks of 2 images
    assert conv._chunk(conv._pad(x)) == 2
    np.testing.assert_allclose(conv.forward(x, training=True), whole, rtol=1e-6)
    assert conv._cols is None, "chunked forward must not keep a partial im2col buffer"
    np.testing.assert_allclose(conv.backward(dout), dx_whole, rtol=1e-5, atol=1e-6)
    for name, grad in grads_whole.items():
        np.testing.assert_allclose(conv.grads[name], grad, rtol=1e-5, atol=1e-5)


POOL_CASES = [((6, 6, 2), 2, 2), ((7, 7, 2), 2, 2), ((7, 7, 1), 3, 2), ((6, 5, 2), 3, 1)]


@pytest.mark.parametrize("shape, size, stride", POOL_CASES)
def test_pool_forward_matches_naive_loops(shape, size, stride):
    pool = built(MaxPool2D(size, stride), shape)
    x = np.random.default_rng(5).random((3, *shape)).astype(np.float32)
    expected = naive_pool(x, size, stride)
    assert pool.output_shape(shape) == expected.shape[1:]
    np.testing.assert_array_equal(pool.forward(x), expected)


@pytest.mark.parametrize("shape, size, stride", POOL_CASES)
def test_pool_backward_matches_finite_differences(shape, size, stride):
    pool = built(MaxPool2D(size, stride), shape)
    check_layer(pool, distinct_values((2, *shape)))


def test_pool_same_padding_matches_padded_naive():
    pool = built(MaxPool2D(2, 2, "same"), (5, 5, 1))
    x = np.random.default_rng(6).random((2, 5, 5, 1))
    padded = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=-np.inf)
    np.testing.assert_array_equal(pool.forward(x), naive_pool(padded, 2, 2))
    check_layer(pool, distinct_values((2, 5, 5, 1)))


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_pool_ties_send_gradient_to_the_first_maximum_only(size, stride):
    pool = built(MaxPool2D(size, stride), (4, 4, 1))
    x = np.ones((1, 4, 4, 1))  # every window is one big tie
    out = pool.forward(x, training=True)
    dx = pool.backward(np.ones_like(out))
    assert dx.sum() == out.size, "gradient mass is conserved: one element per window"
    # First maximum in row-major window order = each window's top-left element.
    expected = np.zeros((4, 4))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            expected[i * stride, j * stride] += 1
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_dense_backward_matches_finite_differences():
    for activation in (None, "relu", "softmax"):
        dense = built(Dense(4, activation), (6,))
        dense.params["bias"][:] = 0.1
        check_layer(dense, np.random.default_rng(7).standard_normal((3, 6)))


def test_dense_softmax_returns_logits():
    dense = built(Dense(3, "softmax"), (2,))
    out = dense.forward(np.array([[1.0, -2.0]], dtype=np.float32))
    np.testing.assert_allclose(out, np.array([[1.0, -2.0]]) @ dense.params["kernel"], rtol=1e-6)


def test_flatten_and_relu_backward():
    check_layer(built(Flatten(), (3, 2, 2)), np.random.default_rng(8).standard_normal((2, 3, 2, 2)))
    check_layer(built(ReLU(), (5,)), distinct_values((3, 5)))
    flat = built(Flatten(), (2, 2, 3))
    x = np.arange(24.0).reshape(2, 2, 2, 3)
    assert flat.forward(x)[1].tolist() == list(range(12, 24)), "h, w, c order like tfjs"


def test_dropout_is_inverted_and_seeded():
    drop = built(Dropout(0.25, seed=1), (1000,))
    x = np.ones((20, 1000), dtype=np.float32)
    assert drop.forward(x) is x, "inference passes through"
    out = drop.forward(x, training=True)
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    dout = np.random.default_rng(9).random(x.shape).astype(np.float32)
    np.testing.assert_array_equal(drop.backward(dout), dout * out)  # same mask, same scale
    again = built(Dropout(0.25, seed=1), (1000,)).forward(x, training=True)
    np.testing.assert_array_equal(again, out)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


def test_softmax_cross_entropy_gradient_and_stability():
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((4, 10))
    y = np.eye(10)[[3, 1, 4, 1]]
    loss, dlogits = softmax_cross_entropy(logits, y)
    expected = -np.mean(np.log(np.exp(logits) / np.exp(logits).sum(1, keepdims=True))[y == 1])
    assert abs(loss - expected) < 1e-12
    numeric = numeric_grad(lambda: softmax_cross_entropy(logits, y)[0], logits)
    assert relative_error(dlogits, numeric) < 1e-6
    np.testing.assert_allclose(dlogits, (softmax(logits) - y) / 4)
    huge = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    assert np.isfinite(log_softmax(huge)).all()
    loss, grad = softmax_cross_entropy(huge, np.array([[0.0, 0.0, 1.0]], dtype=np.float32))
    assert np.isfinite(loss) and abs(loss - 2000.0) < 1e-3 and grad.dtype == np.float32


def test_variance_scaling_matches_tfjs_truncated_normal():
    kernel = variance_scaling((5, 5, 8, 400), fan_in=200, rng=np.random.default_rng(0))
    limit = 2 * np.sqrt(1 / 200) / 0.87962566103423978
    assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit
    # The 0.8796 correction makes the truncated draws have stddev sqrt(scale / fan_in).
    assert abs(kernel.std() - np.sqrt(1 / 200)) < 0.002
    assert abs(kernel.mean()) < 0.002


def test_float32_in_float32_out():
    conv = built(Conv2D(2, 3, activation="relu"), (6, 6, 1))
    x = np.random.default_rng(11).random((2, 6, 6, 1)).astype(np.float32)
    out = conv.forward(x, training=True)
    assert out.dtype == np.float32
    conv.backward(np.ones_like(out))
    assert all(g.dtype == np.float32 for g in conv.grads.values())
    to_float64(conv)
    assert conv.forward(x.astype(np.float64)).dtype == np.float64
