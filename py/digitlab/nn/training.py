"""The train() config: defaults filled in and every field checked against the schema.

The page's train() and the CLI both check here, so a bad setting is refused the same way in
both: a ConfigError (BAD_CONFIG) naming the field, its limits and the value given, before
anything is allocated. The model itself is checked by `nn/spec.py` (and `nn/plan.py`).
"""

from __future__ import annotations

import math
from typing import Any

from digitlab.errors import ConfigError
from digitlab.schema import TRAINING, TRAINING_DEFAULTS, TRAINING_IMAGES


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _checked(name: str, value: Any) -> Any:
    rules = TRAINING[name]
    kind = rules["kind"]
    if kind in ("int", "number") and not _is_number(value):
        raise ConfigError("type", field=name, value=value)
    if kind == "int":
        if value != int(value) or not rules["min"] <= value <= rules["max"]:
            raise ConfigError("range", field=name, value=value,
                              limits=[rules["min"], rules["max"]])
        return int(value)
    if kind == "number":
        low, high = rules["exclusiveMin"], rules.get("max")
        if value <= low or (high is not None and value > high):
            raise ConfigError("positive" if high is None else "fraction", field=name,
                              value=value, limits=[low, high])
        return value
    if kind == "choice" and value not in rules["choices"]:
        raise ConfigError("choice", field=name, value=value, choices=rules["choices"])
    if kind == "workers":  # 'auto' or a count
        if value in rules["choices"]:
            return value
        whole = _is_number(value) and value == int(value)
        if not whole or not rules["min"] <= value <= rules["max"]:
            raise ConfigError("range", field=name, value=value,
                              limits=[rules["min"], rules["max"]])
        return int(value)
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError("boolean", field=name, value=value)
    return value  # the model: nn/spec.py checks it


def check_config(raw: Any) -> dict[str, Any]:
    """The train() config with defaults filled in; ConfigError names the first bad field."""
    if not isinstance(raw, dict):
        raise ConfigError("not_object", value=raw)
    unknown = sorted(set(raw) - set(TRAINING))
    if unknown:
        raise ConfigError("unknown_field", field=unknown[0])
    config = {**TRAINING_DEFAULTS, **raw}
    for name in TRAINING:
        config[name] = _checked(name, config[name])
    if config["trainSize"] + config["validationSize"] > TRAINING_IMAGES:
        raise ConfigError("total", field="trainSize", other="validationSize",
                          value=config["trainSize"], other_value=config["validationSize"],
                          limits=[None, TRAINING_IMAGES])
    return config


def model_error(problem: dict[str, Any]) -> ConfigError:
    """A config whose model cannot be used: BAD_CONFIG on the `model` field, whose `cause` is
    the model's own problem (a BAD_MODEL error's dict: its layer, field and reason)."""
    return ConfigError("model", field="model", layer=problem.get("layer"), cause=problem)
