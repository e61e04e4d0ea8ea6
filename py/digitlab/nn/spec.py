"""Model specs: the layer-list JSON (tfjs layer names and config keys) -> unbuilt layers.

The layer config is the schema, as in Keras: every field is checked against
`digitlab.schema.LAYERS` (its kind, default, choices and limits), so the builder, the page and
this parser agree on what a layer may hold. `parse_spec` validates every entry before anything
is allocated; a SpecError (BAD_MODEL) carries the layer index, its type, the field and a reason.
"""

from __future__ import annotations

import json
from typing import Any

from digitlab.errors import DigitLabError
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
from digitlab.schema import INPUT_SHAPE, LAYERS, NUM_CLASSES, OUTPUT_LAYER, ZOO_MODELS

__all__ = ["INPUT_SHAPE", "NUM_CLASSES", "SpecError", "parse_spec"]


class SpecError(DigitLabError, ValueError):
    """A model spec that cannot be built (BAD_MODEL): `layer`, `type`, `field` say where."""

    code = "BAD_MODEL"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_size(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return len(value) == 2 and all(_is_int(v) for v in value)
    return _is_int(value)


def _field(layer: dict, index: int, kind: str, name: str, rules: dict, resolved: dict) -> Any:
    """One field of a layer, checked against its rules; absent fields take their default."""
    if name not in layer and not rules.get("required"):
        if "defaultFrom" in rules:
            return resolved[rules["defaultFrom"]]
        default = rules.get("default")
        return pair(default) if rules["kind"] == "size" else default
    value = layer.get(name)
    where = {"layer": index, "layer_type": kind, "field": name, "value": value}
    check = rules["kind"]
    if check == "int" and not (_is_int(value) and value >= rules["min"]):
        raise SpecError("positive_int", **where)
    if check == "size":
        if not (_is_size(value) and min(pair(value)) >= rules["min"]):
            raise SpecError("positive_size", **where)
        return pair(value)
    if check == "choice" and value not in rules["choices"] \
            and not (value is None and rules.get("nullable")):
        raise SpecError("choice", choices=rules["choices"], **where)
    if check == "rate":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and rules["min"] <= value < rules["exclusiveMax"]):
            raise SpecError("rate", limits=[rules["min"], rules["exclusiveMax"]], **where)
        return float(value)
    if check == "shape" and not (isinstance(value, list | tuple)
                                 and list(value) in rules["choices"]):
        raise SpecError("input_shape", **where)
    return value


def _config(layer: Any, index: int) -> tuple[str, dict]:
    """(type, every field of the schema with its checked or default value)."""
    if not isinstance(layer, dict):
        raise SpecError("not_object", layer=index, value=layer)
    kind = layer.get("type")
    if not isinstance(kind, str) or kind not in LAYERS:
        raise SpecError("unknown_type", layer=index, value=kind, choices=list(LAYERS))
    fields = LAYERS[kind]["fields"]
    unknown = sorted(set(layer) - set(fields) - {"type"})
    if unknown:
        raise SpecError("unknown_field", layer=index, layer_type=kind, field=unknown[0])
    resolved: dict[str, Any] = {}
    for name, rules in fields.items():
        resolved[name] = _field(layer, index, kind, name, rules, resolved)
    return kind, resolved


def _check_window(kind: str, index: int, shape: tuple, size_field: str, size: tuple,
                  strides: tuple, padding: str) -> None:
    if len(shape) != 3:
        raise SpecError("needs_image", layer=index, layer_type=kind, shape=list(shape))
    for axis in (0, 1):
        if window_geometry(shape[axis], size[axis], strides[axis], padding)[0] < 1:
            raise SpecError("shrinks", layer=index, layer_type=kind, field=size_field,
                            size=list(size), input=f"{shape[0]}x{shape[1]}")


def _layer_from_spec(layer: Any, index: int, shape: tuple) -> Layer:
    """One validated spec entry -> an unbuilt Layer for an input of `shape`."""
    kind, c = _config(layer, index)
    if kind == "conv2d":
        _check_window(kind, index, shape, "kernelSize", c["kernelSize"], c["strides"],
                      c["padding"])
        return Conv2D(c["filters"], c["kernelSize"], c["strides"], c["padding"],
                      c["activation"], needs_input_grad=index > 0,
                      kernel_initializer=c["kernelInitializer"])
    if kind == "maxPooling2d":
        _check_window(kind, index, shape, "poolSize", c["poolSize"], c["strides"], c["padding"])
        return MaxPool2D(c["poolSize"], c["strides"], c["padding"])
    if kind == "flatten":
        return Flatten()
    if kind == "dense":
        if len(shape) != 1:
            raise SpecError("needs_flatten", layer=index, layer_type=kind, shape=list(shape))
        return Dense(c["units"], c["activation"], kernel_initializer=c["kernelInitializer"])
    return Dropout(c["rate"])


def _check_output(layers: list[Layer], spec: list) -> None:
    last = layers[-1]
    if not isinstance(last, Dense) or last.units != NUM_CLASSES or last.activation != "softmax":
        raise SpecError("last_layer", layer=len(spec) - 1, expected=OUTPUT_LAYER)
    for index, layer in enumerate(layers[:-1]):
        if isinstance(layer, Dense) and layer.activation == "softmax":
            raise SpecError("softmax_last", layer=index, layer_type="dense")


def parse_spec(spec: str | list, complete: bool = True) -> list[Layer]:
    """Validate a layer list (or its JSON) and return unbuilt layers; SpecError names the layer.

    `complete=False` checks a model still being put together (digitlab.keras's `add`): every
    layer and shape as usual, but not yet that it ends in the 10-way softmax."""
    if isinstance(spec, str) and not spec.lstrip().startswith("["):
        raise SpecError("unknown_model", value=spec, choices=list(ZOO_MODELS))
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as e:
            raise SpecError("json", line=e.lineno, column=e.colno) from None
    if not isinstance(spec, list) or not spec:
        raise SpecError("not_list", value=spec)
    layers, shape = [], INPUT_SHAPE
    for index, entry in enumerate(spec):
        layer = _layer_from_spec(entry, index, shape)
        shape = layer.output_shape(shape)
        layers.append(layer)
    if complete:
        _check_output(layers, spec)
    return layers
