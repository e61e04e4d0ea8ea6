"""Keras 3 layers as thin config objects: each is ONE entry of the model-spec layer list
(`digitlab.schema.LAYERS`, tfjs names), which the engine (`digitlab.nn`) builds and trains.

Signatures, argument names and defaults are Keras 3's. An argument whose value the engine
cannot honour (`dilation_rate=2`, `use_bias=False`, a regulariser, ...) is refused by name
(BAD_MODEL, reason `unsupported` / `unsupported_choice`); an unknown keyword is Python's own
TypeError. The input is always one 28x28x1 MNIST image, so `input_shape` (or an `Input`) may
only say that.

A layer's `name` is Keras's: the one given, else its kind numbered within its model (`conv2d`,
`conv2d_1`, ...; Keras numbers across a whole session, which a re-run cell would see change).
The engine keeps its own tfjs names (`conv2d_1`, ...) for the weights file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab.keras import _checks
from digitlab.keras._checks import one_of, only_default, pair, whole
from digitlab.nn.spec import SpecError
from digitlab.schema import INPUT_SHAPE

# Keras's initialiser names (and their class and tfjs spellings) -> the spec's.
_INITIALIZERS = {"glorot_uniform": "glorotUniform", "GlorotUniform": "glorotUniform",
                 "glorotUniform": "glorotUniform", "variance_scaling": "varianceScaling",
                 "VarianceScaling": "varianceScaling", "varianceScaling": "varianceScaling"}
_KERAS_INITIALIZER = {"glorotUniform": "glorot_uniform", "varianceScaling": "variance_scaling"}
_ZEROS = ("zeros", "Zeros")


def _initializer(call: str, value: Any) -> str:
    """A Keras kernel_initializer -> its spec name (refused by name when the engine has none)."""
    one_of(call, "kernel_initializer", value, list(_INITIALIZERS),
           shown=["glorot_uniform", "variance_scaling"])
    return _INITIALIZERS[value]


# Keras's classic MNIST model starts `Flatten(input_shape=(28, 28))`: the same pixels in the same
# order as (28, 28, 1), so a Flatten (or an Input before one) may say it that way.
PLAIN_IMAGE = INPUT_SHAPE[:2]


def _input_shape(call: str, input_shape: Any, plain_ok: bool = False,
                 field: str = "input_shape") -> tuple[int, ...] | None:
    if input_shape is None:
        return None
    shape = tuple(input_shape) if isinstance(input_shape, list) else input_shape
    if plain_ok and _checks.same(shape, PLAIN_IMAGE):
        return PLAIN_IMAGE
    if not _checks.same(shape, INPUT_SHAPE):
        raise SpecError("input_shape", field=field, value=input_shape, call=call)
    return INPUT_SHAPE


class Layer:
    """What every layer takes besides its own arguments (Keras's base Layer keywords)."""

    _kind = ""  # the spec "type"
    _prefix = ""  # Keras's automatic name
    _takes_plain_images = False  # may its input be (28, 28)? (Flatten's may)

    def __init__(self, *, activity_regularizer: Any = None, trainable: bool = True,
                 dtype: Any = None, autocast: bool = True, name: str | None = None,
                 input_shape: tuple[int, ...] | None = None, input_dim: int | None = None) -> None:
        call = type(self).__name__
        only_default(call, "activity_regularizer", activity_regularizer, None)
        only_default(call, "trainable", trainable, True)
        one_of(call, "dtype", dtype, [None, "float32"])
        only_default(call, "autocast", autocast, True)
        only_default(call, "input_dim", input_dim, None)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{call}: name must be a string, got {name!r}")
        self._given_name = name
        self.name: str = name or self._prefix
        self._input_shape = _input_shape(call, input_shape, self._takes_plain_images)
        self._engine_layer: Any = None  # the built engine layer, once the model is built
        self._model: Any = None  # the Sequential it was added to

    # ---- the spec entry -----------------------------------------------------------------
    def _entry(self) -> dict[str, Any]:
        """This layer's entry of the model-spec layer list (before the engine normalises it)."""
        entry = {"type": self._kind, **self._fields()}
        if self._given_name:
            entry["name"] = self._given_name
        return entry

    def _fields(self) -> dict[str, Any]:
        return {}

    # ---- Keras's introspection ----------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (as Keras's get_config; initialisers as their names)."""
        return {"name": self.name, "trainable": True, "dtype": "float32", **self._config()}

    def _config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**{k: v for k, v in config.items() if k not in ("trainable", "dtype")})

    def _built_layer(self) -> Any:
        """The engine layer, building the model first (as Keras builds a layer once its input
        shape is known); None while the model is not complete enough to build."""
        if self._model is not None:
            try:
                _ = self._model.engine
            except SpecError:
                return None
        return self._engine_layer

    @property
    def built(self) -> bool:
        return self._built_layer() is not None

    @property
    def weights(self) -> list[np.ndarray]:
        """The live parameter arrays (kernel, bias); empty while the model cannot be built
        (it does not end in the 10-way softmax yet)."""
        layer = self._built_layer()
        return [] if layer is None else [layer.params[k] for k in ("kernel", "bias")
                                         if k in layer.params]

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        _checks.assign_weights(self.name, self.weights, weights)

    def count_params(self) -> int:
        layer = self._built_layer()
        if layer is None:
            raise ValueError(f"{self.name} is not built yet: add it to a model first")
        return layer.param_count()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer:
    """`Input(shape=(28, 28, 1))` as the first entry of a Sequential: says the input shape,
    which here is always one MNIST image. Not a layer of the spec or of `model.layers`."""

    def __init__(self, shape: tuple[int, ...] | None = None, batch_size: int | None = None,
                 dtype: Any = None, sparse: bool | None = None,
                 batch_shape: tuple | None = None, input_tensor: Any = None,
                 optional: bool = False, name: str | None = None) -> None:
        call = "Input"
        only_default(call, "batch_size", batch_size, None)
        one_of(call, "dtype", dtype, [None, "float32"])
        one_of(call, "sparse", sparse, [None, False])
        only_default(call, "input_tensor", input_tensor, None)
        only_default(call, "optional", optional, False)
        if batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        given = _input_shape(call, shape if shape is not None else (), plain_ok=True,
                             field="shape")
        self.shape = (None, *given)
        self.name = name or "input_layer"


def Input(shape: tuple[int, ...] | None = None, batch_size: int | None = None,  # noqa: N802
          dtype: Any = None, sparse: bool | None = None, batch_shape: tuple | None = None,
          name: str | None = None, tensor: Any = None, optional: bool = False) -> InputLayer:
    """Keras's `Input(shape)`, for `Sequential([Input(shape=(28, 28, 1)), ...])`."""
    return InputLayer(shape, batch_size, dtype, sparse, batch_shape, tensor, optional, name)


class Conv2D(Layer):
    """keras.layers.Conv2D -> {"type": "conv2d", ...}."""

    _kind, _prefix = "conv2d", "conv2d"

    def __init__(self, filters: int, kernel_size: int | tuple[int, int],
                 strides: int | tuple[int, int] = (1, 1), padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | tuple[int, int] = (1, 1),
                 groups: int = 1, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **base: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **base)
        call = "Conv2D"
        one_of(call, "data_format", data_format, [None, "channels_last"])
        only_default(call, "dilation_rate", pair(dilation_rate), (1, 1))
        only_default(call, "groups", groups, 1)
        only_default(call, "use_bias", use_bias, True)
        one_of(call, "bias_initializer", bias_initializer, _ZEROS, shown=["zeros"])
        for field, value in (("kernel_regularizer", kernel_regularizer),
                             ("bias_regularizer", bias_regularizer),
                             ("kernel_constraint", kernel_constraint),
                             ("bias_constraint", bias_constraint)):
            only_default(call, field, value, None)
        self.filters = whole(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.padding = padding.lower() if isinstance(padding, str) else padding
        self.activation = activation
        self._kernel_initializer = _initializer(call, kernel_initializer)

    @property
    def kernel_initializer(self) -> str:
        return _KERAS_INITIALIZER[self._kernel_initializer]

    def _fields(self):
        return {"filters": self.filters, "kernelSize": _listed(self.kernel_size),
                "strides": _listed(self.strides), "padding": self.padding,
                "activation": self.activation, "kernelInitializer": self._kernel_initializer}

    def _config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": "channels_last", "dilation_rate": (1, 1), "groups": 1,
                "activation": self.activation or "linear", "use_bias": True,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": "zeros"}


class MaxPooling2D(Layer):
    """keras.layers.MaxPooling2D (alias MaxPool2D) -> {"type": "maxPooling2d", ...}."""

    _kind, _prefix = "maxPooling2d", "max_pooling2d"

    def __init__(self, pool_size: int | tuple[int, int] = (2, 2),
                 strides: int | tuple[int, int] | None = None, padding: str = "valid",
                 data_format: str | None = None, name: str | None = None,
                 **base: Any) -> None:
        super().__init__(name=name, **base)
        one_of("MaxPooling2D", "data_format", data_format, [None, "channels_last"])
        self.pool_size = pair(pool_size)
        self.strides = self.pool_size if strides is None else pair(strides)
        self.padding = padding.lower() if isinstance(padding, str) else padding

    def _fields(self):
        return {"poolSize": _listed(self.pool_size), "strides": _listed(self.strides),
                "padding": self.padding}

    def _config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding,
                "data_format": "channels_last"}


MaxPool2D = MaxPooling2D  # Keras's alias: the same class


class Flatten(Layer):
    """keras.layers.Flatten -> {"type": "flatten"} (channels-last, the same order as tfjs)."""

    _kind, _prefix = "flatten", "flatten"
    _takes_plain_images = True

    def __init__(self, data_format: str | None = None, **base: Any) -> None:
        super().__init__(**base)
        one_of("Flatten", "data_format", data_format, [None, "channels_last"])

    def _config(self):
        return {"data_format": "channels_last"}


class Dense(Layer):
    """keras.layers.Dense -> {"type": "dense", ...}."""

    _kind, _prefix = "dense", "dense"

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: int | None = None,
                 lora_alpha: float | None = None, quantization_config: Any = None,
                 **base: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **base)
        call = "Dense"
        only_default(call, "use_bias", use_bias, True)
        one_of(call, "bias_initializer", bias_initializer, _ZEROS, shown=["zeros"])
        for field, value in (("kernel_regularizer", kernel_regularizer),
                             ("bias_regularizer", bias_regularizer),
                             ("kernel_constraint", kernel_constraint),
                             ("bias_constraint", bias_constraint), ("lora_rank", lora_rank),
                             ("lora_alpha", lora_alpha),
                             ("quantization_config", quantization_config)):
            only_default(call, field, value, None)
        self.units = whole(units)
        self.activation = activation
        self._kernel_initializer = _initializer(call, kernel_initializer)

    @property
    def kernel_initializer(self) -> str:
        return _KERAS_INITIALIZER[self._kernel_initializer]

    def _fields(self):
        return {"units": self.units, "activation": self.activation,
                "kernelInitializer": self._kernel_initializer}

    def _config(self):
        return {"units": self.units, "activation": self.activation or "linear",
                "use_bias": True, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": "zeros"}


class Dropout(Layer):
    """keras.layers.Dropout -> {"type": "dropout", "rate": r}. Its masks come from the
    model's seed (`utils.set_random_seed`), so a per-layer `seed` is refused."""

    _kind, _prefix = "dropout", "dropout"

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 **base: Any) -> None:
        super().__init__(**base)
        only_default("Dropout", "noise_shape", noise_shape, None)
        only_default("Dropout", "seed", seed, None)
        self.rate = float(rate) if isinstance(rate, np.floating) else rate

    def _fields(self):
        return {"rate": self.rate}

    def _config(self):
        return {"rate": self.rate, "noise_shape": None, "seed": None}


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# The spec's field names as Keras spells the arguments, for errors raised by the spec check.
KERAS_FIELDS = {"kernelSize": "kernel_size", "poolSize": "pool_size",
                "inputShape": "input_shape", "kernelInitializer": "kernel_initializer"}

LAYER_CLASSES: dict[str, type[Layer]] = {"conv2d": Conv2D, "maxPooling2d": MaxPooling2D,
                                         "flatten": Flatten, "dense": Dense, "dropout": Dropout}


def from_entry(entry: dict[str, Any]) -> Layer:
    """A normalised spec entry (an engine layer's config(), plus its name) -> a Keras layer."""
    kind, name = entry["type"], entry.get("name")
    if kind == "conv2d":
        return Conv2D(entry["filters"], tuple(entry["kernelSize"]), tuple(entry["strides"]),
                      entry["padding"], activation=entry["activation"],
                      kernel_initializer=entry.get("kernelInitializer", "varianceScaling"),
                      name=name)
    if kind == "maxPooling2d":
        return MaxPooling2D(tuple(entry["poolSize"]), tuple(entry["strides"]),
                            entry["padding"], name=name)
    if kind == "dense":
        return Dense(entry["units"], entry["activation"],
                     kernel_initializer=entry.get("kernelInitializer", "varianceScaling"),
                     name=name)
    if kind == "dropout":
        return Dropout(entry["rate"], name=name)
    return Flatten(name=name)


__all__ = ["Conv2D", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer",
           "MaxPool2D", "MaxPooling2D"]
