"""Errors as data: a stable `code`, a `reason` key and the values that explain it.

Nothing here makes sentences. `digitlab.i18n.describe` words an error (or its `to_dict()`) in
the reader's language, naming fields by the labels the page shows; `str(error)` is that same
wording in English with the names a programmer wrote (config keys, 0-based layer indices).
The codes and reasons are listed in `digitlab.schema.ERRORS`.
"""

from __future__ import annotations

import math
from typing import Any


class DigitLabError(Exception):
    """An error with a stable `code` (BAD_CONFIG, BAD_MODEL, ...) and a `reason` key.

    Optional data: `field` (the config key or layer field concerned), `layer` (its index in the
    model spec), `limits` ([low, high], either may be None), `value` (what was given), plus any
    named parameters the wording uses (`params`: e.g. `layer_type`, `choices`, `file`, and
    `cause`, an error this one wraps).
    """

    code = "INTERNAL"

    def __init__(self, reason: str, *, code: str | None = None, field: str | None = None,
                 layer: int | None = None, limits: list | tuple | None = None,
                 value: Any = None, **params: Any) -> None:
        super().__init__(reason)
        if code is not None:
            self.code = code
        self.reason = reason
        self.field = field
        self.layer = layer
        self.limits = list(limits) if limits is not None else None
        self.value = value
        self.params = params

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-safe data (what the page receives, next to the worded message)."""
        data = {"code": self.code, "reason": self.reason, "field": self.field,
                "layer": self.layer, "limits": json_safe(self.limits),
                "value": json_safe(self.value)}
        data.update({key: json_safe(value) for key, value in self.params.items()})
        return data

    def __str__(self) -> str:
        from digitlab.i18n import describe  # i18n words errors; importing it here avoids a cycle

        return describe(self, "en", framed=False, spec_names=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


def error(code: str, reason: str, **data: Any) -> DigitLabError:
    """A DigitLabError of any code, for the places that have no class of their own."""
    return DigitLabError(reason, code=code, **data)


def json_safe(value: Any) -> Any:
    """Plain JSON values: DigitLabErrors (causes) as their dicts, NumPy scalars as numbers,
    non-finite floats as None (JSON has no NaN), anything else as its repr."""
    if isinstance(value, DigitLabError):
        return value.to_dict()
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    item = getattr(value, "item", None)  # a NumPy scalar, without importing NumPy here
    if callable(item) and getattr(value, "shape", None) == ():
        return json_safe(item())
    return repr(value)


class ConfigError(DigitLabError, ValueError):
    """A bad argument of a call (the train() config, an index, a size): BAD_CONFIG."""

    code = "BAD_CONFIG"


class DataError(DigitLabError, ValueError):
    """An MNIST file that cannot be used: DATA_SPRITE or DATA_LABELS (pass `code`)."""

    code = "DATA_SPRITE"
