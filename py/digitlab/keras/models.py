"""Keras's Sequential over the engine: the layer list is the model spec, the engine trains it.

A `Sequential` holds Keras-style layers (`digitlab.keras.layers`), each one entry of the
model-spec layer list; `to_spec()` is that list, normalised as the engine writes it
(`nn.Sequential.spec()`), and `Sequential.from_spec(spec)` builds the same model back, so a
model built in code and one built from its JSON are the same thing. The engine model
(`.engine`, a `digitlab.nn.sequential.Sequential`) is built from the spec by
`nn.zoo.build_model` with the seed in force (`utils.set_random_seed`, default 0), exactly as
the page's `train({model: ...})` builds it, and `fit` runs the engine's one training loop
(`nn.sequential.TrainingRun`). Same seed, same spec, same data: the same weights as `train()`.

Differences from Keras, all by necessity: the input is always one 28x28x1 image (so a model
knows its shapes from its first layer on), the last layer must be dense(10, softmax) before
the model can be built, and the losses are the two cross-entropies of one-hot and of integer
labels. Arguments the engine cannot honour are refused by name.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import numpy as np

from digitlab.errors import ConfigError, DigitLabError
from digitlab.keras import _checks, optimizers, utils
from digitlab.keras import callbacks as callbacks_module
from digitlab.keras._checks import CONFIG, one_of, only_default
from digitlab.keras.layers import KERAS_FIELDS, PLAIN_IMAGE, InputLayer, Layer, from_entry
from digitlab.nn.losses import cross_entropy_per_example, softmax
from digitlab.nn.sequential import RunPosition, TrainingRun, summarize
from digitlab.nn.sequential import Sequential as EngineModel
from digitlab.nn.spec import SpecError, parse_spec
from digitlab.nn.zoo import ZOO, build_model
from digitlab.schema import INPUT_SHAPE, NUM_CLASSES, TRAINING

LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
METRICS = ("accuracy", "acc")
DEFAULT_BATCH_SIZE = 32  # Keras's, for fit, evaluate and predict
IMAGE_SHAPE_TEXT = "(N, 28, 28, 1)"

# Keras 3's summary table at its usual width (76 columns: 88, capped by an 80-column
# terminal less 4), as rich lays out its three columns there: the cell widths inside the
# borders, without the one-space padding either side.
_SUMMARY_WIDTHS = (31, 22, 13)
_SUMMARY_ALIGN = ("left", "left", "right")


class Sequential:
    """keras.Sequential: `Sequential([layers])` or `add()` one at a time."""

    def __init__(self, layers: list[Layer] | None = None, trainable: bool = True,
                 name: str | None = None) -> None:
        only_default("Sequential", "trainable", trainable, True)
        self.name = name or "sequential"
        self._layers: list[Layer] = []
        self._input: InputLayer | None = None
        self._engine: EngineModel | None = None
        self._engine_spec: list[dict] | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.loss: str | None = None
        self.metrics_names: list[str] = []
        self.compiled = False
        self.stop_training = False
        self.history: callbacks_module.History | None = None
        self.run: TrainingRun | None = None  # the engine's run of the latest fit
        # The seed of its weights and fit's batch order; None: the seed in force then.
        self.seed: int | None = None
        for layer in layers or []:
            self.add(layer)

    # ---- building ------------------------------------------------------------------------
    def add(self, layer: Layer | InputLayer) -> None:
        """Append a layer; its arguments and the shapes so far are checked now (BAD_MODEL,
        naming the layer's index and the argument)."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input is not None:
                raise SpecError("input_first", layer=len(self._layers), field="Input")
            self._input = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer, got {layer!r}")
        if self._layers and layer._input_shape is not None:
            raise SpecError("input_first", layer=len(self._layers), layer_type=layer._kind,
                            field="input_shape")
        plain = (self._input is not None and self._input.shape[1:] == PLAIN_IMAGE)
        if not self._layers and plain and not layer._takes_plain_images:
            raise SpecError("input_shape", layer=0, layer_type=layer._kind, field="shape",
                            value=list(PLAIN_IMAGE))
        if any(layer is other for other in self._layers):
            raise SpecError("duplicate_name", layer=len(self._layers), layer_type=layer._kind,
                            value=layer.name)
        given = [other._given_name for other in self._layers if other._given_name]
        if layer._given_name and layer._given_name in given:
            raise SpecError("duplicate_name", layer=len(self._layers), layer_type=layer._kind,
                            value=layer._given_name)
        self._layers.append(layer)
        try:
            self._parse(complete=False)
        except DigitLabError:
            self._layers.pop()
            raise
        layer._model = self
        self._name_layers()

    def pop(self) -> Layer:
        """Remove the last layer (Keras's pop)."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        layer._engine_layer = layer._model = None
        self._name_layers()
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self._layers]}.")

    def _name_layers(self) -> None:
        """Keras's automatic names, numbered per kind within this model: conv2d, conv2d_1."""
        taken = {layer._given_name for layer in self._layers if layer._given_name}
        counts: dict[str, int] = {}
        for layer in self._layers:
            if layer._given_name:
                continue
            while True:
                count = counts.get(layer._prefix, 0)
                counts[layer._prefix] = count + 1
                name = layer._prefix if count == 0 else f"{layer._prefix}_{count}"
                if name not in taken:
                    break
            layer.name = name

    def _parse(self, complete: bool = True) -> list:
        """The engine's unbuilt layers for this model's spec; a SpecError names the argument as
        Keras spells it (kernel_size, not kernelSize)."""
        entries = [layer._entry() for layer in self._layers]
        if not entries and not complete:
            return []
        try:
            return parse_spec(entries, complete=complete)
        except SpecError as e:
            if e.field in KERAS_FIELDS:
                e.field = KERAS_FIELDS[e.field]
            raise

    def to_spec(self) -> list[dict[str, Any]]:
        """The model-spec layer list (what train() and the weights file take), as the engine
        normalises it; a layer given a name keeps it."""
        spec = [layer.config() for layer in self._parse()]
        for entry, layer in zip(spec, self._layers, strict=True):
            if layer._given_name:
                entry["name"] = layer._given_name
        return spec

    @classmethod
    def from_spec(cls, spec: list | str, seed: int | None = None,
                  name: str | None = None) -> Sequential:
        """A model from a layer list (or its JSON, or 'tutorial' / 'strong'); `seed` (default:
        the seed in force) is the seed of its weights and of fit's batch order."""
        raw = ZOO.get(spec, spec) if isinstance(spec, str) else spec
        if isinstance(raw, str) and raw.lstrip().startswith("["):
            # Bad JSON stays a string: parse_spec words it, with its line and column.
            with contextlib.suppress(json.JSONDecodeError):
                raw = json.loads(raw)
        layers = parse_spec(raw)
        entries = [layer.config() for layer in layers]
        raw_list = raw if isinstance(raw, list) else None
        for index, entry in enumerate(entries):
            given = raw_list[index].get("name") if raw_list is not None else None
            if given:
                entry["name"] = given
        model = cls([from_entry(entry) for entry in entries], name=name)
        model.seed = seed
        return model

    @classmethod
    def wrap(cls, engine: EngineModel, name: str | None = None) -> Sequential:
        """A Keras-style front for an existing engine model (the page's model in use): the same
        weights and optimiser, not a copy. Compile it before fit or evaluate."""
        model = cls([from_entry(entry) for entry in engine.spec()], name=name)
        model._attach(engine)
        if engine.optimizer is not None:
            model.optimizer = optimizers.Optimizer.wrap(engine.optimizer)
        return model

    def _attach(self, engine: EngineModel) -> None:
        self._engine, self._engine_spec = engine, self.to_spec()
        for layer, engine_layer in zip(self._layers, engine.layers, strict=True):
            layer._engine_layer = engine_layer

    @property
    def engine(self) -> EngineModel:
        """The built engine model (digitlab.nn.sequential.Sequential). Built on first use from
        `to_spec()` with the seed in force; rebuilt when layers were added or popped since,
        keeping the weights of the layers that stayed the same (as Keras keeps them)."""
        spec = self.to_spec()
        if self._engine is not None and spec == self._engine_spec:
            return self._engine
        previous = self._engine
        engine = build_model(spec, seed=self._seed())
        engine.name = self.name
        if previous is not None:
            same = 0
            while (same < min(len(spec), len(self._engine_spec or []))
                   and spec[same] == self._engine_spec[same]):
                same += 1
            for old, new in zip(previous.layers[:same], engine.layers[:same], strict=True):
                for key, value in old.params.items():
                    new.params[key][...] = value
        self._attach(engine)
        if self.optimizer is not None:
            engine.compile(self.optimizer.engine)
        return engine

    def build(self, input_shape: tuple | None = None) -> None:
        """Build the weights now (they are built on first use anyway)."""
        if input_shape is not None and tuple(input_shape)[1:] != INPUT_SHAPE:
            raise SpecError("input_shape", field="input_shape", value=input_shape)
        _ = self.engine

    @property
    def built(self) -> bool:
        return self._engine is not None and self._engine_spec == self.to_spec()

    @property
    def input_shape(self) -> tuple:
        return (None, *INPUT_SHAPE)

    @property
    def output_shape(self) -> tuple:
        return (None, *self._shapes()[-1]) if self._layers else self.input_shape

    def _shapes(self) -> list[tuple[int, ...]]:
        shapes, shape = [], INPUT_SHAPE
        for layer in self._parse(complete=False):
            shape = layer.output_shape(shape)
            shapes.append(shape)
        return shapes

    # ---- weights -------------------------------------------------------------------------
    def count_params(self) -> int:
        return summarize(self._parse(complete=False), INPUT_SHAPE)["total_params"]

    @property
    def weights(self) -> list[np.ndarray]:
        _ = self.engine
        return [w for layer in self._layers for w in layer.weights]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every kernel and bias, layer by layer (Keras's order)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        _checks.assign_weights(self.name, self.weights, weights)

    # ---- summary -------------------------------------------------------------------------
    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Any = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Any = None) -> None:
        """Keras 3's summary table, printed (or passed whole to `print_fn`)."""
        for field, value in (("line_length", line_length), ("positions", positions),
                             ("layer_range", layer_range)):
            only_default("summary", field, value, None, code=CONFIG)
        only_default("summary", "show_trainable", show_trainable, False, code=CONFIG)
        text = self._summary_text()
        if print_fn is not None:
            print_fn(text)
        else:
            print(text)

    def _summary_text(self) -> str:
        rows = summarize(self._parse(complete=False), INPUT_SHAPE)["layers"]
        cells = [(f"{layer.name} ({type(layer).__name__})",
                  "(" + ", ".join(str(s) for s in row["output_shape"]) + ")",
                  f"{row['params']:,}") for layer, row in zip(self._layers, rows, strict=True)]
        trainable = sum(row["params"] for row in rows)
        lines = [f'Model: "{self.name}"', *_table(("Layer (type)", "Output Shape", "Param #"),
                                                  cells)]
        optimizer = self.optimizer.variable_count() if self.optimizer is not None else 0
        # Keras counts the optimiser's iteration counter as an int64 (8 bytes).
        optimizer_bytes = 4 * (optimizer - 1) + 8 if optimizer else 0
        total = trainable + optimizer
        lines.append(f" Total params: {total:,} ({_memory(4 * trainable + optimizer_bytes)})")
        lines.append(f" Trainable params: {trainable:,} ({_memory(4 * trainable)})")
        lines.append(f" Non-trainable params: 0 ({_memory(0)})")
        if optimizer:
            lines.append(f" Optimizer params: {optimizer:,} ({_memory(optimizer_bytes)})")
        return "\n".join(lines)

    # ---- training ------------------------------------------------------------------------
    def compile(self, optimizer: str | optimizers.Optimizer = "rmsprop", loss: str | None = None,
                loss_weights: Any = None, metrics: list[str] | None = None,
                weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: str | bool = "auto",
                auto_scale_loss: bool = True) -> None:
        """Choose the optimiser ('adam', 'sgd' or an instance), the loss
        ('categorical_crossentropy' for one-hot labels, 'sparse_categorical_crossentropy' for
        class numbers) and the metrics (['accuracy'] or none)."""
        call = "compile"
        one_of(call, "loss", loss, LOSSES, code=CONFIG)
        only_default(call, "loss_weights", loss_weights, None, code=CONFIG)
        only_default(call, "weighted_metrics", weighted_metrics, None, code=CONFIG)
        one_of(call, "run_eagerly", run_eagerly, [False, True], code=CONFIG)  # it always is
        only_default(call, "steps_per_execution", steps_per_execution, 1, code=CONFIG)
        one_of(call, "jit_compile", jit_compile, ["auto", False], code=CONFIG)
        one_of(call, "auto_scale_loss", auto_scale_loss, [True, False], code=CONFIG)  # float32
        names = list(metrics) if isinstance(metrics, list | tuple) else metrics
        if names is None:
            names = []
        if not isinstance(names, list):
            one_of(call, "metrics", metrics, [], code=CONFIG, shown=[["accuracy"]])
        for metric in names:
            one_of(call, "metrics", metric, METRICS, code=CONFIG, shown=["accuracy"])
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self.metrics_names = ["loss", *names[:1]]
        self.compiled = True
        if self._engine is not None:
            self._engine.compile(self.optimizer.engine)

    def _require_compiled(self, call: str) -> None:
        if not self.compiled:
            raise ConfigError("not_compiled", call=call)

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: str | int = "auto", callbacks: list | None = None,
            validation_split: float = 0.0, validation_data: tuple | None = None,
            shuffle: bool = True, class_weight: Any = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int = 1) -> callbacks_module.History:
        """Train with the engine's loop (TrainingRun); returns the History. Batches come in the
        seeded order of the seed in force, reshuffled each epoch (`shuffle=False`: in order);
        `initial_epoch` starts later in that order, as a run resumed there would."""
        call = "fit"
        self._require_compiled(call)
        for field, value in (("class_weight", class_weight), ("sample_weight", sample_weight),
                             ("steps_per_epoch", steps_per_epoch),
                             ("validation_steps", validation_steps),
                             ("validation_batch_size", validation_batch_size)):
            only_default(call, field, value, None, code=CONFIG)
        only_default(call, "validation_freq", validation_freq, 1, code=CONFIG)
        one_of(call, "shuffle", shuffle, [True, False], code=CONFIG)
        verbose = _verbose(call, verbose)
        batch_size = _count(call, "batch_size", DEFAULT_BATCH_SIZE if batch_size is None
                            else batch_size, 1, TRAINING["batchSize"]["max"])
        epochs = _count(call, "epochs", epochs, 1, TRAINING["epochs"]["max"])
        initial_epoch = _count(call, "initial_epoch", initial_epoch, 0, epochs - 1)
        images, labels = self._data(call, x, y)
        validation = None
        if validation_data is not None:
            only_default(call, "validation_split", validation_split, 0.0, code=CONFIG)
            validation = self._validation(call, validation_data)
        elif not _same_number(validation_split, 0.0):
            number = isinstance(validation_split, int | float) \
                and not isinstance(validation_split, bool)
            if not (number and 0 < validation_split < 1):
                raise ConfigError("fraction", field="validation_split", value=validation_split,
                                  limits=[0, 1], call=call)
            # As Keras: the last fraction of the arrays, taken before any shuffling.
            split = int(math.floor(len(images) * (1.0 - validation_split)))
            validation = (images[split:], labels[split:])
            images, labels = images[:split], labels[:split]
            if not len(images):
                raise ConfigError("fraction", field="validation_split",
                                  value=validation_split, limits=[0, 1], call=call)
        engine = self.engine
        engine.compile(self.optimizer.engine)
        batches = math.ceil(len(images) / batch_size)
        history = callbacks_module.History()
        hooks = self._callbacks(callbacks, verbose, history, epochs=epochs, steps=batches)
        run = TrainingRun(engine, images, labels, batch_size, epochs, validation,
                          self._seed(), shuffle, keep_checkpoints=True,
                          start=RunPosition(epoch=initial_epoch))
        self.run, self.stop_training = run, False
        events = iter(run)
        epoch_logs: dict[str, float] = {}
        hooks.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                hooks.on_epoch_begin(epoch)
                sums, seen, batch_logs = [0.0, 0.0], 0, {}
                for batch in range(batches):
                    hooks.on_train_batch_begin(batch)
                    event = next(events)
                    sums[0] += event["loss"] * event["size"]
                    sums[1] += event["acc"] * event["size"]
                    seen += event["size"]
                    batch_logs = self._logs(sums[0] / seen, sums[1] / seen)
                    hooks.on_train_batch_end(batch, batch_logs)
                    if self.stop_training:
                        break
                if seen < len(images):  # stopped mid-epoch; as Keras: its logs so far
                    epoch_logs = dict(batch_logs)
                    if validation is not None and len(validation[0]):
                        epoch_logs.update(self._logs(*engine.evaluate(*validation), "val_"))
                else:  # the engine's epoch end: its means and its validation
                    event = next(events)
                    epoch_logs = self._logs(event["loss"], event["acc"])
                    if event["val_loss"] is not None:
                        epoch_logs.update(self._logs(event["val_loss"], event["val_acc"],
                                                     "val_"))
                hooks.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        finally:
            run.close()
        hooks.on_train_end(epoch_logs)
        self.history = history
        return history

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: str | int = "auto", sample_weight: Any = None,
                 steps: int | None = None, callbacks: list | None = None,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """[loss, accuracy] (or the loss alone without metrics; a dict with return_dict)."""
        call = "evaluate"
        self._require_compiled(call)
        only_default(call, "sample_weight", sample_weight, None, code=CONFIG)
        only_default(call, "steps", steps, None, code=CONFIG)
        verbose = _verbose(call, verbose)
        batch_size = _count(call, "batch_size", DEFAULT_BATCH_SIZE if batch_size is None
                            else batch_size, 1, TRAINING["batchSize"]["max"])
        images, labels = self._data(call, x, y)
        engine = self.engine
        batches = math.ceil(len(images) / batch_size)
        hooks = self._callbacks(callbacks, verbose, None, epochs=1, steps=batches)
        loss_sum, correct, seen, logs = 0.0, 0, 0, self._logs(0.0, 0.0)
        hooks.on_test_begin()
        for batch in range(batches):
            hooks.on_test_batch_begin(batch)
            part = slice(batch * batch_size, (batch + 1) * batch_size)
            logits = engine.forward(images[part])
            loss_sum += float(cross_entropy_per_example(logits, labels[part]).sum())
            correct += int((logits.argmax(axis=1) == labels[part]).sum())
            seen += len(logits)
            logs = self._logs(loss_sum / seen, correct / seen)
            hooks.on_test_batch_end(batch, logs)
        hooks.on_test_end(logs)
        if return_dict:
            return logs
        return list(logs.values()) if len(logs) > 1 else logs["loss"]

    def predict(self, x: Any, batch_size: int | None = None, verbose: str | int = "auto",
                steps: int | None = None, callbacks: list | None = None) -> np.ndarray:
        """Probabilities [N, 10] float32 (softmax of the last layer)."""
        call = "predict"
        only_default(call, "steps", steps, None, code=CONFIG)
        verbose = _verbose(call, verbose)
        batch_size = _count(call, "batch_size", DEFAULT_BATCH_SIZE if batch_size is None
                            else batch_size, 1, TRAINING["batchSize"]["max"])
        images = _images(call, "x", x)
        engine = self.engine
        batches = math.ceil(len(images) / batch_size)
        hooks = self._callbacks(callbacks, verbose, None, epochs=1, steps=batches)
        out = np.empty((len(images), NUM_CLASSES), dtype=np.float32)
        hooks.on_predict_begin()
        for batch in range(batches):
            hooks.on_predict_batch_begin(batch)
            part = slice(batch * batch_size, (batch + 1) * batch_size)
            out[part] = softmax(engine.forward(images[part]))
            hooks.on_predict_batch_end(batch, {"outputs": out[part]})
        hooks.on_predict_end()
        return out

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """The model on a batch: probabilities [N, 10] (a NumPy array, not a tensor)."""
        one_of("Sequential", "training", training, [False], code=CONFIG)
        return softmax(self.engine.forward(_images("Sequential", "x", x))).astype(np.float32)

    # ---- helpers -------------------------------------------------------------------------
    def _seed(self) -> int:
        return utils.get_random_seed() if self.seed is None else self.seed

    def _logs(self, loss: float, accuracy: float, prefix: str = "") -> dict[str, float]:
        """Keras's log keys, in Keras's order: loss, then the metric if compiled with one."""
        logs = {f"{prefix}loss": float(loss)}
        for metric in self.metrics_names[1:]:
            logs[f"{prefix}{metric}"] = float(accuracy)
        return logs

    def _callbacks(self, given: list | None, verbose: int, history: Any,
                   **params: Any) -> callbacks_module.CallbackList:
        """The call's callbacks, then those `callbacks.always` adds, then History and the
        progress printer (Keras appends those two last as well)."""
        hooks = [*(given or []), *callbacks_module.added()]
        if history is not None:
            hooks.append(history)
        if verbose:
            hooks.append(callbacks_module.ProgbarLogger())
        return callbacks_module.CallbackList(hooks, model=self, verbose=verbose, **params)

    def _data(self, call: str, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        images = _images(call, "x", x)
        return images, _labels(call, "y", y, len(images), self.loss)

    def _validation(self, call: str, data: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(data, tuple | list) or len(data) not in (2, 3):
            raise ConfigError("array_shape", field="validation_data", call=call,
                              expected="(x_val, y_val)", got=type(data).__name__)
        if len(data) == 3:
            only_default(call, "validation_data sample_weight", data[2], None, code=CONFIG)
        images = _images(call, "validation_data x", data[0])
        return images, _labels(call, "validation_data y", data[1], len(images), self.loss)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, built={self.built}>"


# ---- inputs ----------------------------------------------------------------------------


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _images(call: str, field: str, x: Any) -> np.ndarray:
    """Images as float32 [N, 28, 28, 1] ([N, 28, 28] gains its channel). Like Keras, other
    dtypes are cast to float32, not rescaled: uint8 pixels stay 0..255."""
    if x is None:
        raise ConfigError("array_shape", field=field, call=call, expected=IMAGE_SHAPE_TEXT,
                          got="None")
    images = np.asarray(x)
    if images.ndim == 3 and images.shape[1:] == INPUT_SHAPE[:2]:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != INPUT_SHAPE:
        raise ConfigError("array_shape", field=field, call=call, expected=IMAGE_SHAPE_TEXT,
                          got=_shape_text(images.shape))
    if not np.issubdtype(images.dtype, np.number) \
            or np.issubdtype(images.dtype, np.complexfloating):
        raise ConfigError("array_shape", field=field, call=call, expected=IMAGE_SHAPE_TEXT,
                          got=f"{_shape_text(images.shape)} {images.dtype}")
    return images.astype(np.float32, copy=False)


def _labels(call: str, field: str, y: Any, count: int, loss: str | None) -> np.ndarray:
    """Class numbers [N] from one-hot rows (categorical_crossentropy) or from class numbers
    (sparse_categorical_crossentropy), each checked against the loss."""
    if y is None:
        raise ConfigError("array_shape", field=field, call=call, expected="(N, 10)", got="None")
    labels = np.asarray(y)
    if labels.ndim == 0 or len(labels) != count:
        raise ConfigError("lengths", field=field, call=call, expected=count,
                          got=labels.shape[0] if labels.ndim else 0)
    if loss == "categorical_crossentropy":
        one_hot = (labels.ndim == 2 and labels.shape[1] == NUM_CLASSES
                   and np.issubdtype(labels.dtype, np.number)
                   and bool(((labels == 0) | (labels == 1)).all())
                   and bool((labels.sum(axis=1) == 1).all()))
        if not one_hot:
            raise ConfigError("one_hot_labels", field=field, call=call, loss=loss,
                              got=_shape_text(labels.shape))
        return labels.argmax(axis=1).astype(np.intp)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    classes = (labels.ndim == 1 and np.issubdtype(labels.dtype, np.number)
               and bool((labels == np.round(labels)).all())
               and (not labels.size or (labels.min() >= 0 and labels.max() < NUM_CLASSES)))
    if not classes:
        raise ConfigError("class_labels", field=field, call=call, loss=loss,
                          got=_shape_text(np.asarray(y).shape))
    return labels.astype(np.intp)


def _verbose(call: str, verbose: Any) -> int:
    one_of(call, "verbose", verbose, ["auto", 0, 1, 2], code=CONFIG)
    return 1 if verbose == "auto" else int(verbose)


def _count(call: str, field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError("range", field=field, value=value, limits=[low, high], call=call)
    return value


def _same_number(a: Any, b: float) -> bool:
    return isinstance(a, int | float) and not isinstance(a, bool) and a == b


# ---- the summary table -----------------------------------------------------------------


def _memory(size: float) -> str:
    """Keras's readable_memory_size: 23.41 KB, 0.00 B."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _cell_lines(text: str, width: int) -> list[str]:
    """A cell's text in lines of `width`, words kept whole, as rich wraps it: a word too long
    for the column is cut with an ellipsis."""
    lines, line = [], ""
    for word in text.split(" "):
        if len(word) > width:
            word = word[: width - 1] + "…"
        if line and len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            if line:
                lines.append(line)
            line = word
    return [*lines, line]


def _row(cells: tuple[str, ...], edge: str) -> list[str]:
    wrapped = [_cell_lines(c, w) for c, w in zip(cells, _SUMMARY_WIDTHS, strict=True)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, width, align in zip(wrapped, _SUMMARY_WIDTHS, _SUMMARY_ALIGN, strict=True):
            text = lines[i] if i < len(lines) else ""
            parts.append(" " + (text.rjust(width) if align == "right" else text.ljust(width))
                         + " ")
        out.append(edge + edge.join(parts) + edge)
    return out


def _rule(left: str, fill: str, middle: str, right: str) -> str:
    return left + middle.join(fill * (w + 2) for w in _SUMMARY_WIDTHS) + right


def _table(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> list[str]:
    """The box table rich draws for Keras (heavy head, a rule between rows)."""
    lines = [_rule("┏", "━", "┳", "┓"), *_row(header, "┃"), _rule("┡", "━", "╇", "┩")]
    for index, row in enumerate(rows):
        if index:
            lines.append(_rule("├", "─", "┼", "┤"))
        lines += _row(row, "│")
    lines.append(_rule("└", "─", "┴", "┘"))
    return lines


__all__ = ["Sequential"]
