"""The weights file: one .npz read with allow_pickle=False, the same in the page and the CLI.

Keys: "format_version" (int 1), "model_spec" (the layer-list JSON), "model_name", every
parameter as "<layer name>/<param>", and optionally the optimiser state: "optimizer/type",
"optimizer/learning_rate", "optimizer/step", "optimizer/momentum" (sgd) and one array per slot
as "optimizer/<layer name>/<param>/<slot>" (adam: m, v; sgd: velocity).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from digitlab.errors import DigitLabError
from digitlab.nn.optim import OPTIMIZERS, Optimizer, optimizer_from_state
from digitlab.nn.sequential import Sequential
from digitlab.nn.spec import SpecError
from digitlab.nn.zoo import ZOO, build_model

FORMAT_VERSION = 1
MAX_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 4 * MAX_BYTES  # guards against zip bombs
OPTIMIZER_PREFIX = "optimizer/"
_SLOTS = {"adam": ("m", "v"), "sgd": ("velocity",)}
_META = {"format_version", "model_spec", "model_name"}


class BadWeights(DigitLabError, ValueError):
    """A weights file that cannot be loaded (BAD_WEIGHTS); `reason` and `key` say which part."""

    code = "BAD_WEIGHTS"


def save(model: Sequential, optimizer: Optimizer | None = None) -> bytes:
    """The model (and optionally the optimiser state) as weights-file bytes."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int32),
        "model_spec": np.array(model.spec_json()),
        "model_name": np.array(model.name),
    }
    arrays.update({k: v.astype(np.float32) for k, v in model.parameters().items()})
    if optimizer is not None:
        state = optimizer.state()
        arrays[OPTIMIZER_PREFIX + "type"] = np.array(state["type"])
        arrays[OPTIMIZER_PREFIX + "learning_rate"] = np.array(state["learning_rate"], np.float64)
        arrays[OPTIMIZER_PREFIX + "step"] = np.array(state["step"], dtype=np.int64)
        if "momentum" in state:
            arrays[OPTIMIZER_PREFIX + "momentum"] = np.array(state["momentum"], np.float64)
        for key, slot in state["slots"].items():
            arrays[OPTIMIZER_PREFIX + key] = slot.astype(np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load(data: bytes | bytearray | memoryview) -> tuple[Sequential, Optimizer | None]:
    """Weights-file bytes -> (model, optimiser with its state or None); BadWeights if invalid."""
    arrays = _read_arrays(bytes(data))
    model = _model_from(arrays)
    params = _checked_params(arrays, model)
    optimizer = _optimizer_from(arrays, params)
    extra = sorted(set(arrays) - _META - set(params) - _optimizer_keys(arrays))
    if extra:
        raise BadWeights("unexpected", key=extra[0])
    model.set_parameters(params)
    if optimizer is not None:
        model.compile(optimizer)
    return model, optimizer


def load_into(model: Sequential, data: bytes | bytearray | memoryview) -> None:
    """Make `model` the file's model: its architecture, weights and optimiser state.

    The file is fully validated first; on BadWeights `model` is left unchanged.
    """
    loaded, optimizer = load(data)
    model.layers, model.output_shapes = loaded.layers, loaded.output_shapes
    model.name, model.optimizer = loaded.name, optimizer


def _read_arrays(data: bytes) -> dict[str, np.ndarray]:
    if not data:
        raise BadWeights("empty")
    if len(data) > MAX_BYTES:
        raise BadWeights("too_large", size_mb=round(len(data) / 2**20, 1),
                         limit_mb=MAX_BYTES // 2**20)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BadWeights("not_zip") from None
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise BadWeights("unpacks_too_large", limit_mb=MAX_UNPACKED_BYTES // 2**20)
    if not members or any(not m.filename.endswith(".npy") for m in members):
        raise BadWeights("not_npz")
    arrays, key = {}, None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for key in npz.files:
                arrays[key] = npz[key]
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise BadWeights("pickled", key=key) from None
        raise BadWeights("unreadable", key=key, detail=str(e)) from None
    except Exception as e:
        raise BadWeights("unreadable", key=key, detail=str(e)) from None
    return arrays


def _scalar(arrays: dict, key: str, kind: str):
    """A 0-d array of the given numpy kind ('i' int, 'f' float, 'U' str) as a Python value."""
    value = arrays.get(key)
    if value is None:
        raise BadWeights("missing", key=key)
    kinds = {"i": "iu", "f": "fiu", "U": "U"}[kind]
    if value.shape != () or value.dtype.kind not in kinds:
        raise BadWeights("wrong_type", key=key, dtype=str(value.dtype), shape=list(value.shape))
    return value.item()


def _model_from(arrays: dict) -> Sequential:
    version = _scalar(arrays, "format_version", "i")
    if version != FORMAT_VERSION:
        raise BadWeights("version", value=version, expected=FORMAT_VERSION)
    text = _scalar(arrays, "model_spec", "U")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadWeights("bad_spec", cause=SpecError("json", line=e.lineno, column=e.colno)) \
            from None
    try:
        model = build_model(spec)
    except SpecError as e:
        raise BadWeights("bad_spec", cause=e) from None
    name = _scalar(arrays, "model_name", "U") if "model_name" in arrays else "custom"
    model.name = name if name in ZOO else "custom"
    return model


def _checked_array(arrays: dict, key: str, shape: tuple) -> np.ndarray:
    value = arrays.get(key)
    if value is None:
        raise BadWeights("missing", key=key)
    if value.dtype.kind != "f":
        raise BadWeights("dtype", key=key, dtype=str(value.dtype))
    if value.shape != shape:
        raise BadWeights("shape", key=key, shape=list(value.shape), expected=list(shape))
    if not np.isfinite(value).all():
        raise BadWeights("not_finite", key=key)
    return value.astype(np.float32)


def _checked_params(arrays: dict, model: Sequential) -> dict[str, np.ndarray]:
    return {k: _checked_array(arrays, k, v.shape) for k, v in model.parameters().items()}


def _optimizer_keys(arrays: dict) -> set[str]:
    return {k for k in arrays if k.startswith(OPTIMIZER_PREFIX)}


def _optimizer_from(arrays: dict, params: dict[str, np.ndarray]) -> Optimizer | None:
    keys = _optimizer_keys(arrays)
    if not keys:
        return None
    kind = _scalar(arrays, OPTIMIZER_PREFIX + "type", "U")
    if kind not in OPTIMIZERS:
        raise BadWeights("unknown_optimizer", value=kind)
    lr = _scalar(arrays, OPTIMIZER_PREFIX + "learning_rate", "f")
    step = _scalar(arrays, OPTIMIZER_PREFIX + "step", "i")
    if not (np.isfinite(lr) and lr > 0) or step < 0:
        raise BadWeights("optimizer_range")
    state = {"type": kind, "learning_rate": lr, "step": step, "slots": {}}
    meta = {OPTIMIZER_PREFIX + k for k in ("type", "learning_rate", "step", "momentum")}
    if OPTIMIZER_PREFIX + "momentum" in arrays:
        state["momentum"] = _scalar(arrays, OPTIMIZER_PREFIX + "momentum", "f")
    for key in sorted(keys - meta):
        slot_key = key[len(OPTIMIZER_PREFIX) :]
        param_key, _, slot = slot_key.rpartition("/")
        if param_key not in params or slot not in _SLOTS[kind]:
            raise BadWeights("unexpected", key=key)
        state["slots"][slot_key] = _checked_array(arrays, key, params[param_key].shape)
    return optimizer_from_state(state)
