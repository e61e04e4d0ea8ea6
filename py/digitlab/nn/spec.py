"""Model specs: the layer-list JSON (tfjs layer names and config keys) -> unbuilt layers.

`parse_spec` validates every entry before anything is allocated; SpecError names the layer.
"""

from __future__ import annotations

import json
from typing import Any

from digitlab.nn.layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    pair,
    window_geometry,
)

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

_KEYS = {
    "conv2d": {"type", "filters", "kernelSize", "strides", "padding", "activation",
               "inputShape", "kernelInitializer", "name"},
    "maxPooling2d": {"type", "poolSize", "strides", "padding", "name"},
    "flatten": {"type", "name"},
    "dense": {"type", "units", "activation", "kernelInitializer", "name"},
    "dropout": {"type", "rate", "name"},
}  # fmt: skip


class SpecError(ValueError):
    """A model spec that cannot be built; the message names the layer index and field."""


def _positive_pair(layer: dict, index: int, field: str, default: Any) -> tuple[int, int]:
    value = layer.get(field, default)
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, list | tuple):
        ok = len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not ok or min(pair(value)) < 1:
        raise SpecError(f"layer {index} ({layer['type']}): {field} must be a positive integer "
                        f"or [h, w], got {value!r}")  # fmt: skip
    return pair(value)


def _choice(layer: dict, index: int, field: str, default: Any, allowed: tuple) -> Any:
    value = layer.get(field, default)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed if a is not None)
        raise SpecError(f"layer {index} ({layer['type']}): {field} must be one of {options}, "
                        f"got {value!r}")  # fmt: skip
    return value


def _positive_int(layer: dict, index: int, field: str) -> int:
    value = layer.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"layer {index} ({layer['type']}): {field} must be a positive integer, "
                        f"got {value!r}")  # fmt: skip
    return value


def _check_keys(layer: Any, index: int) -> str:
    if not isinstance(layer, dict):
        raise SpecError(f"layer {index}: must be an object with a 'type', got {layer!r}")
    kind = layer.get("type")
    if kind not in _KEYS:
        raise SpecError(f"layer {index}: unknown type {kind!r} (known: {', '.join(_KEYS)})")
    unknown = sorted(set(layer) - _KEYS[kind])
    if unknown:
        raise SpecError(f"layer {index} ({kind}): unknown key {unknown[0]!r}")
    if layer.get("kernelInitializer", "varianceScaling") != "varianceScaling":
        raise SpecError(f"layer {index} ({kind}): kernelInitializer must be 'varianceScaling'")
    if "inputShape" in layer and list(layer["inputShape"]) != list(INPUT_SHAPE):
        raise SpecError(f"layer {index} ({kind}): inputShape must be [28, 28, 1]")
    return kind


def _check_window(layer: dict, index: int, shape: tuple, size_field: str, size, strides, padding):
    if len(shape) != 3:
        raise SpecError(f"layer {index} ({layer['type']}): needs an image input, but the input "
                        f"is already flat {list(shape)}")  # fmt: skip
    for axis in (0, 1):
        if window_geometry(shape[axis], size[axis], strides[axis], padding)[0] < 1:
            raise SpecError(f"layer {index} ({layer['type']}): {size_field} {list(size)} is "
                            f"larger than its {shape[0]}x{shape[1]} input "
                            "(output below 1x1)")  # fmt: skip


def _layer_from_spec(layer: dict, index: int, shape: tuple) -> Layer:
    """One validated spec entry -> an unbuilt Layer for an input of `shape`."""
    kind = _check_keys(layer, index)
    if kind == "conv2d":
        filters = _positive_int(layer, index, "filters")
        size = _positive_pair(layer, index, "kernelSize", None)
        strides = _positive_pair(layer, index, "strides", 1)
        padding = _choice(layer, index, "padding", "valid", ("valid", "same"))
        activation = _choice(layer, index, "activation", "linear", ("relu", "linear", None))
        _check_window(layer, index, shape, "kernelSize", size, strides, padding)
        return Conv2D(filters, size, strides, padding, activation, needs_input_grad=index > 0)
    if kind == "maxPooling2d":
        size = _positive_pair(layer, index, "poolSize", 2)
        strides = _positive_pair(layer, index, "strides", size)
        padding = _choice(layer, index, "padding", "valid", ("valid", "same"))
        _check_window(layer, index, shape, "poolSize", size, strides, padding)
        return MaxPool2D(size, strides, padding)
    if kind == "flatten":
        return Flatten()
    if kind == "dense":
        if len(shape) != 1:
            raise SpecError(f"layer {index} (dense): needs a flat input; add a flatten layer "
                            f"before it (input is {list(shape)})")  # fmt: skip
        units = _positive_int(layer, index, "units")
        activation = _choice(layer, index, "activation", "linear",
                             ("relu", "softmax", "linear", None))  # fmt: skip
        return Dense(units, activation)
    rate = layer.get("rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate < 1:
        raise SpecError(f"layer {index} (dropout): rate must be a number in [0, 1), got {rate!r}")
    return Dropout(float(rate))


def _check_output(layers: list[Layer], spec: list) -> None:
    last = layers[-1] if layers else None
    if not isinstance(last, Dense) or last.units != NUM_CLASSES or last.activation != "softmax":
        index = len(spec) - 1
        raise SpecError(f"layer {index}: the last layer must be "
                        '{"type": "dense", "units": 10, "activation": "softmax"}')  # fmt: skip
    for index, layer in enumerate(layers[:-1]):
        if isinstance(layer, Dense) and layer.activation == "softmax":
            raise SpecError(f"layer {index} (dense): softmax is only allowed on the last layer")


def parse_spec(spec: str | list) -> list[Layer]:
    """Validate a layer list (or its JSON) and return unbuilt layers; SpecError names the layer."""
    if isinstance(spec, str) and not spec.lstrip().startswith("["):
        raise SpecError(f"unknown model {spec!r}: use 'tutorial', 'strong' or a layer list")
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as e:
            raise SpecError(f"model spec is not valid JSON: {e}") from None
    if not isinstance(spec, list) or not spec:
        raise SpecError("model must be 'tutorial', 'strong' or a non-empty list of layers")
    layers, shape = [], INPUT_SHAPE
    for index, entry in enumerate(spec):
        layer = _layer_from_spec(entry, index, shape)
        shape = layer.output_shape(shape)
        layers.append(layer)
    _check_output(layers, spec)
    return layers
