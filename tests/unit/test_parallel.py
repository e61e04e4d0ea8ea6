"""nn/parallel.py: shards, the fixed-order sum, shard gradients against the whole batch's,
Dropout masks and streams over replicas, and whole runs over LocalTransport replicas against
one worker (diverging and resuming included)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from digitlab.encoding import one_hot
from digitlab.nn.layers import Conv2D, Dense, Dropout, Flatten, ReLU
from digitlab.nn.losses import softmax_cross_entropy
from digitlab.nn.optim import make_optimizer
from digitlab.nn.parallel import (
    DataParallel,
    LocalTransport,
    ParameterLayout,
    Replica,
    reduce_in_order,
    shard_bounds,
)
from digitlab.nn.sequential import Checkpoint, Sequential, TrainingDiverged, TrainingRun
from digitlab.nn.zoo import build_model

EPS32 = float(np.finfo(np.float32).eps)

# A small conv model with every layer type a spec can hold: relu conv, pooling, flatten, relu
# dense, dropout (after a 4-D and a 2-D output) and the softmax output.
MIXED_SPEC = [
    {"type": "conv2d", "filters": 3, "kernelSize": 3, "strides": 2, "padding": "same",
     "activation": "relu"},
    {"type": "dropout", "rate": 0.3},
    {"type": "maxPooling2d", "poolSize": 3, "strides": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 16, "activation": "relu"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"},
]  # fmt: skip

# What the training tests run: cheap (4 filters, stride 2), with a Dropout layer in it.
TRAIN_SPEC = [
    {"type": "conv2d", "filters": 4, "kernelSize": 5, "strides": 2, "activation": "relu"},
    {"type": "maxPooling2d", "poolSize": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 16, "activation": "relu"},
    {"type": "dropout", "rate": 0.25},
    {"type": "dense", "units": 10, "activation": "softmax"},
]  # fmt: skip


def relu_layer_model(seed: int) -> Sequential:
    """A model with a separate ReLU layer (not in the schema, but a layer of the package)."""
    return Sequential([Conv2D(2, 3, activation="linear"), ReLU(), Flatten(),
                       Dense(10, "softmax")], seed=seed)


# Each a seeded factory: calling one twice gives two identical models (weights and dropout
# streams), as the replicas of a run are.
MODELS: dict[str, Callable[[int], Sequential]] = {
    "tutorial": lambda seed: build_model("tutorial", seed=seed),
    "conv2d-valid-linear": lambda seed: build_model(
        [{"type": "conv2d", "filters": 2, "kernelSize": 5},
         {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}], seed),
    "mixed": lambda seed: build_model(MIXED_SPEC, seed=seed),
    "relu-layer": relu_layer_model,
}


def images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n)


def dropout_streams(model: Sequential) -> list[dict]:
    return [layer.rng.bit_generator.state for layer in model.layers
            if isinstance(layer, Dropout)]


def copy_params(model: Sequential) -> dict[str, np.ndarray]:
    return {key: value.copy() for key, value in model.parameters().items()}


# ---- shard_bounds ------------------------------------------------------------------------

@pytest.mark.parametrize(("rows", "shards", "sizes"), [
    (10, 1, [10]),
    (12, 3, [4, 4, 4]),
    (10, 3, [4, 3, 3]),
    (11, 4, [3, 3, 3, 2]),
    (513, 2, [257, 256]),
    (7, 7, [1] * 7),
    (2, 3, [1, 1, 0]),
    (3, 8, [1, 1, 1, 0, 0, 0, 0, 0]),
    (0, 2, [0, 0]),
])  # fmt: skip
def test_shard_bounds_are_contiguous_balanced_larger_first(rows, shards, sizes):
    bounds = shard_bounds(rows, shards)
    assert [stop - start for start, stop in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))  # no gap/overlap
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("shards", [0, -1])
def test_shard_bounds_refuses_fewer_than_one_shard(shards):
    with pytest.raises(ValueError, match="at least 1"):
        shard_bounds(10, shards)


# ---- reduce_in_order ---------------------------------------------------------------------

def test_reduce_in_order_is_the_left_to_right_float32_sum():
    rng = np.random.default_rng(0)
    # Magnitudes spread over 1e-4..1e4 so that a different order would round differently.
    gradients = [(rng.standard_normal(1000) * 10.0 ** rng.integers(-4, 5, 1000))
                 .astype(np.float32) for _ in range(5)]
    originals = [g.copy() for g in gradients]
    expected = gradients[0]
    for g in gradients[1:]:
        expected = expected + g  # float32 + float32, replica 0 first
    total = reduce_in_order(gradients)
    assert total.dtype == np.float32
    np.testing.assert_array_equal(total, expected)
    for g, original in zip(gradients, originals, strict=True):
        np.testing.assert_array_equal(g, original)  # the inputs are not written
    # These shapes of magnitudes do make the order visible: the fixed order is not a no-op.
    assert not np.array_equal(reduce_in_order(gradients[::-1]), total)


def test_reduce_in_order_order_matters_for_float32():
    one, half_ulp = np.float32(1.0), np.float32(2.0**-24)  # half an ulp of 1.0
    a, b, c = (np.array([v], np.float32) for v in (one, half_ulp, half_ulp))
    # (1 + u/2) + u/2: each addition is a tie rounded to even, 1.0 ; 1 + (u/2 + u/2) = 1 + u
    assert (a + b) + c != a + (b + c)
    assert reduce_in_order([a, b, c])[0] == np.float32(1.0)
    assert reduce_in_order([c, b, a])[0] == np.float32(1.0) + np.float32(2.0**-23)


def test_reduce_in_order_of_one_gradient_is_a_copy():
    gradient = np.arange(4, dtype=np.float32)
    total = reduce_in_order([gradient])
    total += 1
    np.testing.assert_array_equal(gradient, np.arange(4, dtype=np.float32))


def test_parameter_layout_round_trips_in_parameter_order():
    model = build_model(MIXED_SPEC, seed=0)
    layout = ParameterLayout(model)
    params = model.parameters()
    flat = layout.flatten(params)
    assert flat.dtype == np.float32 and flat.size == model.param_count()
    np.testing.assert_array_equal(flat, np.concatenate([p.ravel() for p in params.values()]))
    back = layout.unflatten(flat)
    assert list(back) == list(params)
    for key, value in back.items():
        np.testing.assert_array_equal(value, params[key])
        assert np.shares_memory(value, flat)  # views: the step reads the one buffer


# ---- shard gradients ---------------------------------------------------------------------

def whole_batch_gradient(model: Sequential, pixels: np.ndarray,
                         labels: np.ndarray) -> tuple[dict[str, np.ndarray], float, int]:
    """One worker's gradients, loss and correct count: the plain training path's arithmetic."""
    x = model._images(pixels)
    logits = model.forward(x, training=True)
    loss, dlogits = softmax_cross_entropy(logits, one_hot(labels, dtype=x.dtype))
    model.backward(dlogits)
    gradients = {key: value.copy() for key, value in model.gradients().items()}
    return gradients, loss, int((logits.argmax(axis=1) == labels).sum())


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("shards", [2, 3])
def test_shard_gradients_add_up_to_the_batch_gradient(name, shards):
    make = MODELS[name]
    rows = 12
    pixels, labels = images(rows, seed=1)
    whole, loss, correct = whole_batch_gradient(make(3), pixels, labels)

    # Each shard on its own replica (a fresh identical model: the same weights and streams).
    results = [Replica(make(3)).gradients(pixels[start:stop], labels[start:stop], start, rows)
               for start, stop in shard_bounds(rows, shards)]
    layout = ParameterLayout(make(3))
    summed = layout.unflatten(reduce_in_order([r.gradient for r in results]))

    # Only the grouping of float32 sums over rows (and positions) changes: within a shard the
    # GEMM sums its rows, then the shards are added. Regrouping a sum moves it by a few
    # roundings of its partial sums, which are bounded by the largest gradient entry times the
    # rows; allow 4 ulps of the array's largest |gradient| per row (seen: at most ~5 ulps in
    # all, at 12 rows; a shard lost or scaled by its own rows is off by ~1/N of the gradient).
    for key, expected in whole.items():
        scale = float(np.abs(expected).max())
        assert scale > 0, key  # a zero gradient would make the check empty
        np.testing.assert_allclose(summed[key], expected, rtol=0,
                                   atol=4 * EPS32 * rows * scale, err_msg=key)
    # The loss shares: float32 sums regrouped the same way, so the same tolerance, relative.
    assert sum(r.loss for r in results) == pytest.approx(loss, rel=4 * EPS32 * rows, abs=0)
    assert sum(r.correct for r in results) == correct


def test_a_shard_gradient_is_scaled_by_the_batch_rows():
    """One shard of a batch is that fraction of the whole: d loss / d logits over the batch's
    rows, not its own (were it the shard's mean, it would be `rows / shard rows` times more)."""
    pixels, labels = images(8, seed=2)
    full = Replica(build_model("tutorial", seed=0)).gradients(pixels[:4], labels[:4], 0, 4)
    part = Replica(build_model("tutorial", seed=0)).gradients(pixels[:4], labels[:4], 0, 8)
    # The same arithmetic, divided by 8 instead of 4: a power of two, so exactly half.
    np.testing.assert_array_equal(part.gradient, full.gradient / 2)
    assert part.loss == pytest.approx(full.loss / 2, rel=1e-15)


def test_an_empty_shard_adds_nothing():
    model = build_model(MIXED_SPEC, seed=0)
    result = Replica(model).gradients(np.zeros((0, 784), np.uint8), np.zeros(0, int), 2, 2)
    assert result.loss == 0.0 and result.correct == 0
    np.testing.assert_array_equal(result.gradient, np.zeros(model.param_count(), np.float32))


# ---- Dropout over replicas ---------------------------------------------------------------

@pytest.mark.parametrize(("rows", "shards"), [(12, 2), (7, 3), (2, 3)])
def test_shard_dropout_masks_are_the_one_worker_masks_rows(rows, shards):
    pixels, labels = images(rows, seed=3)
    reference = build_model(MIXED_SPEC, seed=5)
    whole_batch_gradient(reference, pixels, labels)
    dropouts = [i for i, layer in enumerate(reference.layers) if isinstance(layer, Dropout)]
    masks = [reference.layers[i]._mask for i in dropouts]
    assert all(mask.shape[0] == rows and 0 < (mask == 0).mean() < 1 for mask in masks)

    for start, stop in shard_bounds(rows, shards):
        replica = Replica(build_model(MIXED_SPEC, seed=5))
        replica.gradients(pixels[start:stop], labels[start:stop], start, rows)
        model = replica.model
        if stop > start:
            for i, mask in zip(dropouts, masks, strict=True):
                np.testing.assert_array_equal(model.layers[i]._mask, mask[start:stop])
        # Every replica, an empty shard's too, drew the whole batch's masks: in step.
        assert dropout_streams(model) == dropout_streams(reference)
        assert all(model.layers[i].rows is None for i in dropouts)  # reset after the shard


@pytest.mark.parametrize(("rows", "workers"), [(12, 2), (7, 3), (2, 3)])
def test_dataparallel_keeps_every_replicas_dropout_stream_in_step(rows, workers):
    pixels, labels = images(rows, seed=4)
    reference = build_model(MIXED_SPEC, seed=6)
    reference.compile(make_optimizer("adam", 0.001))
    x = reference._images(pixels)
    for _ in range(2):
        reference.train_batch(x, one_hot(labels, dtype=x.dtype))

    model = build_model(MIXED_SPEC, seed=6)
    model.compile(make_optimizer("adam", 0.001))
    parallel = DataParallel(model, LocalTransport(workers - 1))
    for _ in range(2):
        parallel.train_batch(pixels, labels)
    parallel.finish()
    expected = dropout_streams(reference)
    assert dropout_streams(model) == expected
    for replica in parallel.transport.replicas:
        assert dropout_streams(replica.model) == expected
        assert replica.checksum() == parallel.lead.checksum()


# ---- training runs -----------------------------------------------------------------------

def train(workers: int | None, optimizer: str, epochs: int = 3,
          at_once: bool = False) -> tuple[Sequential, dict]:
    """A seeded run on 60 random images, batches of 13 (the last one 8): on one worker without
    DataParallel (None), or over `workers` (the lead and workers - 1 LocalTransport replicas).
    The learning rate halves every epoch: the replicas must take the lead's, not their own."""
    pixels, labels = images(60, seed=7)
    model = build_model(TRAIN_SPEC, seed=1)
    model.compile(make_optimizer(optimizer, {"adam": 0.01, "sgd": 0.05}[optimizer]))
    if workers is not None:
        model.parallel = DataParallel(model, LocalTransport(workers - 1, at_once))
    with TrainingRun(model, pixels, labels, batch_size=13, epochs=epochs, seed=2,
                     learning_rate_decay=0.5) as run:
        for _ in run:
            pass
    if workers is not None:
        model.parallel.finish()
    return model, run.history


def batch_losses(history: dict) -> np.ndarray:
    return np.array([batch["loss"] for batch in history["batches"]])


def assert_in_step(model: Sequential) -> None:
    """After finish, every replica holds the lead's weights and optimiser slots, bit for bit."""
    lead = model.parallel.lead.checksum()
    assert [r.checksum() for r in model.parallel.transport.replicas] == \
        [lead] * model.parallel.transport.size


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_one_worker_through_dataparallel_is_the_plain_loop_bit_for_bit(optimizer):
    plain, plain_history = train(None, optimizer)
    alone, alone_history = train(1, optimizer)
    assert plain_history == alone_history
    for key, value in plain.parameters().items():
        np.testing.assert_array_equal(alone.parameters()[key], value, err_msg=key)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("workers", [2, 3])
def test_several_workers_train_as_one(optimizer, workers):
    one, one_history = train(None, optimizer)
    start = copy_params(build_model(TRAIN_SPEC, seed=1))
    many, many_history = train(workers, optimizer)
    assert len(many_history["batches"]) == len(one_history["batches"]) == 3 * 5
    # Each step's gradient differs from one worker's by a few ulps (see the shard test), and
    # 15 small steps at these rates do not amplify that chaotically: the losses agree to ~1e-7
    # and the weights to ~1e-6 of each array's largest (seen). Allow 1e-5 of the loss and
    # 2e-5 of the array's largest weight (15 steps x ~10 ulps); a wrong gradient scale or a
    # dropped shard moves the weights by a sizeable part of the distance they travelled.
    np.testing.assert_allclose(batch_losses(many_history), batch_losses(one_history),
                               rtol=1e-5, atol=0)
    for key, expected in one.parameters().items():
        scale = float(np.abs(expected).max())
        travelled = float(np.abs(expected - start[key]).max())
        assert travelled > 100 * 2e-5 * scale, key  # training moved it beyond the tolerance
        np.testing.assert_allclose(many.parameters()[key], expected, rtol=0,
                                   atol=2e-5 * scale, err_msg=key)
    assert_in_step(many)


@pytest.mark.parametrize("workers", [2, 3])
def test_when_the_replicas_take_what_they_are_sent_changes_nothing(workers):
    """Each step is sent before the lead takes it and the next batch's shards after it: taken
    at once or only when the lead waits for them, the same run, bit for bit."""
    deferred, deferred_history = train(workers, "adam")
    at_once, at_once_history = train(workers, "adam", at_once=True)
    assert at_once_history == deferred_history
    assert at_once.parallel.lead.checksum() == deferred.parallel.lead.checksum()
    assert_in_step(at_once)


def test_several_workers_rerun_is_bit_identical():
    first, first_history = train(2, "adam")
    second, second_history = train(2, "adam")
    assert first_history == second_history
    assert first.parallel.lead.checksum() == second.parallel.lead.checksum()
    assert_in_step(first)
    assert_in_step(second)


@pytest.mark.parametrize("at_once", [False, True], ids=["deferred", "at-once"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_divergence_restores_the_lead_to_the_step_before(optimizer, at_once):
    """The replicas get each step before the lead takes it; one that overflows the weights is
    undone on the lead, and the replicas, which may have taken it already, are synced back."""
    pixels, labels = images(60, seed=8)
    model = build_model(TRAIN_SPEC, seed=1)
    model.compile(make_optimizer(optimizer, 0.01))
    model.parallel = DataParallel(model, LocalTransport(2, at_once=at_once))
    run = TrainingRun(model, pixels, labels, batch_size=13, epochs=2, seed=3)
    events = iter(run)
    next(events), next(events)  # two sane batches
    before = Checkpoint(model)
    # float32 overflows at once: 1e300 times any gradient, as a float32 step, is inf.
    model.optimizer.learning_rate = 1e300
    with pytest.raises(TrainingDiverged) as info:
        next(events)
    error = info.value
    assert (error.params["epoch"], error.params["batch"]) == (1, 3)
    assert error.params["learning_rate"] == 1e300
    for key, value in model.parameters().items():
        assert np.isfinite(value).all(), key
        np.testing.assert_array_equal(value, before.params[key], err_msg=key)
    assert model.optimizer.step_count == before.optimizer["step"] == 2
    assert model.optimizer.slots.keys() == before.optimizer["slots"].keys()
    for key, slot in model.optimizer.slots.items():
        np.testing.assert_array_equal(slot, before.optimizer["slots"][key], err_msg=key)
    # No replica keeps the failed step: they hold the restored weights and streams too.
    assert model.parallel.transport.queue == []
    model.parallel.finish()
    assert_in_step(model)
    for replica in model.parallel.transport.replicas:
        assert dropout_streams(replica.model) == dropout_streams(model)


@pytest.mark.parametrize("fresh_replicas", [False, True], ids=["same", "fresh"])
def test_a_resumed_run_is_the_uninterrupted_run(fresh_replicas):
    """Stopped mid-epoch and resumed (with the same DataParallel, or new replicas synced from
    the lead, as after a page reload of its workers): the same path, bit for bit."""
    whole, whole_history = train(2, "adam", epochs=2)

    pixels, labels = images(60, seed=7)
    model = build_model(TRAIN_SPEC, seed=1)
    model.compile(make_optimizer("adam", 0.01))
    model.parallel = DataParallel(model, LocalTransport(1))
    run = TrainingRun(model, pixels, labels, batch_size=13, epochs=2, seed=2,
                      learning_rate_decay=0.5)
    events = iter(run)
    for _ in range(5 + 1 + 2):  # epoch 0 (5 batches and its end), 2 batches of epoch 1
        next(events)
    assert (run.epoch, run.batch) == (1, 2)
    if fresh_replicas:
        model.parallel = DataParallel(model, LocalTransport(1))
    with run.resumed() as rest:
        for _ in rest:
            pass
    model.parallel.finish()
    assert rest.history == whole_history
    for key, value in whole.parameters().items():
        np.testing.assert_array_equal(model.parameters()[key], value, err_msg=key)
    assert model.parallel.lead.checksum() == whole.parallel.lead.checksum()
    assert_in_step(model)
