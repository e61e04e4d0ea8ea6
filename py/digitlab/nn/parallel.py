"""Synchronous data parallelism: each batch split over several replicas of one model.

Every replica holds the same weights and optimiser state. A batch of the seeded order is cut
into contiguous shards, one per replica (`shard_bounds`, replica 0 first). Each replica computes
its shard's gradients scaled as a part of the whole batch: the loss is the batch's mean, so a
shard's d loss / d logits is divided by the batch's rows, not the shard's, and the shards'
gradients add up to the batch's. They are summed in a fixed order, replica 0, 1, ...
(`reduce_in_order`), and every replica applies that one sum with the same optimiser step, so
the replicas stay identical, bit for bit, and the same seed and worker count give the same
weights run after run. Dropout draws its mask for the whole batch on every replica and keeps
the shard's rows (`Dropout.rows`), so the masks are those of one worker. The layers have no
batch statistics (there is no BatchNorm), so nothing else depends on how a batch is cut.

Against one worker only the order of the float32 sums changes: within a shard the GEMM kernels
sum its rows, and the shards are then added. The results agree to rounding, not bit for bit.

The lead replica drives (`DataParallel`, the model's `parallel` during a run); the others are
reached through a `Transport`, the one interface a page's other workers are to be driven by;
`LocalTransport` holds replicas in this process (CPython, the tests).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from digitlab import backend
from digitlab.encoding import one_hot
from digitlab.nn import weights
from digitlab.nn.layers import Dropout
from digitlab.nn.sequential import Sequential, TrainingDiverged


def shard_bounds(rows: int, shards: int) -> list[tuple[int, int]]:
    """[start, stop) of `shards` contiguous shards of `rows` rows, in order. Sizes differ by at
    most one, the larger first; with fewer rows than shards the last ones are empty."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    base, extra = divmod(rows, shards)
    bounds, start = [], 0
    for shard in range(shards):
        stop = start + base + (shard < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


def reduce_in_order(gradients: list[np.ndarray]) -> np.ndarray:
    """The sum of the replicas' flat gradients, replica 0 first, then 1, 2, ...: float32
    addition is not associative, so the order is fixed for reproducible weights."""
    total = gradients[0].copy()
    for gradient in gradients[1:]:
        total += gradient
    return total


class ParameterLayout:
    """A model's gradients as one flat float32 vector (one message, one buffer), in the order of
    `Sequential.parameters()`, and back."""

    def __init__(self, model: Sequential) -> None:
        self.shapes = {key: value.shape for key, value in model.parameters().items()}
        self.size = sum(math.prod(shape) for shape in self.shapes.values())

    def flatten(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        flat = np.empty(self.size, dtype=np.float32)
        at = 0
        for key, shape in self.shapes.items():
            n = math.prod(shape)
            flat[at : at + n] = arrays[key].reshape(-1)
            at += n
        return flat

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Views into `flat`, by parameter key."""
        arrays, at = {}, 0
        for key, shape in self.shapes.items():
            n = math.prod(shape)
            arrays[key] = flat[at : at + n].reshape(shape)
            at += n
        return arrays


@dataclass
class ShardResult:
    """One replica's part of a batch: its gradient (flat float32, see ParameterLayout), its
    share of the batch's mean loss, and how many of its rows it classified right."""

    gradient: np.ndarray
    loss: float
    correct: int


@dataclass
class Step:
    """A reduced gradient and the learning rate it is applied with: one optimiser step."""

    gradient: np.ndarray
    learning_rate: float


@contextmanager
def dropout_rows(model: Sequential, start: int, total: int) -> Iterator[None]:
    """Dropout layers draw the whole batch's mask and keep rows start.. (see Dropout.rows)."""
    layers = [layer for layer in model.layers if isinstance(layer, Dropout)]
    for layer in layers:
        layer.rows = (start, total)
    try:
        yield
    finally:
        for layer in layers:
            layer.rows = None


class Replica:
    """One copy of the model: computes a shard's gradients and applies the reduced steps."""

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.layout = ParameterLayout(model)

    @classmethod
    def from_state(cls, state: dict) -> Replica:
        """A replica of the model `replica_state` described."""
        model, optimizer = weights.load(state["weights"])
        model.compile(optimizer)
        replica = cls(model)
        replica.load_dropout_streams(state["dropout"])
        return replica

    def load_dropout_streams(self, streams_json: str) -> None:
        streams = json.loads(streams_json)
        for layer in self.model.layers:
            if isinstance(layer, Dropout):
                layer.rng.bit_generator.state = streams[layer.name]

    def gradients(self, pixels: np.ndarray, labels: np.ndarray, start: int,
                  total: int) -> ShardResult:
        """The shard `pixels` [n, 784 or 28x28x1] (uint8 or float), int `labels` [n], rows
        start..start+n of a `total`-row batch: its gradients, loss share and correct count."""
        model = self.model
        if len(pixels) == 0:  # more replicas than rows: nothing to add, masks still drawn
            self._skip_dropout(total)
            return ShardResult(np.zeros(self.layout.size, np.float32), 0.0, 0)
        x = model._images(pixels)
        with dropout_rows(model, start, total):
            loss, logits = model.backpropagate(x, one_hot(labels, dtype=x.dtype), total)
        # A non-finite loss leaves no gradients: the lead sees the loss and reports DIVERGED.
        gradient = (self.layout.flatten(model.gradients()) if math.isfinite(loss)
                    else np.full(self.layout.size, np.nan, np.float32))
        correct = int((logits.argmax(axis=1) == labels).sum())
        return ShardResult(gradient, loss, correct)

    def _skip_dropout(self, total: int) -> None:
        shapes = [self.model.input_shape, *self.model.output_shapes]
        for layer, shape in zip(self.model.layers, shapes, strict=False):
            if isinstance(layer, Dropout) and layer.rate > 0:
                layer.rng.random((total, *shape), dtype=np.float32)

    def apply(self, step: Step) -> None:
        """The optimiser step every replica takes (the lead checked it: DataParallel)."""
        self.model.optimizer.learning_rate = step.learning_rate
        with np.errstate(over="ignore", invalid="ignore"):  # as on the lead (apply_gradients)
            self.model.optimizer.step(self.model.parameters(),
                                      self.layout.unflatten(step.gradient))

    def checksum(self) -> str:
        """The weights and optimiser slots as one hex digest: equal on every replica."""
        digest = hashlib.sha256()
        for key, value in self.model.parameters().items():
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        for key, value in sorted(self.model.optimizer.state()["slots"].items()):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        return digest.hexdigest()


def replica_state(model: Sequential) -> dict:
    """What makes a replica of `model` at this point of its run: the weights file (weights and
    optimiser state), each Dropout layer's random stream, as JSON, and the compute backend (a
    replica in another process computes with the same kernels)."""
    return {"weights": weights.save(model, model.optimizer), "dropout": dropout_streams(model),
            "backend": backend.get_backend()}


class ReplicaLost(Exception):  # noqa: N818 - a fact, not a bug: a worker went away
    """Replica `replica` (1.. : the lead is 0) is gone (crashed, out of memory, ended). Raised
    by a Transport; the batch it was in is not applied anywhere."""

    def __init__(self, replica: int) -> None:
        super().__init__(f"replica {replica} was lost")
        self.replica = replica


def dropout_streams(model: Sequential) -> str:
    """Each Dropout layer's random stream, as JSON (what `Replica.load_dropout_streams` reads)."""
    return json.dumps({layer.name: layer.rng.bit_generator.state for layer in model.layers
                       if isinstance(layer, Dropout)})


class Transport(Protocol):
    """The replicas after the lead (1..N-1), wherever they run. Each one takes what it is sent
    in order: a step sent by `apply` is taken before the shard sent after it."""

    size: int  # how many there are

    def sync(self, state: dict) -> None:
        """Make every replica a copy of the model `replica_state` described."""

    def send(self, replica: int, pixels: np.ndarray, labels: np.ndarray, start: int,
             total: int) -> None:
        """Start `replica` (1..size) on a shard's gradients (at most one unanswered each)."""

    def gather(self) -> list[ShardResult]:
        """Every replica's result for the shard it was sent, in replica order; ReplicaLost
        when one is gone (once every other answered, so none is left mid-step)."""

    def apply(self, step: Step) -> None:
        """Start every replica on the optimiser step the lead took, without waiting for it."""

    def finish(self) -> None:
        """Wait until every replica took every step and shard it was sent (a shard's result
        unanswered is dropped); ReplicaLost if one is gone."""


class DataParallel:
    """The lead's side of a run: `Sequential.train_steps` hands it each batch (model.parallel).

    The lead sends each step to the replicas before it takes it itself, and with it the shards
    of the batch after (`upcoming`, within an epoch): they take the step and start on the next
    shard while the lead takes the step, reports the batch and comes back for the next one.
    A shard sent ahead of a batch that never comes (a Stop) is dropped at `finish`; it drew
    Dropout masks on its replica, whose streams every run's `sync` sets anew.
    """

    def __init__(self, model: Sequential, transport: Transport) -> None:
        self.model, self.transport = model, transport
        self.lead = Replica(model)
        self.ahead = False  # the next batch's shards are sent
        transport.sync(replica_state(model))

    @property
    def workers(self) -> int:
        return 1 + self.transport.size

    def train_batch(self, pixels: np.ndarray, labels: np.ndarray,
                    where: tuple[int, int] | None = None,
                    upcoming: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[float, float]:
        """One optimiser step on the batch (raw `pixels` and int `labels`), over every replica;
        the batch's (loss, accuracy). As Sequential.train_batch: a non-finite loss or weights
        restores the weights and raises TrainingDiverged. A lost replica (ReplicaLost) leaves
        the lead as it was after the last completed batch, its Dropout streams included.
        `upcoming`: the next call's (pixels, labels), whose shards this one sends ahead."""
        total = len(pixels)
        streams = dropout_streams(self.model)
        bounds = shard_bounds(total, self.workers)
        if not self.ahead:
            self.send_shards(pixels, labels)
        self.ahead = False
        start, stop = bounds[0]
        own = self.lead.gradients(pixels[start:stop], labels[start:stop], start, total)
        try:
            results = [own, *self.transport.gather()]
        except ReplicaLost:
            self.lead.load_dropout_streams(streams)  # this batch's masks were drawn: undrawn
            raise
        loss = sum(result.loss for result in results)  # in replica order, like the gradients
        correct = sum(result.correct for result in results)
        step = Step(reduce_in_order([result.gradient for result in results]),
                    self.model.optimizer.learning_rate)
        if math.isfinite(loss):  # else apply_gradients raises at once: nothing to send
            self.transport.apply(step)  # first: the others take it while the lead does
            if upcoming is not None:
                self.send_shards(*upcoming)
                self.ahead = True
        try:
            self.model.apply_gradients(self.lead.layout.unflatten(step.gradient), loss, where)
        except TrainingDiverged:
            # The weights overflowed: the lead went back to the step before. The others took
            # the step too; they become copies of the lead again.
            if math.isfinite(loss):
                self.ahead = False
                self.transport.finish()
                self.transport.sync(replica_state(self.model))
            raise
        return loss, correct / total

    def send_shards(self, pixels: np.ndarray, labels: np.ndarray) -> None:
        """The other replicas' shards of the batch (the lead's is the first)."""
        total = len(pixels)
        for replica, (start, stop) in enumerate(shard_bounds(total, self.workers)[1:], start=1):
            self.transport.send(replica, pixels[start:stop], labels[start:stop], start, total)

    def finish(self) -> None:
        """Wait until the other replicas hold the lead's weights (they took every step)."""
        self.ahead = False
        self.transport.finish()


class LocalTransport:
    """Replicas in this process, run one after another. Each replica takes what it is sent in
    order, as a page's worker does: at the next `gather` or `finish`, or (`at_once`) as soon
    as it is sent, as a page's worker may too. The same arithmetic as the browser's workers
    do, for the tests (no speed-up: one thread)."""

    def __init__(self, size: int, at_once: bool = False) -> None:
        self.size, self.at_once = size, at_once
        self.replicas: list[Replica] = []
        self.queue: list[tuple[int, Step | tuple]] = []  # (replica, step or shard), in order
        self.results: dict[int, ShardResult] = {}  # computed, not yet gathered

    def sync(self, state: dict) -> None:
        self.replicas = [Replica.from_state(state) for _ in range(self.size)]
        self.queue, self.results = [], {}

    def send(self, replica: int, pixels: np.ndarray, labels: np.ndarray, start: int,
             total: int) -> None:
        self.queue.append((replica, (pixels, labels, start, total)))
        if self.at_once:
            self.take()

    def gather(self) -> list[ShardResult]:
        self.take()
        results = [self.results.pop(i) for i in range(1, self.size + 1)]
        return results

    def apply(self, step: Step) -> None:
        self.queue.extend((replica, step) for replica in range(1, self.size + 1))
        if self.at_once:
            self.take()

    def finish(self) -> None:
        self.take()
        self.results = {}

    def take(self) -> None:
        """Every replica takes what it was sent, in order."""
        for replica, work in self.queue:
            if isinstance(work, Step):
                self.replicas[replica - 1].apply(work)
            else:
                self.results[replica] = self.replicas[replica - 1].gradients(*work)
        self.queue = []
