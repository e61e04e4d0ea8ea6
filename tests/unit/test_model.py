import math

import numpy as np
import pytest

from digitlab.nn.optim import SGD, Adam
from digitlab.nn.sequential import TrainingDiverged
from digitlab.nn.zoo import build_model


def tiny_set(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n)


def weights_of(model):
    return {k: v.copy() for k, v in model.parameters().items()}


def test_tutorial_summary_matches_the_codelab():
    summary = build_model("tutorial").summary()
    assert summary["total_params"] == 5994
    rows = [(r["name"], r["type"], r["output_shape"], r["params"]) for r in summary["layers"]]
    assert rows == [
        ("conv2d_1", "Conv2D", [None, 24, 24, 8], 208),
        ("max_pooling2d_1", "MaxPooling2D", [None, 12, 12, 8], 0),
        ("conv2d_2", "Conv2D", [None, 8, 8, 16], 3216),
        ("max_pooling2d_2", "MaxPooling2D", [None, 4, 4, 16], 0),
        ("flatten_1", "Flatten", [None, 256], 0),
        ("dense_1", "Dense", [None, 10], 2570),
    ]
    assert summary["flops"] == 2 * (24 * 24 * 8 * 25 + 8 * 8 * 16 * 200 + 256 * 10)
    assert "Total params: 5994" in build_model("tutorial").summary_text()


def test_whole_model_gradient_matches_finite_differences():
    spec = [{"type": "conv2d", "filters": 2, "kernelSize": 3, "strides": 2, "padding": "same",
             "activation": "relu"},
            {"type": "conv2d", "filters": 3, "kernelSize": 3, "activation": "relu"},
            {"type": "maxPooling2d", "poolSize": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"}]
    model = build_model(spec, seed=1)
    for layer in model.layers:
        layer.params = {k: v.astype(np.float64) + 0.01 for k, v in layer.params.items()}
    x = np.random.default_rng(2).random((3, 28, 28, 1))
    y = np.eye(10)[[1, 5, 7]]
    from digitlab.nn.losses import softmax_cross_entropy

    logits = model.forward(x, training=True)
    model.backward(softmax_cross_entropy(logits, y)[1])
    rng = np.random.default_rng(3)
    for key, param in model.parameters().items():
        grad = model.gradients()[key]
        for index in [tuple(rng.integers(0, s) for s in param.shape) for _ in range(4)]:
            old = param[index]
            param[index] = old + 1e-6
            plus = softmax_cross_entropy(model.forward(x), y)[0]
            param[index] = old - 1e-6
            minus = softmax_cross_entropy(model.forward(x), y)[0]
            param[index] = old
            numeric = (plus - minus) / 2e-6
            assert abs(numeric - grad[index]) < 1e-6 + 1e-4 * abs(numeric), key


def test_train_steps_events_and_history():
    x, y = tiny_set(100)
    model = build_model("tutorial")
    validation = (x[:20], y[:20])
    events = list(model.train_steps(x, y, batch_size=32, epochs=2, validation_data=validation))
    batches = [e for e in events if e["kind"] == "batch"]
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert len(batches) == 8 and len(epochs) == 2 and events[4]["kind"] == "epoch"
    assert [e["size"] for e in batches[:4]] == [32, 32, 32, 4]
    assert set(batches[0]) == {"kind", "epoch", "epochs", "batch", "batches", "loss", "acc", "size"}
    assert (batches[3]["epoch"], batches[3]["batch"], batches[3]["batches"]) == (0, 3, 4)
    weighted = sum(e["loss"] * e["size"] for e in batches[:4]) / 100
    assert math.isclose(epochs[0]["loss"], weighted)
    assert math.isclose(epochs[0]["acc"], sum(e["acc"] * e["size"] for e in batches[:4]) / 100)
    val_loss, val_acc = model.evaluate(x[:20], y[:20])
    assert (epochs[1]["val_loss"], epochs[1]["val_acc"]) == (val_loss, val_acc)
    history = build_model("tutorial").fit(x, y, batch_size=32, epochs=2,
                                          validation_data=(x[:20], y[:20]))
    assert history["loss"] == [e["loss"] for e in epochs]
    assert history["val_acc"] == [e["val_acc"] for e in epochs]
    assert history["batches"] == [{"loss": e["loss"], "acc": e["acc"]} for e in batches]


def test_stopping_between_batches_keeps_consistent_weights():
    x, y = tiny_set(128)
    model = build_model("tutorial")
    before = weights_of(model)
    steps = model.train_steps(x, y, batch_size=32, epochs=5)
    next(steps)
    next(steps)  # the caller just stops iterating here
    after = weights_of(model)
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    assert all(np.isfinite(v).all() for v in after.values())
    assert model.optimizer.step_count == 2
    assert model.predict(x[:5]).shape == (5, 10)


# Another batch size means other GEMM shapes, and BLAS picks its kernel and blocking by shape:
# each output is then a float32 sum of the same K terms (K <= 256 in the tutorial model) added
# in another order, which may differ by a few units in the last place at every one of the
# model's three products. Measured: up to 7.5e-8 on probabilities in [0, 1] (OpenBLAS 0.3.31,
# Zen kernels). 1e-6 leaves room for that, and a real bug (a batch misplaced or computed from
# the wrong rows) moves probabilities by orders of magnitude more.
REORDERED_SUM_ATOL = 1e-6


def test_inputs_may_be_uint8_flat_or_float_images_and_labels_int_or_one_hot():
    x, y = tiny_set(40)
    model = build_model("tutorial")
    p1 = model.predict(x)
    p2 = model.predict(x.reshape(-1, 28, 28, 1).astype(np.float32) / np.float32(255))
    # Exact: the uint8 input goes through this same division, then the same shapes and path.
    np.testing.assert_array_equal(p1, p2)
    assert p1.dtype == np.float32 and np.allclose(p1.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, batch_size=7), p1, rtol=0,
                               atol=REORDERED_SUM_ATOL)
    # Batches of 9 vs one of 40: the same reordering moves each float32 loss (about 2.3) by a
    # few units in the last place (measured on the mean: up to 1.2e-8). Accuracy could change
    # only if two logits tied to within that, which 40 random images do not come near.
    np.testing.assert_allclose(model.evaluate(x, y), model.evaluate(x, np.eye(10)[y], batch_size=9),
                               rtol=1e-6, atol=REORDERED_SUM_ATOL)
    # Exact: one-hot labels become the same int labels, then the same batches and path.
    a = build_model("tutorial").fit(x, y, batch_size=16, epochs=1)
    b = build_model("tutorial").fit(x, np.eye(10, dtype=np.float32)[y], batch_size=16, epochs=1)
    assert a == b


@pytest.mark.parametrize("name", ["tutorial", "strong"])
def test_same_seed_same_weights_after_one_epoch(name):
    x, y = tiny_set(200)
    runs = []
    for _ in range(2):
        model = build_model(name, seed=3)
        model.fit(x, y, batch_size=64, epochs=1, seed=5)
        runs.append(weights_of(model))
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    other = build_model(name, seed=4)
    other.fit(x, y, batch_size=64, epochs=1, seed=5)
    assert not np.array_equal(weights_of(other)["conv2d_1/kernel"], runs[0]["conv2d_1/kernel"])


@pytest.mark.parametrize("optimizer", [Adam(1e30), SGD(1e30)])
def test_divergence_restores_weights_and_raises(optimizer):
    x, y = tiny_set(64)
    model = build_model("tutorial")
    model.compile(optimizer)
    snapshot = (weights_of(model), optimizer.state())
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+.*lower learning rate") as info:
        for _ in model.train_steps(x, y, batch_size=16, epochs=3):
            snapshot = (weights_of(model), optimizer.state())
    assert isinstance(info.value, ValueError)
    for key, value in model.parameters().items():
        assert np.isfinite(value).all()
        np.testing.assert_array_equal(value, snapshot[0][key])
    assert optimizer.step_count == snapshot[1]["step"]
    for key, slot in optimizer.slots.items():
        np.testing.assert_array_equal(slot, snapshot[1]["slots"][key])


def test_feature_maps_and_kernels():
    model = build_model("tutorial")
    image = np.random.default_rng(0).integers(0, 256, 784, dtype=np.uint8)
    maps = model.feature_maps(image)
    assert [m["name"] for m in maps][:2] == ["conv2d_1", "max_pooling2d_1"]
    assert maps[0]["output"].shape == (24, 24, 8)
    np.testing.assert_allclose(maps[-1]["output"], model.predict(image[None])[0], rtol=1e-6)
    assert model.first_conv_kernels().shape == (5, 5, 1, 8)


def test_adam_matches_the_tfjs_update_rule():
    param = np.array([1.0, -2.0], dtype=np.float32)
    adam = Adam(0.1)
    grads = [np.array([0.5, -1.0], np.float32), np.array([0.2, 0.3], np.float32)]
    m = v = np.zeros(2)
    expected = param.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        adam.step({"w": param}, {"w": g})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-7)
    np.testing.assert_allclose(param, expected, rtol=1e-6)
    assert param.dtype == np.float32


def test_sgd_momentum_update():
    param = np.array([1.0], dtype=np.float32)
    sgd = SGD(0.1, momentum=0.9)
    for _ in range(2):
        sgd.step({"w": param}, {"w": np.array([1.0], np.float32)})
    np.testing.assert_allclose(param, [1.0 - 0.1 * 1.0 - 0.1 * 1.9], rtol=1e-6)


def test_strong_model_one_epoch_on_10000(mnist):
    from digitlab.data.mnist import MnistData
    from digitlab.nn.optim import make_optimizer
    from digitlab.nn.zoo import RECOMMENDED_TRAINING

    data = MnistData(mnist.images, mnist.labels, train_size=10000)
    config = RECOMMENDED_TRAINING["strong"]
    model = build_model("strong")
    model.compile(make_optimizer(config["optimizer"], config["learningRate"]))
    model.fit(*data.train_set(), batch_size=config["batchSize"], epochs=1,
              learning_rate_decay=config["learningRateDecay"])
    loss, acc = model.evaluate(*data.test_set(2000))
    assert acc >= 0.95, f"strong model reached only {acc:.4f} on the first 2000 test images"


def test_learning_rate_decay_applies_after_each_epoch():
    x, y = tiny_set(32)
    model = build_model("tutorial")
    model.compile(Adam(0.004))
    model.fit(x, y, batch_size=16, epochs=2, learning_rate_decay=0.5)
    assert model.optimizer.learning_rate == 0.001


def test_a_callback_returning_true_stops_fit_after_that_batch():
    x, y = tiny_set(96)
    model = build_model("tutorial")
    seen = []
    history = model.fit(x, y, batch_size=16, epochs=3,
                        callbacks=[lambda e: seen.append(e) or len(seen) == 4])
    assert len(seen) == 4 and len(history["batches"]) == 4 and history["loss"] == []
    assert model.optimizer.step_count == 4
