"""Sequential: forward/backward through layers, step-wise training, evaluate, predict.

The one training loop is `Sequential.train_steps`; a `TrainingRun` drives it and is the one
place a run's history is built and its checkpoints kept. `fit`, the CLI and the page's
controller all go through a TrainingRun.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from digitlab.encoding import NUM_CLASSES, normalize, one_hot
from digitlab.errors import DigitLabError
from digitlab.nn.layers import Conv2D, Layer
from digitlab.nn.losses import cross_entropy_per_example, softmax, softmax_cross_entropy
from digitlab.nn.optim import Adam, Optimizer


class BatchStep(Protocol):
    """What trains a batch instead of the model alone: nn/parallel.py's DataParallel."""

    def train_batch(self, pixels: np.ndarray, labels: np.ndarray,
                    where: tuple[int, int] | None = None,
                    upcoming: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[float, float]: ...

_NAME_PREFIX = {
    "conv2d": "conv2d",
    "maxPooling2d": "max_pooling2d",
    "flatten": "flatten",
    "dense": "dense",
    "dropout": "dropout",
    "relu": "re_lu",
}


class TrainingDiverged(DigitLabError, ValueError):
    """A batch produced a NaN/inf loss or weights; the model was restored to before that batch.

    DIVERGED, with the `epoch` and `batch` (from 1) and the `learning_rate` it happened at."""

    code = "DIVERGED"


def layer_names(layers: list[Layer]) -> list[str]:
    """Each layer's name: its own, or tfjs's default "<prefix>_<n>", counted per prefix."""
    counters: dict[str, int] = {}
    names = []
    for layer in layers:
        if layer.name:
            names.append(layer.name)
            continue
        prefix = _NAME_PREFIX.get(layer.kind, layer.kind)
        counters[prefix] = counters.get(prefix, 0) + 1
        names.append(f"{prefix}_{counters[prefix]}")
    return names


def summarize(layers: list[Layer], input_shape: tuple[int, ...]) -> dict:
    """{"layers": [{"name", "type", "output_shape", "params"}], "total_params", "flops"}, from
    the layers' shapes alone: nothing is built or initialised, so the builder can ask on every
    edit. `Sequential.summary` is this same function over its built layers."""
    rows, shape, flops = [], tuple(input_shape), 0
    for layer, name in zip(layers, layer_names(layers), strict=True):
        params = layer.count_params(shape)
        flops += layer.flops(shape)
        shape = layer.output_shape(shape)
        rows.append({"name": name, "type": layer.type_name, "output_shape": [None, *shape],
                     "params": params})
    return {"layers": rows, "total_params": sum(row["params"] for row in rows), "flops": flops}


class Checkpoint:
    """A copy of a model's weights and optimiser state to go back to; `epoch` is how many
    epochs of the run it had completed (0: the run's start), None when taken mid-epoch.
    A TrainingRun also notes where in the run it was taken (`position`)."""

    def __init__(self, model: Sequential, epoch: int | None = None) -> None:
        self.epoch = epoch
        self.params = {key: value.copy() for key, value in model.parameters().items()}
        self.optimizer = model.optimizer.state() if model.optimizer else None
        self.position: RunPosition | None = None

    def restore(self, model: Sequential) -> None:
        model.set_parameters(self.params)
        if self.optimizer is not None and model.optimizer is not None:
            model.optimizer.load_state(self.optimizer)


class Sequential:
    """A stack of layers on [N,28,28,1] images; the last layer's output is treated as logits."""

    def __init__(
        self,
        layers: list[Layer],
        input_shape: tuple[int, ...] = (28, 28, 1),
        seed: int = 0,
        name: str = "custom",
    ) -> None:
        self.layers = layers
        self.input_shape = tuple(input_shape)
        self.name = name
        self.optimizer: Optimizer | None = None
        # Set while a run trains each batch on several replicas (nn/parallel.py).
        self.parallel: BatchStep | None = None
        rng = np.random.default_rng(seed)
        shape = self.input_shape
        self.output_shapes: list[tuple[int, ...]] = []
        for layer, layer_name in zip(layers, layer_names(layers), strict=True):
            layer.name = layer_name
            shape = layer.build(shape, rng)
            self.output_shapes.append(shape)

    # ---- description -------------------------------------------------------------------
    def spec(self) -> list[dict]:
        """The layer list (the model-spec JSON) that rebuilds this architecture."""
        return [layer.config() for layer in self.layers]

    def spec_json(self) -> str:
        return json.dumps(self.spec())

    def param_count(self) -> int:
        return sum(layer.param_count() for layer in self.layers)

    def flops_per_image(self) -> int:
        shapes = [self.input_shape, *self.output_shapes[:-1]]
        return sum(layer.flops(shape) for layer, shape in zip(self.layers, shapes, strict=True))

    def summary(self) -> dict:
        """{"layers": [{"name", "type", "output_shape", "params"}], "total_params", "flops"}"""
        return summarize(self.layers, self.input_shape)

    def summary_text(self) -> str:
        """A tfjs-style summary table."""
        rows = [("Layer (type)", "Output shape", "Param #")]
        for row in self.summary()["layers"]:
            shape = "[" + ",".join("null" if s is None else str(s) for s in row["output_shape"])
            rows.append((f"{row['name']} ({row['type']})", shape + "]", str(row["params"])))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        rule = "_" * sum(widths)
        lines = [rule, "".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True))]
        lines.append("=" * sum(widths))
        lines += ["".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows[1:]]
        lines += ["=" * sum(widths), f"Total params: {self.param_count()}", rule]
        return "\n".join(lines)

    # ---- parameters --------------------------------------------------------------------
    def parameters(self) -> dict[str, np.ndarray]:
        """The live parameter arrays by "<layer name>/<param>" (updated in place by optimisers)."""
        return {f"{l.name}/{k}": v for l in self.layers for k, v in l.params.items()}  # noqa: E741

    def gradients(self) -> dict[str, np.ndarray]:
        return {f"{l.name}/{k}": v for l in self.layers for k, v in l.grads.items()}  # noqa: E741

    def set_parameters(self, values: dict[str, np.ndarray]) -> None:
        """Copy `values` (same keys and shapes as parameters()) into the live arrays."""
        for key, param in self.parameters().items():
            param[...] = values[key]

    def first_conv_kernels(self) -> np.ndarray | None:
        """The first Conv2D's kernel [kh, kw, in, filters], or None without a conv layer."""
        conv = next((layer for layer in self.layers if isinstance(layer, Conv2D)), None)
        return None if conv is None else conv.params["kernel"]

    # ---- passes ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Float images [N,28,28,1] -> logits [N,10]."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        for layer in reversed(self.layers):
            dlogits = layer.backward(dlogits)
            if dlogits is None:  # a first conv layer that skips its input gradient
                break

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Images (uint8 0..255 or float 0..1; [N,784] or [N,28,28,1]) -> probabilities [N,10]."""
        n = len(x)
        out = np.empty((n, NUM_CLASSES), dtype=np.float32)
        for start in range(0, n, batch_size):
            logits = self.forward(self._images(x[start : start + batch_size]))
            out[start : start + batch_size] = softmax(logits)
        return out

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> tuple[float, float]:
        """Mean cross-entropy and accuracy over (x, y); y int labels [N] or one-hot [N,10]."""
        labels = _labels(y)
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            logits = self.forward(self._images(x[start : start + batch_size]))
            batch_labels = labels[start : start + batch_size]
            loss_sum += float(cross_entropy_per_example(logits, batch_labels).sum())
            correct += int((logits.argmax(axis=1) == batch_labels).sum())
        n = max(1, len(x))
        return loss_sum / n, correct / n

    def feature_maps(self, image: np.ndarray) -> list[dict]:
        """Each layer's output for one image: [{"name", "type", "output"}], batch axis dropped.

        The last entry holds probabilities (softmax applied), not logits.
        """
        x = self._images(np.asarray(image).reshape(1, -1))
        maps = []
        for layer in self.layers:
            x = layer.forward(x)
            maps.append({"name": layer.name, "type": layer.type_name, "output": x[0]})
        maps[-1]["output"] = softmax(x)[0]
        return maps

    def _images(self, x: np.ndarray) -> np.ndarray:
        return normalize(x, self.input_shape)

    # ---- training ----------------------------------------------------------------------
    def compile(self, optimizer: Optimizer) -> None:
        """Use `optimizer` for training (its state persists across train_steps calls)."""
        self.optimizer = optimizer

    def train_batch(
        self, x: np.ndarray, y_onehot: np.ndarray, where: tuple[int, int] | None = None
    ) -> tuple[float, float]:
        """One optimiser step on a normalised batch; returns the batch's (loss, accuracy).

        On a non-finite loss or weights, restores weights and optimiser state and raises
        TrainingDiverged, naming `where` (epoch, batch), when given.
        """
        loss, logits = self.backpropagate(x, y_onehot)
        self.apply_gradients(self.gradients(), loss, where)
        acc = float((logits.argmax(axis=1) == y_onehot.argmax(axis=1)).mean())
        return loss, acc

    def backpropagate(self, x: np.ndarray, y_onehot: np.ndarray,
                      batch_size: int | None = None) -> tuple[float, np.ndarray]:
        """The training forward pass, its mean loss and, when that is finite, every layer's
        gradients (left in `gradients()`); returns (loss, logits). `batch_size`: the whole
        batch's rows when `x` is one shard of it (see softmax_cross_entropy)."""
        # Overflow is detected by the caller and reported as TrainingDiverged, not as warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            logits = self.forward(x, training=True)
            loss, dlogits = softmax_cross_entropy(logits, y_onehot, batch_size)
            if math.isfinite(loss):
                self.backward(dlogits)
        return loss, logits

    def apply_gradients(self, grads: dict[str, np.ndarray], loss: float,
                        where: tuple[int, int] | None = None) -> None:
        """The optimiser's step from `grads` (by parameter key) for a batch of this `loss`. On
        a non-finite loss or weights, restores weights and optimiser state and raises
        TrainingDiverged, naming `where` (epoch, batch), when given."""
        optimizer = self.optimizer if self.optimizer is not None else Adam()
        self.optimizer = optimizer
        before = Checkpoint(self)
        with np.errstate(over="ignore", invalid="ignore"):
            finite = math.isfinite(loss)
            if finite:
                optimizer.step(self.parameters(), grads)
                finite = all(np.isfinite(p).all() for p in self.parameters().values())
        if not finite:
            before.restore(self)
            epoch, batch = where or (None, None)
            raise TrainingDiverged("diverged", epoch=epoch, batch=batch,
                                   learning_rate=float(optimizer.learning_rate))

    def train_steps(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 512,
        epochs: int = 10,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        seed: int = 0,
        shuffle: bool = True,
        learning_rate_decay: float = 1.0,
        initial_epoch: int = 0,
        initial_batch: int = 0,
        epoch_sums: tuple[float, float] = (0.0, 0.0),
    ) -> Iterator[dict]:
        """Train step by step, yielding after every batch and at every epoch end.

        Batch event: {"kind": "batch", "epoch", "epochs", "batch", "batches", "loss", "acc",
        "size"}; epoch event: {"kind": "epoch", "epoch", "epochs", "loss", "acc", "val_loss",
        "val_acc"} (val_* None without validation_data). epoch and batch count from 0. Weights
        are consistent at every yield, so a caller may simply stop iterating. After each epoch
        the optimiser's learning rate is multiplied by `learning_rate_decay`.

        `initial_epoch` (as in Keras's fit) and `initial_batch` start later in a run, to resume
        one that stopped there: the seeded order of every earlier epoch is still drawn (and
        dropped), so the batches are the ones an uninterrupted run would see. `epoch_sums` is
        (loss, accuracy) summed over the images of the batches already done in
        `initial_epoch`, which that epoch's averages include.
        """
        n = len(x)
        if n == 0 or batch_size < 1:
            raise ValueError("training needs at least one image and batchSize >= 1")
        labels = _labels(y)
        batches = math.ceil(n / batch_size)
        rng = np.random.default_rng(seed)
        for epoch in range(epochs):
            order = rng.permutation(n) if shuffle else np.arange(n)
            if epoch < initial_epoch:
                continue
            first = initial_batch if epoch == initial_epoch else 0
            loss_sum, acc_sum = epoch_sums if epoch == initial_epoch else (0.0, 0.0)
            upcoming = None  # the batch after this one, already cut (several workers)
            for batch in range(first, batches):
                index = order[batch * batch_size : (batch + 1) * batch_size]
                if self.parallel is not None:  # the batch's shards over several workers
                    current = upcoming or (x[index], labels[index])
                    # The epoch's next batch too: the others can start it while the lead
                    # finishes this one.
                    following = order[(batch + 1) * batch_size : (batch + 2) * batch_size]
                    upcoming = (x[following], labels[following]) if len(following) else None
                    loss, acc = self.parallel.train_batch(*current, (epoch + 1, batch + 1),
                                                          upcoming)
                else:
                    xb = self._images(x[index])
                    yb = one_hot(labels[index], dtype=xb.dtype)
                    loss, acc = self.train_batch(xb, yb, (epoch + 1, batch + 1))
                loss_sum += loss * len(index)
                acc_sum += acc * len(index)
                yield {"kind": "batch", "epoch": epoch, "epochs": epochs, "batch": batch,
                       "batches": batches, "loss": loss, "acc": acc,
                       "size": len(index)}  # fmt: skip
            val_loss = val_acc = None
            if validation_data is not None and len(validation_data[0]):
                val_loss, val_acc = self.evaluate(*validation_data)
            if self.optimizer is not None:
                self.optimizer.learning_rate *= learning_rate_decay
            yield {"kind": "epoch", "epoch": epoch, "epochs": epochs, "loss": loss_sum / n,
                   "acc": acc_sum / n, "val_loss": val_loss, "val_acc": val_acc}  # fmt: skip

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 512,
        epochs: int = 10,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        shuffle: bool = True,
        callbacks: list[Callable[[dict], object]] | None = None,
        seed: int = 0,
        learning_rate_decay: float = 1.0,
    ) -> dict:
        """Synchronous training; each callback gets every event, and one returning True stops
        training after that event. Returns the history {"loss", "acc", "val_loss", "val_acc"}
        per epoch plus "batches": [{"loss", "acc"}]."""
        run = TrainingRun(self, x, y, batch_size, epochs, validation_data, seed, shuffle,
                          learning_rate_decay)
        with run:
            for event in run:
                stops = [callback(event) is True for callback in callbacks or ()]
                if any(stops):
                    break
        return run.history


@dataclass(frozen=True)
class RunPosition:
    """Where a run stands: `epoch` epochs completed, `batch` batches done in the next one,
    `sums` (loss, accuracy) summed over those batches' images, and how many entries the
    history's epoch and batch lists hold there."""

    epoch: int = 0
    batch: int = 0
    sums: tuple[float, float] = (0.0, 0.0)
    epoch_entries: int = 0
    batch_entries: int = 0


class TrainingRun:
    """One run of `Sequential.train_steps`: iterate it for the same events. It builds the run's
    history ({"loss", "acc", "val_loss", "val_acc"} per epoch, "batches": [{"loss", "acc"}])
    and keeps `last_good`, the checkpoint at the run's start or at its last epoch whose loss was
    finite: where the page goes back to when training diverges (the weights of the batch
    before a divergence can already be too large to predict with).

    A run that was stopped goes on with `resumed()`: a new TrainingRun that starts where this
    one stands (`position`) and extends the same history, so epochs and batches number on.
    """

    def __init__(self, model: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 512,
                 epochs: int = 10, validation_data: tuple[np.ndarray, np.ndarray] | None = None,
                 seed: int = 0, shuffle: bool = True, learning_rate_decay: float = 1.0,
                 keep_checkpoints: bool = False, *, start: RunPosition | None = None,
                 history: dict | None = None) -> None:
        self.model = model
        self.history: dict = history if history is not None else {
            "loss": [], "acc": [], "val_loss": [], "val_acc": [], "batches": []}
        self.settings = {"x": x, "y": y, "batch_size": batch_size,
                         "validation_data": validation_data, "seed": seed, "shuffle": shuffle,
                         "learning_rate_decay": learning_rate_decay,
                         "keep_checkpoints": keep_checkpoints}
        self.epochs = epochs
        self.batches = math.ceil(len(x) / batch_size) if batch_size >= 1 else 0
        start = start or RunPosition(batch_entries=len(self.history["batches"]),
                                     epoch_entries=len(self.history["loss"]))
        self.epoch, self.batch, self._sums = start.epoch, start.batch, list(start.sums)
        self.keep_checkpoints = keep_checkpoints
        self.last_good = None
        if keep_checkpoints:
            self.last_good = Checkpoint(model, epoch=start.epoch if start.batch == 0 else None)
            self.last_good.position = self.position
        self._steps = model.train_steps(x, y, batch_size, epochs, validation_data, seed,
                                        shuffle, learning_rate_decay, initial_epoch=start.epoch,
                                        initial_batch=start.batch, epoch_sums=start.sums)

    @property
    def position(self) -> RunPosition:
        return RunPosition(self.epoch, self.batch, (self._sums[0], self._sums[1]),
                           len(self.history["loss"]), len(self.history["batches"]))

    @property
    def finished(self) -> bool:
        """Every planned epoch is done."""
        return self.epoch >= self.epochs

    def resumed(self, epochs: int | None = None, **changes: object) -> TrainingRun:
        """The run going on from where it stands, to `epochs` in all (default: as planned).

        `changes` replace settings of the constructor (`x`, `y`, `batch_size`,
        `validation_data`, `seed`, `learning_rate_decay`, ...). The images, the batch size and
        the seed fix which batches an epoch holds, so they may change only between epochs.
        """
        settings = {**self.settings, **changes}
        if self.batch and any(
                not _same(settings[key], self.settings[key]) for key in ("x", "y", "batch_size",
                                                                          "seed", "shuffle")):
            raise ValueError("a run's images, batch size and seed can change only between "
                             "epochs")
        self.close()
        return TrainingRun(self.model, epochs=self.epochs if epochs is None else epochs,
                           start=self.position, history=self.history, **settings)

    def rewind(self) -> Checkpoint:
        """Go back to `last_good`: its weights, and the history and position it had then."""
        good = self.last_good
        good.restore(self.model)
        mark = good.position
        for key in ("loss", "acc", "val_loss", "val_acc"):
            del self.history[key][mark.epoch_entries:]
        del self.history["batches"][mark.batch_entries:]
        self.epoch, self.batch, self._sums = mark.epoch, mark.batch, list(mark.sums)
        return good

    def __iter__(self) -> Iterator[dict]:
        for event in self._steps:
            self._record(event)
            yield event

    def _record(self, event: dict) -> None:
        if event["kind"] == "batch":
            self.history["batches"].append({"loss": event["loss"], "acc": event["acc"]})
            self.batch = event["batch"] + 1
            self._sums[0] += event["loss"] * event["size"]
            self._sums[1] += event["acc"] * event["size"]
            return
        for key in ("loss", "acc", "val_loss", "val_acc"):
            self.history[key].append(event[key])
        self.epoch, self.batch, self._sums = event["epoch"] + 1, 0, [0.0, 0.0]
        if self.keep_checkpoints and math.isfinite(event["loss"]):
            self.last_good = Checkpoint(self.model, epoch=self.epoch)
            self.last_good.position = self.position

    def close(self) -> None:
        """End the run where it stands (the weights are consistent after every event)."""
        self._steps.close()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _same(a: object, b: object) -> bool:
    """Equal settings; arrays by identity or content (a new view of the same images is the
    same data)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and (
            a is b or (a.shape == b.shape and np.array_equal(a, b)))
    return a == b


def _labels(y: np.ndarray) -> np.ndarray:
    """Int labels [N] from int labels or one-hot [N,10]."""
    y = np.asarray(y)
    return (y.argmax(axis=1) if y.ndim == 2 else y).astype(np.intp)
