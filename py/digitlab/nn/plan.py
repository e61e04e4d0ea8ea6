"""Checking a model spec before anything is allocated: shapes, parameters, training memory.

The page's model builder asks for a plan on every edit, and train() asks once more before it
builds the model, so an impossible network is explained instead of crashing the wasm heap.
Every number here comes from the layers' own `output_shape`, never from a second copy of the
geometry rules. Problems are data (a BAD_MODEL error's `to_dict()`: code, reason, layer, ...);
`digitlab.i18n.describe` words them in the page's language.
"""

from __future__ import annotations

import math
from typing import Any

from digitlab.nn.layers import Conv2D, Dense
from digitlab.nn.spec import INPUT_SHAPE, SpecError, parse_spec
from digitlab.nn.zoo import ZOO

BYTES_PER_FLOAT = 4
# Training keeps four float32 copies of every parameter: the weights, their gradients and
# Adam's first and second moments.
PARAM_COPIES = 4
# Each layer's output is kept for the backward pass, and a buffer of about the same size holds
# its gradient (or the im2col columns a convolution multiplies).
ACTIVATION_COPIES = 2


def layer_params(layer: Any, input_shape: tuple[int, ...]) -> int:
    """Trainable parameters of an unbuilt layer: nothing is allocated to count them."""
    if isinstance(layer, Conv2D):
        kh, kw = layer.kernel_size
        return kh * kw * input_shape[-1] * layer.filters + layer.filters
    if isinstance(layer, Dense):
        return input_shape[-1] * layer.units + layer.units
    return 0


def estimate(spec: str | list, batch_size: int | None = None) -> dict:
    """Shapes, parameter count and estimated training memory of `spec`, without building it.

    Raises SpecError for a spec that cannot be built. With no batch size, activations are 0.
    """
    resolved = ZOO.get(spec, spec) if isinstance(spec, str) else spec
    layers = parse_spec(resolved)
    shape, rows = INPUT_SHAPE, []
    activations = math.prod(INPUT_SHAPE)
    for index, layer in enumerate(layers):
        params = layer_params(layer, shape)
        shape = layer.output_shape(shape)
        activations += math.prod(shape)
        rows.append({"index": index, "type": layer.kind, "output_shape": [None, *shape],
                     "params": params})
    params = sum(row["params"] for row in rows)
    param_bytes = params * BYTES_PER_FLOAT * PARAM_COPIES
    activation_bytes = activations * (batch_size or 0) * BYTES_PER_FLOAT * ACTIVATION_COPIES
    return {"layers": rows, "params": params, "paramBytes": param_bytes,
            "activationBytes": activation_bytes, "totalBytes": param_bytes + activation_bytes}


def check(spec: str | list, batch_size: int | None, budget_bytes: int | None) -> dict:
    """{"ok", "problems": [...], "estimate": {...} | None} for the builder and train()."""
    try:
        plan = estimate(spec, batch_size)
    except SpecError as error:
        return {"ok": False, "problems": [error.to_dict()], "estimate": None}
    problems = []
    if budget_bytes and plan["totalBytes"] > budget_bytes:
        # Name the layer that costs the most, counting its weights and its activations alike.
        def cost(row: dict) -> int:
            size = math.prod(row["output_shape"][1:]) * (batch_size or 0)
            return (row["params"] * PARAM_COPIES + size * ACTIVATION_COPIES) * BYTES_PER_FLOAT

        worst = max(plan["layers"], key=cost)
        problems.append(SpecError("memory", layer=worst["index"], layer_type=worst["type"],
                                  needed=plan["totalBytes"], budget=budget_bytes,
                                  param_count=plan["params"]).to_dict())
    return {"ok": not problems, "problems": problems, "estimate": plan}
