"""The TensorFlow.js Layers format: a model in DigitLab <-> `model.json` + `model.weights.bin`.

What TF.js 4.22's `model.save()` writes and `tf.loadLayersModel()` reads: `model.json` holds
`format: "layers-model"`, the Keras topology (`modelTopology`: class_name/config pairs with
snake_case keys, `batch_input_shape` on the first layer) and a `weightsManifest` (groups of
shard `paths` and the `weights` they hold in order: `<layer name>/kernel`, `<layer name>/bias`);
the `.bin` is those weights back to back as little-endian float32.

No layout conversion is needed: the engine's images are NHWC (channels last) like TF.js's,
its Conv2D kernels are [kh, kw, in, out] and its Dense kernels [in, units] as in TF.js, and its
Flatten reads (h, w, c) in C order, which is TF.js's channels-last flatten. So the Dense kernel
after a Flatten is written and read as it is.

Import accepts what TF.js and Keras (through tensorflowjs_converter) write: snake_case or
camelCase keys, a Keras `model_config` wrapper, a leading InputLayer, several manifest groups
and shards, TF 2.2's `<layer>/<cell>/<weight>` and Keras 3's `<layer>/<index>` weight names.
Settings that only matter when a model is created (initialisers, `name`, `trainable`, a seed)
are ignored; every other setting must be one the engine computes exactly (anything else, e.g.
a regulariser or constraint, which DigitLab's training would not apply, is refused, naming the
layer and the setting). Everything is checked, and the memory plan consulted, before a model is
built: a refused file changes nothing.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from posixpath import basename
from typing import Any

import numpy as np

from digitlab.errors import DigitLabError
from digitlab.nn import plan
from digitlab.nn.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D
from digitlab.nn.sequential import Sequential, layer_names
from digitlab.nn.spec import INPUT_SHAPE, parse_spec
from digitlab.nn.weights import MAX_BYTES, MAX_UNPACKED_BYTES
from digitlab.nn.zoo import ZOO, build_model

MODEL_JSON = "model.json"
WEIGHTS_BIN = "model.weights.bin"  # the name model.save('downloads://model') gives the .bin
TFJS_VERSION = "4.22.0"  # the tfjs-layers whose model.save output this module writes
BATCH_INPUT_SHAPE = [None, *INPUT_SHAPE]
SUPPORTED_LAYERS = ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout"]
# Settings that do not change what a layer computes or how DigitLab trains it.
IGNORED = {"name", "trainable", "kernel_initializer", "bias_initializer", "seed",
           "batch_input_shape", "batch_shape", "input_shape", "dtype"}
_ACTIVATIONS = {"conv2d": ["relu", "linear"], "dense": ["relu", "softmax", "linear"]}


class BadTfjs(DigitLabError, ValueError):
    """A TF.js model that cannot be imported (BAD_TFJS); `reason` and its data say which part."""

    code = "BAD_TFJS"


# ---------------------------------------------------------------- export

def _initializer(layer: Layer) -> dict:
    # What the layer was initialised with (nn/layers.py): the codelab's variance_scaling unless
    # its spec says glorotUniform (Keras's default, which the Keras-style front may ask for).
    if getattr(layer, "kernel_initializer", "varianceScaling") == "glorotUniform":
        return {"class_name": "GlorotUniform", "config": {"seed": None}}
    return {"class_name": "VarianceScaling",
            "config": {"scale": 1, "mode": "fan_in", "distribution": "normal", "seed": None}}


def _layer_json(layer: Layer, name: str) -> dict:
    """One layer as TF.js 4.22 serialises it (same keys, same order)."""
    if isinstance(layer, Conv2D):
        config = {"filters": layer.filters, "kernel_initializer": _initializer(layer),
                  "kernel_regularizer": None, "kernel_constraint": None,
                  "kernel_size": list(layer.kernel_size), "strides": list(layer.strides),
                  "padding": layer.padding, "data_format": "channels_last",
                  "dilation_rate": [1, 1], "activation": layer.activation or "linear",
                  "use_bias": True, "bias_initializer": {"class_name": "Zeros", "config": {}},
                  "bias_regularizer": None, "activity_regularizer": None,
                  "bias_constraint": None}
        class_name = "Conv2D"
    elif isinstance(layer, MaxPool2D):
        config = {"pool_size": list(layer.pool_size), "padding": layer.padding,
                  "strides": list(layer.strides), "data_format": "channels_last"}
        class_name = "MaxPooling2D"
    elif isinstance(layer, Flatten):
        config, class_name = {}, "Flatten"
    elif isinstance(layer, Dense):
        config = {"units": layer.units, "activation": layer.activation or "linear",
                  "use_bias": True, "kernel_initializer": _initializer(layer),
                  "bias_initializer": {"class_name": "Zeros", "config": {}},
                  "kernel_regularizer": None, "bias_regularizer": None,
                  "activity_regularizer": None, "kernel_constraint": None,
                  "bias_constraint": None}
        class_name = "Dense"
    elif isinstance(layer, Dropout):
        config, class_name = {"rate": layer.rate, "noise_shape": None, "seed": None}, "Dropout"
    else:  # the spec parser builds no other layer
        raise TypeError(f"no TF.js form for {type(layer).__name__}")
    return {"class_name": class_name, "config": {**config, "name": name, "trainable": True}}


def to_tfjs(model: Sequential, weights_path: str = WEIGHTS_BIN) -> tuple[dict, bytes]:
    """(model.json as a dict, the .bin's bytes) for `model`, as TF.js's model.save writes them."""
    layers, specs, chunks = [], [], []
    for index, (layer, name) in enumerate(zip(model.layers, layer_names(model.layers),
                                              strict=True)):
        entry = _layer_json(layer, name)
        if index == 0:
            entry["config"].update(batch_input_shape=BATCH_INPUT_SHAPE, dtype="float32")
        layers.append(entry)
        for param in ("kernel", "bias"):
            if param in layer.params:
                value = np.ascontiguousarray(layer.params[param], dtype="<f4")
                specs.append({"name": f"{name}/{param}", "shape": list(value.shape),
                              "dtype": "float32"})
                chunks.append(value.tobytes())
    model_json = {
        "modelTopology": {"class_name": "Sequential",
                          "config": {"name": "sequential_1", "layers": layers},
                          "keras_version": f"tfjs-layers {TFJS_VERSION}",
                          "backend": "tensor_flow.js"},
        "format": "layers-model",
        "generatedBy": "DigitLab",
        "convertedBy": None,
        "weightsManifest": [{"paths": [f"./{weights_path}"], "weights": specs}],
    }
    return model_json, b"".join(chunks)


def export_files(model: Sequential) -> dict[str, bytes]:
    """{"model.json": ..., "model.weights.bin": ...}: the two files TF.js loads."""
    model_json, data = to_tfjs(model)
    return {MODEL_JSON: json.dumps(model_json, indent=1).encode(), WEIGHTS_BIN: data}


def export_zip(model: Sequential) -> bytes:
    """The two files in one zip (one download in the page)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in export_files(model).items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------- import: files

def looks_like_json(data: bytes) -> bool:
    """A model.json given alone (its first character is `{`)."""
    return data[:64].lstrip()[:1] == b"{"


def is_tfjs_zip(data: bytes) -> bool:
    """A zip archive holding a `.json` file (a .npz holds only `.npy` arrays)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.lower().endswith(".json") for name in _member_names(archive))
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _member_names(archive: zipfile.ZipFile) -> list[str]:
    # Folders, and the "._" resource forks macOS's archiver adds, are not the model's files.
    return [info.filename for info in archive.infolist() if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and not basename(info.filename).startswith("._")]


def read_zip(data: bytes) -> dict[str, bytes]:
    """A zip's files by their names inside it; refused when it would unpack too large."""
    if len(data) > MAX_BYTES:
        raise BadTfjs("too_large", size_mb=round(len(data) / 2**20, 1),
                      limit_mb=MAX_BYTES // 2**20)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = _member_names(archive)
            if sum(archive.getinfo(name).file_size for name in names) > MAX_UNPACKED_BYTES:
                raise BadTfjs("unpacks_too_large", limit_mb=MAX_UNPACKED_BYTES // 2**20)
            return {name: archive.read(name) for name in names}
    except BadTfjs:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:  # a corrupt archive
        raise BadTfjs("bad_zip", detail=str(e)) from None


def load_zip(data: bytes, budget_bytes: int | None = None) -> Sequential:
    """A zip holding model.json and its .bin -> the model."""
    return load_files(read_zip(data), budget_bytes)


def load_files(files: dict[str, bytes], budget_bytes: int | None = None) -> Sequential:
    """model.json and its weight files, by file name (paths ignored) -> a new Sequential.

    Raises BadTfjs naming what is wrong; nothing is built until everything has been checked.
    """
    jsons = [name for name in files if name.lower().endswith(".json")]
    if not jsons:
        raise BadTfjs("no_model_json", files=", ".join(sorted(files)) or "-")
    if len(jsons) > 1:
        raise BadTfjs("several_json", files=", ".join(sorted(jsons)))
    size = sum(len(data) for data in files.values())
    if size > MAX_BYTES:
        raise BadTfjs("too_large", size_mb=round(size / 2**20, 1), limit_mb=MAX_BYTES // 2**20)
    model_json = _parse_json(files[jsons[0]])
    spec, names = spec_from_topology(model_json)
    checked = plan.check(spec, None, budget_bytes)
    if not checked["ok"]:
        raise BadTfjs("bad_spec", cause=checked["problems"][0])
    layers = parse_spec(spec)
    expected = _expected_weights(layers, names)
    param_bytes = 4 * sum(math.prod(shape) for shape in expected.values())
    if param_bytes > MAX_BYTES:
        raise BadTfjs("too_large", size_mb=round(param_bytes / 2**20, 1),
                      limit_mb=MAX_BYTES // 2**20)
    by_name = {basename(name): data for name, data in files.items()}
    weights = _read_manifest(model_json, by_name)
    params = _match_weights(expected, weights)
    model = build_model(spec, seed=0)
    model.set_parameters(_engine_params(model, params))
    model.name = zoo_name(model)
    return model


def weight_paths(model_json: bytes) -> list[str]:
    """The file names of the weight shards a model.json names (none when it is unreadable:
    load_files then says why)."""
    try:
        manifest = json.loads(model_json.decode("utf-8-sig")).get("weightsManifest")
        return [basename(path) for group in manifest for path in group["paths"]]
    except (ValueError, AttributeError, TypeError, KeyError):
        return []


def zoo_name(model: Sequential) -> str:
    """'tutorial' or 'strong' when the model has exactly a zoo model's layers, else 'custom'."""
    layers = [layer.config() for layer in model.layers]
    return next((name for name, spec in ZOO.items()
                 if [layer.config() for layer in parse_spec(spec)] == layers), "custom")


def _parse_json(data: bytes) -> dict:
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BadTfjs("not_json", line=1, column=1) from None
    except json.JSONDecodeError as e:
        raise BadTfjs("not_json", line=e.lineno, column=e.colno) from None
    if not isinstance(value, dict):
        raise BadTfjs("not_model_json")
    return value


# ---------------------------------------------------------------- import: the topology

def _snake(key: str) -> str:
    """kernelSize -> kernel_size: TF.js reads either, and so does this."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


def _dtype_name(value: Any) -> Any:
    """'float32', or Keras 3's dtype policy {"class_name": "DTypePolicy", "config": {name}}."""
    if isinstance(value, dict):
        return (value.get("config") or {}).get("name")
    return value


def spec_from_topology(model_json: dict) -> tuple[list[dict], list[str]]:
    """DigitLab's layer list for the model.json, and each layer's name in the file."""
    form = model_json.get("format")
    if form is not None and form != "layers-model":
        raise BadTfjs("not_layers_model", value=form)
    topology = model_json.get("modelTopology")
    if not isinstance(topology, dict):
        raise BadTfjs("no_topology")
    topology = topology.get("model_config", topology)  # Keras's converter wraps it
    class_name = topology.get("class_name") if isinstance(topology, dict) else None
    if class_name != "Sequential":
        raise BadTfjs("not_sequential", value=class_name)
    config = topology.get("config")
    entries = config.get("layers") if isinstance(config, dict) else config
    if not isinstance(entries, list) or not entries:
        raise BadTfjs("no_layers")
    spec, names, input_shape = [], [], None
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
            raise BadTfjs("layer_not_object", layer=index, position=index + 1)
        kind = entry.get("class_name")
        layer_config = {_snake(key): value for key, value in (entry.get("config") or {}).items()}
        name = str(layer_config.get("name") or f"layer_{index + 1}")
        where = {"layer": index, "position": index + 1, "name": name, "class_name": str(kind)}
        dtype = _dtype_name(layer_config.get("dtype"))
        if dtype not in (None, "float32"):
            raise BadTfjs("setting", setting="dtype", value=dtype, choices=["float32"], **where)
        shape = _input_shape(layer_config)
        if shape is not None and input_shape is None:
            input_shape = shape
            if list(shape) != BATCH_INPUT_SHAPE:
                raise BadTfjs("input_shape", value=list(shape), expected=BATCH_INPUT_SHAPE,
                              **where)
        if kind == "InputLayer" and index == 0:
            continue
        if kind not in SUPPORTED_LAYERS:
            raise BadTfjs("unknown_layer", value=kind, choices=SUPPORTED_LAYERS, **where)
        spec.append(_layer_spec(kind, layer_config, where))
        names.append(name)
    if input_shape is None:
        raise BadTfjs("no_input_shape", expected=BATCH_INPUT_SHAPE)
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise BadTfjs("duplicate_name", name=duplicate)
    return spec, names


def _input_shape(config: dict) -> list | None:
    for key in ("batch_input_shape", "batch_shape"):
        if config.get(key) is not None:
            return list(config[key])
    if config.get("input_shape") is not None:
        return [None, *config["input_shape"]]
    return None


def _layer_spec(kind: str, config: dict, where: dict) -> dict:
    """One TF.js layer config -> a DigitLab spec entry, refusing what the engine cannot do."""

    def take(setting: str, default: Any = None) -> Any:
        return config.pop(setting, default)

    def require(setting: str, allowed: list) -> None:
        value = take(setting, allowed[0])
        if value is None and None in allowed:
            return
        if value not in allowed:
            raise BadTfjs("setting", setting=setting, value=value, choices=allowed, **where)

    def size(setting: str, default: Any = None) -> Any:
        value = take(setting, default)
        return list(value) if isinstance(value, list | tuple) else value

    for setting in IGNORED:
        config.pop(setting, None)
    if kind in ("Conv2D", "MaxPooling2D", "Flatten"):
        require("data_format", ["channels_last", None])
    if kind in ("Conv2D", "Dense"):
        require("use_bias", [True])
        for setting in ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                        "kernel_constraint", "bias_constraint"):
            require(setting, [None])
    entry: dict[str, Any]
    if kind == "Conv2D":
        require("dilation_rate", [[1, 1], 1])
        require("groups", [1])
        entry = {"type": "conv2d", "filters": take("filters"),
                 "kernelSize": size("kernel_size"), "strides": size("strides", 1),
                 "padding": take("padding", "valid"), "activation": take("activation", "linear")}
    elif kind == "MaxPooling2D":
        pool = size("pool_size", [2, 2])
        strides = size("strides")
        entry = {"type": "maxPooling2d", "poolSize": pool,
                 "strides": pool if strides is None else strides,
                 "padding": take("padding", "valid")}
    elif kind == "Flatten":
        entry = {"type": "flatten"}
    elif kind == "Dense":
        entry = {"type": "dense", "units": take("units"),
                 "activation": take("activation", "linear")}
    else:
        require("noise_shape", [None])
        entry = {"type": "dropout", "rate": take("rate")}
    for setting, allowed in (("padding", ["valid", "same"]),
                             ("activation", _ACTIVATIONS.get(entry["type"]))):
        if setting in entry and allowed and entry[setting] not in allowed:
            raise BadTfjs("setting", setting=setting, value=entry[setting], choices=allowed,
                          **where)
    # Anything left is a setting this module does not know: refused unless it is unset.
    unknown = sorted(key for key, value in config.items() if value is not None)
    if unknown:
        raise BadTfjs("unknown_setting", setting=unknown[0], value=config[unknown[0]], **where)
    return entry


# ---------------------------------------------------------------- import: the weights

def _expected_weights(layers: list[Layer], names: list[str]) -> dict[str, tuple[int, ...]]:
    """'<name in the file>/kernel' and '/bias' -> the shape the engine needs, from shapes alone."""
    expected, shape = {}, INPUT_SHAPE
    for layer, name in zip(layers, names, strict=True):
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            expected[f"{name}/kernel"] = (kh, kw, shape[-1], layer.filters)
            expected[f"{name}/bias"] = (layer.filters,)
        elif isinstance(layer, Dense):
            expected[f"{name}/kernel"] = (shape[-1], layer.units)
            expected[f"{name}/bias"] = (layer.units,)
        shape = layer.output_shape(shape)
    return expected


def _read_manifest(model_json: dict, files: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Every weight the manifest lists, read from its shards: name -> float32 array."""
    manifest = model_json.get("weightsManifest")
    if not isinstance(manifest, list) or not manifest:
        raise BadTfjs("no_manifest")
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        paths = group.get("paths") if isinstance(group, dict) else None
        entries = group.get("weights") if isinstance(group, dict) else None
        if not isinstance(paths, list) or not isinstance(entries, list) \
                or not all(isinstance(path, str) for path in paths):
            raise BadTfjs("bad_manifest")
        shards = []
        for path in paths:
            data = files.get(basename(path))
            if data is None:
                raise BadTfjs("missing_file", file=basename(path))
            shards.append(data)
        data = b"".join(shards)
        shapes = []
        for entry in entries:
            name = entry.get("name") if isinstance(entry, dict) else None
            shape = entry.get("shape") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not isinstance(shape, list) or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
                raise BadTfjs("bad_manifest")
            if entry.get("quantization") is not None:
                raise BadTfjs("quantized", key=name)
            if entry.get("dtype", "float32") != "float32":
                raise BadTfjs("dtype", key=name, dtype=str(entry.get("dtype")))
            if name in weights or name in {n for n, _ in shapes}:
                raise BadTfjs("duplicate_weight", key=name)
            shapes.append((name, tuple(shape)))
        needed = 4 * sum(math.prod(shape) for _, shape in shapes)
        if len(data) != needed:
            raise BadTfjs("bin_length", file=", ".join(basename(p) for p in paths),
                          got=len(data), expected=needed)
        offset = 0
        for name, shape in shapes:
            count = math.prod(shape)
            weights[name] = np.frombuffer(data, dtype="<f4", count=count,
                                          offset=offset).reshape(shape)
            offset += 4 * count
    return weights


def _candidates(name: str, index: int) -> list[str]:
    """Names a file may give weight `name` ('<layer>/kernel'): TF.js's own, or Keras 3's
    '<layer>/0' (kernel) and '<layer>/1' (bias)."""
    layer = name.rsplit("/", 1)[0]
    return [name, f"{layer}/{index}"]


def _match_weights(expected: dict[str, tuple], weights: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """Each expected weight found in the file, checked: as tfjs's loadWeights, strict."""
    shortened = {}
    for key in weights:  # TF 2.2: layer/cell/weight -> layer/weight
        tokens = key.split("/")
        if len(tokens) > 2:
            shortened.setdefault("/".join([*tokens[:-2], tokens[-1]]), key)
    found, used = {}, set()
    for name, shape in expected.items():
        index = 0 if name.endswith("/kernel") else 1
        key = next((k for k in _candidates(name, index) if k in weights), None) \
            or shortened.get(name)
        if key is None:
            raise BadTfjs("missing_weight", key=name)
        value = weights[key]
        if value.shape != shape:
            raise BadTfjs("weight_shape", key=key, shape=list(value.shape),
                          expected=list(shape))
        if not np.isfinite(value).all():
            raise BadTfjs("not_finite", key=key)
        found[name], used = value, used | {key}
    extra = sorted(set(weights) - used)
    if extra:
        raise BadTfjs("unexpected_weight", key=extra[0])
    return found


def _engine_params(model: Sequential, found: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The file's weights under the engine's own names, in layer order (both lists are)."""
    keys = list(model.parameters())
    return {key: value.astype(np.float32) for key, value in zip(keys, found.values(),
                                                                  strict=True)}
