"""Checking a model spec before anything is allocated: shapes, parameters, training memory.

The page's model builder asks for a plan on every edit, and train() asks once more before it
builds the model, so an impossible network is explained instead of crashing the wasm heap.
Every number here comes from the layers' own `output_shape`, never from a second copy of the
geometry rules; problems are structured (layer index + reason key) so they can be worded in the
page's language by `strings.py`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from digitlab.nn.layers import Conv2D, Dense
from digitlab.nn.spec import INPUT_SHAPE, SpecError, parse_spec
from digitlab.nn.zoo import ZOO
from digitlab.web.strings import text

BYTES_PER_FLOAT = 4
# Training keeps four float32 copies of every parameter: the weights, their gradients and
# Adam's first and second moments.
PARAM_COPIES = 4
# Each layer's output is kept for the backward pass, and a buffer of about the same size holds
# its gradient (or the im2col columns a convolution multiplies).
ACTIVATION_COPIES = 2

_LAYER_ERROR = re.compile(r"^layer (\d+)(?: \((\w+)\))?: (.*)$", re.S)
_INPUT_SIZE = re.compile(r"its (\d+x\d+) input")


def layer_params(layer: Any, input_shape: tuple[int, ...]) -> int:
    """Trainable parameters of an unbuilt layer: nothing is allocated to count them."""
    if isinstance(layer, Conv2D):
        kh, kw = layer.kernel_size
        return kh * kw * input_shape[-1] * layer.filters + layer.filters
    if isinstance(layer, Dense):
        return input_shape[-1] * layer.units + layer.units
    return 0


def spec_problem(error: Exception) -> dict:
    """A SpecError (or a stray ValueError/TypeError) as a structured problem:
    {"layer": index | None, "type", "reason", "detail", ...}."""
    message = str(error)
    match = _LAYER_ERROR.match(message)
    if not match:
        return {"layer": None, "type": None, "reason": "invalid", "detail": message}
    index, kind, detail = int(match[1]), match[2], match[3]
    problem = {"layer": index, "type": kind, "reason": "invalid", "detail": detail}
    if "below 1x1" in detail:
        size = _INPUT_SIZE.search(detail)
        problem.update(reason="shrinks", input=size[1] if size else "?")
    elif "needs a flat input" in detail:
        problem["reason"] = "needs_flatten"
    elif "needs an image input" in detail:
        problem["reason"] = "needs_image"
    elif "the last layer must be" in detail:
        problem["reason"] = "last_layer"
    elif "softmax is only allowed" in detail:
        problem["reason"] = "softmax_last"
    return problem


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
    except (SpecError, ValueError, TypeError) as error:  # TypeError: e.g. a layer that is a list
        return {"ok": False, "problems": [spec_problem(error)], "estimate": None}
    problems = []
    if budget_bytes and plan["totalBytes"] > budget_bytes:
        # Name the layer that costs the most, counting its weights and its activations alike.
        def cost(row: dict) -> int:
            size = math.prod(row["output_shape"][1:]) * (batch_size or 0)
            return (row["params"] * PARAM_COPIES + size * ACTIVATION_COPIES) * BYTES_PER_FLOAT

        worst = max(plan["layers"], key=cost)
        problems.append({"layer": worst["index"], "type": worst["type"], "reason": "memory",
                         "needed": plan["totalBytes"], "budget": budget_bytes,
                         "params": plan["params"]})
    return {"ok": not problems, "problems": problems, "estimate": plan}


def format_bytes(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e8 else f"{count / 1e6:.1f} MB"


def describe(problem: dict, lang: str) -> str:
    """One problem in the page's language; layers are numbered from 1, as the builder shows."""
    kind = problem.get("type")
    layer = text(lang, f"layer_{kind}") if kind in ZOO_TYPES else (kind or "?")
    params = {"n": (problem["layer"] or 0) + 1, "type": layer, "detail": problem.get("detail", ""),
              "input": problem.get("input", "?")}
    if problem["reason"] == "memory":
        params.update(needed=format_bytes(problem["needed"]),
                      budget=format_bytes(problem["budget"]), params=f"{problem['params']:,}")
    if problem["layer"] is None and problem["reason"] == "invalid":
        return text(lang, "problem_model", detail=params["detail"])
    return text(lang, f"problem_{problem['reason']}", **params)


ZOO_TYPES = ("conv2d", "maxPooling2d", "flatten", "dense", "dropout")
