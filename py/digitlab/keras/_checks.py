"""Refusals shared by the Keras-style front: an argument the engine cannot honour is refused by
its Keras name (a DigitLabError the page words in the reader's language), never ignored.

An unknown keyword needs nothing here: every signature is explicit, so Python itself raises
its TypeError naming it, as for any function.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from digitlab.errors import DigitLabError

MODEL = "BAD_MODEL"  # a layer's or the model's arguments
CONFIG = "BAD_CONFIG"  # compile's, fit's, evaluate's, predict's and the optimisers' arguments


def same(a: Any, b: Any) -> bool:
    """Equal as argument values: tuples and lists alike, no NumPy truth-value surprises."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, list | tuple | np.ndarray) or isinstance(b, list | tuple | np.ndarray):
        return False
    if type(a) is bool or type(b) is bool:  # True == 1, but trainable=1 is not trainable=True
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def only_default(call: str, field: str, value: Any, default: Any, code: str = MODEL) -> None:
    """Refuse any value but the default: the engine has no counterpart for the argument."""
    if same(value, default):
        return
    if code == MODEL:
        raise DigitLabError("unsupported", code="BAD_MODEL", field=field, value=value, call=call)
    raise DigitLabError("unsupported", code="BAD_CONFIG", field=field, value=value, call=call)


def one_of(call: str, field: str, value: Any, choices: Iterable[Any], code: str = MODEL,
           shown: Iterable[Any] | None = None) -> None:
    """Refuse a value outside `choices`; the message lists `shown` (default: the choices)."""
    choices = list(choices)
    if any(same(value, choice) for choice in choices):
        return
    data = {"field": field, "value": value, "call": call,
            "choices": list(shown if shown is not None else choices)}
    if code == MODEL:
        raise DigitLabError("unsupported_choice", code="BAD_MODEL", **data)
    raise DigitLabError("unsupported_choice", code="BAD_CONFIG", **data)


def assign_weights(owner: str, current: list[np.ndarray], weights: list[Any]) -> None:
    """Keras's set_weights for a layer or a model: every array checked before any is
    written, so a wrong list changes nothing."""
    if len(weights) != len(current):
        raise ValueError(f"{owner} has {len(current)} weight arrays, got {len(weights)}")
    values = [np.asarray(value, dtype=np.float32) for value in weights]
    for target, value in zip(current, values, strict=True):
        if value.shape != target.shape:
            raise ValueError(f"{owner}: expected a weight of shape {target.shape}, "
                             f"got {value.shape}")
    for target, value in zip(current, values, strict=True):
        target[...] = value


def pair(value: Any) -> Any:
    """An int or a 2-sequence as a (h, w) tuple; anything else as given, for the spec to refuse
    in its own words."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    if isinstance(value, list | tuple) and len(value) == 2:
        return tuple(int(v) if isinstance(v, np.integer) else v for v in value)
    return value


def whole(value: Any) -> Any:
    """A NumPy integer as a Python int (the spec checks plain ints); anything else as given."""
    return int(value) if isinstance(value, np.integer) else value
