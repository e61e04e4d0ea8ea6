"""Every word DigitLab shows, in every language it speaks, and the one place errors become words.

`STRINGS[lang]` is one table per language (`en.py`, `zh_cn.py`): the page's own strings, the
text Python draws onto canvases (`canvas.*`) and the error wordings (`error.*`). build.py ships
the same tables to the page (`STRINGS` in js/schema.js), so both sides read one source.

`describe(error, lang)` words a `DigitLabError` (or its `to_dict()`): the reason's template
`error.<CODE>.<reason>` is filled in with the error's data, fields named by the label the
reader sees on the page, layers numbered from 1 as the builder shows them; the code's template
`error.<CODE>` then frames it ("This setting is not valid: ...").

Code in prose: a string may hold code segments between backticks (`MnistData.split`, a
file name, a config key, a value as the reader typed it). The page shows them as <code>
elements (js/i18n.js, text only: no markup is ever parsed); plain-text readers (the CLI, an
API caller's `error.message`) see the backticks, as in Markdown. Text that comes from data (a
value, a file name, an exception's message) never opens a segment: its backticks are shown
as the look-alike "ˋ". Canvas texts (`canvas.*`) have no segments: a canvas draws plain text.
"""

from __future__ import annotations

from typing import Any, Protocol

from digitlab import schema
from digitlab.i18n import en, zh_cn

STRINGS: dict[str, dict[str, str]] = {"en": en.STRINGS, "zh-CN": zh_cn.STRINGS}
assert tuple(STRINGS) == schema.LANGUAGES

# Parameters that hold a byte count or a count of weights, worded as such.
_BYTE_PARAMS = {"needed", "budget"}
_COUNT_PARAMS = {"param_count"}
# Parameters that are the reader's own input or a file's content: quoted, as in a spec.
_QUOTED_PARAMS = {"value", "other_value", "key"}
BACKTICK, LOOKALIKE = "`", "\u02cb"  # a backtick in data would open a code segment: ˋ instead


def table(lang: str) -> dict[str, str]:
    """The strings of `lang`, English when the language is unknown."""
    return STRINGS.get(lang, STRINGS[schema.DEFAULT_LANGUAGE])


def text(lang: str, key: str, **params: object) -> str:
    """The string `key` in `lang`, filled in."""
    return table(lang)[key].format(**params)


class Error(Protocol):
    """A digitlab.errors.DigitLabError (not imported: errors words itself through this module)."""

    def to_dict(self) -> dict[str, Any]: ...


def describe(error: Error | dict, lang: str = "en", *, framed: bool = True,
             spec_names: bool = False, segments: bool = True) -> str:
    """`error` in words, in `lang`.

    `framed=False` leaves out the code's frame (the builder lists model problems bare; the CLI
    prints no "press Retry"). `spec_names=True` names things as a programmer wrote them:
    fields by their keys, layers by their 0-based index and type, like any Python exception's
    message (this is `str(error)`). `segments=False` (implied by `spec_names`) drops the code
    segments' backticks: plain text for a terminal.
    """
    data = dict(error) if isinstance(error, dict) else error.to_dict()
    strings = table(lang)
    code = data.get("code") or "INTERNAL"
    params = _params(data, strings, lang, spec_names)
    template = strings.get(f"error.{code}.{data.get('reason')}")
    body = _fill(template, params) if template else plain(str(data.get("detail")
                                                              or data.get("reason")))
    if framed:
        body = _fill(strings.get(f"error.{code}", "{detail}"), {**params, "detail": body})
    return body if segments and not spec_names else strip_code(body)


def code(segment: str) -> str:
    """`segment` as a code segment of a string: between backticks, its own shown as ˋ."""
    return f"{BACKTICK}{plain(segment)}{BACKTICK}"


def plain(data: str) -> str:
    """Text from data, safe inside a string with code segments: it opens none."""
    return data.replace(BACKTICK, LOOKALIKE)


def strip_code(message: str) -> str:
    """`message` without its code segments' backticks, for text that cannot show <code>."""
    return message.replace(BACKTICK, "")


def _value(value: Any) -> str:
    """A value the reader wrote, as code (a number reads as prose: "got 0")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return show(value)
    return code(show(value))


class _Params(dict):
    """Template parameters; one a template names but the error lacks shows as "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, params: dict) -> str:
    return template.format_map(_Params(params))


def _params(data: dict, strings: dict[str, str], lang: str, spec_names: bool) -> dict:
    params: dict[str, Any] = {}
    for key, value in data.items():
        if key in _QUOTED_PARAMS:
            params[key] = _value(value)
        elif key in _BYTE_PARAMS and isinstance(value, int | float):
            params[key] = format_bytes(value)
        elif key in _COUNT_PARAMS and isinstance(value, int):
            params[key] = f"{value:,}"
        elif key == "cause" and isinstance(value, dict):
            params[key] = describe(value, lang, framed=False, spec_names=spec_names)
        elif isinstance(value, str):
            params[key] = plain(value)
        elif value is not None:
            params[key] = plain(show(value))
    limits = data.get("limits") or [None, None]
    params["low"], params["high"] = show(limits[0]), show(limits[1])
    if data.get("choices") is not None:
        params["choices"] = ", ".join(_value(choice) for choice in data["choices"])
    if data.get("stage"):
        params["stage"] = strings.get(f"stage.{data['stage']}", data["stage"])
    params["field"] = _field_name(data.get("field"), data, strings, spec_names)
    if data.get("other"):
        params["other"] = _field_name(data["other"], data, strings, spec_names)
        params["fields"] = _field_pair(data, strings, spec_names)
    kind = data.get("layer_type")
    if kind is not None:
        params["type"] = kind if spec_names else strings.get(f"builder.type.{kind}", str(kind))
    params["where"] = _where(data, strings, spec_names)
    return params


def _label_key(field: str, data: dict) -> str | None:
    """The page's label for `field`: a layer's field, a train() config field, a call argument."""
    layer = schema.LAYERS.get(data.get("layer_type"))
    if layer is not None and field in layer["fields"]:
        return f"builder.{field}"
    if field in schema.TRAINING:
        return schema.TRAINING[field]["label"]
    if field in schema.ARGUMENTS:
        return schema.ARGUMENTS[field]["label"]
    return None


def _field_name(field: str | None, data: dict, strings: dict[str, str], spec_names: bool) -> str:
    if field is None:
        return "?"
    label = _label_key(field, data)
    if label is None or label not in strings:
        return _value(field)  # a key we do not know: quoted, exactly as it was given
    if spec_names:
        return field
    return _fill(strings["error.field"], {"label": strings[label], "key": plain(field)})


def _field_pair(data: dict, strings: dict[str, str], spec_names: bool) -> str:
    """Two fields that are checked together, e.g. trainSize + validationSize."""
    field, other = data.get("field"), data["other"]
    keys = plain(f"{field} + {other}")
    labels = [_label_key(name, data) for name in (field, other)]
    if spec_names:
        return keys
    if None in labels:
        return code(keys)
    label = f"{strings[labels[0]]} + {strings[labels[1]]}"
    return _fill(strings["error.field"], {"label": label, "key": keys})


def _where(data: dict, strings: dict[str, str], spec_names: bool) -> str:
    """Which part of the model: the whole spec, or layer n (and its type)."""
    layer, kind = data.get("layer"), data.get("layer_type")
    if layer is None:
        return strings["error.where.model"]
    if spec_names:  # as in the spec: list index and type name
        return f"layer {layer}" if kind is None else f"layer {layer} ({kind})"
    key = "error.where.index" if kind is None else "error.where.layer"
    return _fill(strings[key], {"n": layer + 1,
                                "type": strings.get(f"builder.type.{kind}", str(kind))})


def show(value: Any) -> str:
    """A value as the reader wrote it in JSON or Python: strings quoted, lists in brackets."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


def format_bytes(count: float) -> str:
    """Decimal MB or GB with one decimal, as the page's formatBytes writes them."""
    return f"{count / 1e9:.1f} GB" if count >= 1e8 else f"{count / 1e6:.1f} MB"
