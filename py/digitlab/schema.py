"""What Python and the page both need to agree on, in one place: Python owns it.

Layer types and their fields (as in Keras, the layer config is the schema: `nn/spec.py`
validates a model spec from `LAYERS`), the train() config's defaults and limits, the error codes
and their reasons, the canvases Python draws on and the languages the page speaks. `build.py`
writes all of it, with the strings of `digitlab.i18n`, into the page's generated module
`js/schema.js` (`SCHEMA`, `STRINGS`).

Plain data and the standard library only: build.py imports this under the build's CPython.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# ---------------------------------------------------------------- layers
# Per layer type, its fields: `kind` (int: a positive integer; size: a positive integer or
# [h, w]; choice; rate: a number in [min, exclusiveMax); shape; name: any string), `default`
# (the value when the field is absent; `required` fields have none, `defaultFrom` names the
# field whose value it copies), and `initial`: the value a layer added in the builder starts
# with. `form: False` fields are accepted in a spec but not offered by the builder. Activations
# may also be null (tfjs: linear).

_INPUT_SHAPE_FIELD = {"kind": "shape", "choices": [list(INPUT_SHAPE)], "form": False}
_INITIALIZER_FIELD = {"kind": "choice", "choices": ["varianceScaling", "glorotUniform"],
                      "default": "varianceScaling", "form": False}
_NAME_FIELD = {"kind": "name", "form": False}

LAYERS: dict[str, dict[str, Any]] = {
    "conv2d": {"fields": {
        "filters": {"kind": "int", "min": 1, "required": True, "initial": 8},
        "kernelSize": {"kind": "size", "min": 1, "required": True, "initial": 3},
        "strides": {"kind": "size", "min": 1, "default": 1, "initial": 1},
        "padding": {"kind": "choice", "choices": ["valid", "same"], "default": "valid",
                    "initial": "valid"},
        "activation": {"kind": "choice", "choices": ["relu", "linear"], "nullable": True,
                       "default": "linear", "initial": "relu"},
        "inputShape": _INPUT_SHAPE_FIELD,
        "kernelInitializer": _INITIALIZER_FIELD,
        "name": _NAME_FIELD,
    }},
    "maxPooling2d": {"fields": {
        "poolSize": {"kind": "size", "min": 1, "default": 2, "initial": 2},
        "strides": {"kind": "size", "min": 1, "defaultFrom": "poolSize", "initial": 2},
        "padding": {"kind": "choice", "choices": ["valid", "same"], "default": "valid",
                    "form": False},
        "name": _NAME_FIELD,
    }},
    "flatten": {"fields": {"name": _NAME_FIELD}},
    "dense": {"fields": {
        "units": {"kind": "int", "min": 1, "required": True, "initial": 32},
        "activation": {"kind": "choice", "choices": ["relu", "softmax", "linear"],
                       "nullable": True, "default": "linear", "initial": "relu"},
        "kernelInitializer": _INITIALIZER_FIELD,
        "name": _NAME_FIELD,
    }},
    "dropout": {"fields": {
        "rate": {"kind": "rate", "min": 0, "exclusiveMax": 1, "step": 0.05, "required": True,
                 "initial": 0.25},
        "name": _NAME_FIELD,
    }},
}  # fmt: skip

# The only output layer a model may have: one softmax score per digit.
OUTPUT_LAYER = {"type": "dense", "units": NUM_CLASSES, "activation": "softmax"}
ZOO_MODELS = ("tutorial", "strong")

# ---------------------------------------------------------------- train() config
# `label` is the key of the field's label on the page (digitlab.i18n), so an error names the
# field as the reader sees it.

TRAINING_IMAGES = 55000  # the training portion: trainSize + validationSize may not exceed it
MAX_WORKERS = 8  # the most training workers a run may ask for (each is its own Pyodide)

TRAINING: dict[str, dict[str, Any]] = {
    "model": {"kind": "model", "default": "tutorial", "choices": list(ZOO_MODELS),
              "label": "model.select"},
    "trainSize": {"kind": "int", "default": 5500, "min": 1, "max": TRAINING_IMAGES,
                  "label": "train.trainSize"},
    "validationSize": {"kind": "int", "default": 1000, "min": 0, "max": TRAINING_IMAGES - 1,
                       "label": "train.validationSize"},
    "epochs": {"kind": "int", "default": 10, "min": 1, "max": 1000, "label": "train.epochs"},
    "batchSize": {"kind": "int", "default": 512, "min": 1, "max": 8192,
                  "label": "train.batchSize"},
    # No upper bound: a huge rate is a legitimate experiment, and divergence is caught.
    "learningRate": {"kind": "number", "default": 0.001, "exclusiveMin": 0,
                     "label": "train.learningRate"},
    "optimizer": {"kind": "choice", "default": "adam", "choices": ["adam", "sgd"],
                  "label": "train.optimizer"},
    "seed": {"kind": "int", "default": 0, "min": 0, "max": 2**32 - 1, "label": "train.seed"},
    "continue": {"kind": "bool", "default": False, "label": "train.continue"},
    # An extension: the learning rate is multiplied by it after every epoch.
    "learningRateDecay": {"kind": "number", "default": 1.0, "exclusiveMin": 0, "max": 1,
                          "label": "train.learningRateDecay"},
    # How many Pyodide workers share each batch (nn/parallel.py): a count, or 'auto', which
    # picks min(cores, 4) when a worker's shard is worth its messages and 1 below that.
    "workers": {"kind": "workers", "default": "auto", "choices": ["auto"], "min": 1,
                "max": MAX_WORKERS, "label": "train.workers"},
}  # fmt: skip

TRAINING_DEFAULTS: dict[str, Any] = {name: field["default"] for name, field in TRAINING.items()}

# Arguments of the page's other calls that an error may name.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "size": {"label": "field.size"},
    "index": {"label": "field.index"},
    "pixels": {"label": "field.pixels"},
    "step": {"label": "field.step"},
    "code": {"label": "field.code"},
    "backend": {"label": "field.backend"},
}

# ---------------------------------------------------------------- errors
# Every code a rejection can carry, and the reasons Python gives with it (digitlab.errors);
# the page words each as `error.<CODE>` around `error.<CODE>.<reason>`. UNSUPPORTED, without
# reasons, is raised by the page itself; BUSY by the page and, as a second guard, by Python. A
# train() config refused for its model is BAD_CONFIG (reason `model`, field `model`) whose
# `cause` is the model's BAD_MODEL error.

ERRORS: dict[str, dict[str, Any]] = {
    "BAD_CONFIG": {"reasons": ["not_object", "unknown_field", "type", "range", "positive",
                               "fraction", "total", "choice", "boolean", "model",
                               "pixels", "pad_size", "continue_setting",
                               # digitlab.keras's compile, fit, evaluate, predict, optimisers
                               "unsupported", "unsupported_choice", "array_shape", "lengths",
                               "one_hot_labels", "class_labels", "not_compiled", "code"]},
    "BAD_MODEL": {"reasons": ["unknown_model", "json", "not_list", "not_object", "unknown_type",
                              "unknown_field", "positive_int", "positive_size", "choice",
                              "rate", "input_shape", "needs_image", "needs_flatten", "shrinks",
                              "last_layer", "softmax_last", "memory",
                              # digitlab.keras's layers and Sequential
                              "unsupported", "unsupported_choice", "input_first",
                              "duplicate_name",
                              # digitlab.codelab: the model cell's get_model()
                              "no_get_model", "get_model_failed", "not_sequential"]},
    "BAD_WEIGHTS": {"reasons": ["not_bytes", "empty", "too_large", "not_zip", "unpacks_too_large",
                                "not_npz", "pickled", "unreadable", "missing", "wrong_type",
                                "version", "bad_spec", "dtype", "shape", "not_finite",
                                "unknown_optimizer", "optimizer_range", "unexpected"]},
    # A TensorFlow.js model (model.json + .bin, or their zip) that cannot be imported.
    "BAD_TFJS": {"reasons": ["too_large", "unpacks_too_large", "bad_zip", "no_model_json",
                             "several_json", "not_json", "not_model_json", "not_layers_model",
                             "no_topology", "not_sequential", "no_layers", "layer_not_object",
                             "unknown_layer", "setting", "unknown_setting", "input_shape",
                             "no_input_shape", "duplicate_name", "bad_spec", "no_manifest",
                             "bad_manifest", "missing_file", "quantized", "dtype",
                             "duplicate_weight", "bin_length", "missing_weight", "weight_shape",
                             "not_finite", "unexpected_weight"]},
    "DATA_SPRITE": {"reasons": ["download", "http", "empty", "not_png", "size", "mode",
                                "png_signature", "png_truncated", "png_truncated_chunk",
                                "png_crc", "png_header", "png_no_header", "png_too_large",
                                "png_corrupt", "png_data_size", "png_filter"]},
    "DATA_LABELS": {"reasons": ["download", "http", "size", "not_one_hot"]},
    "DIVERGED": {"reasons": ["diverged", "restored_start", "restored_epoch",
                             "restored_batch"]},
    "NO_MODEL": {"reasons": ["no_model"]},
    "BAD_IMAGE": {"reasons": ["empty", "too_large", "too_many_pixels", "unreadable", "blank"]},
    "RUNTIME": {"reasons": ["not_ready", "exception", "download", "http"]},
    "INTERNAL": {"reasons": ["unknown_method", "exception"]},
    "BUSY": {"reasons": ["training", "running"]},
    # A training worker crashed, ran out of memory or was ended mid-run: the run stops with
    # the weights of its last completed step.
    "WORKER_LOST": {"reasons": ["lost"]},
    "UNSUPPORTED": {"reasons": []},
}  # fmt: skip

# ---------------------------------------------------------------- the page

# The canvases Python draws on: the page transfers each to the worker by this id.
CANVASES = ("examples", "class-balance", "chart-batch", "chart-epoch", "per-class", "confusion",
            "misclassified", "predictions", "pad-probs", "filters", "feature-maps")


def page_schema() -> dict[str, Any]:
    """Everything above as the JSON the page imports (`SCHEMA` in js/schema.js)."""
    return {
        "languages": list(LANGUAGES), "defaultLanguage": DEFAULT_LANGUAGE,
        "inputShape": list(INPUT_SHAPE), "outputLayer": OUTPUT_LAYER,
        "layers": LAYERS,
        "training": {"fields": TRAINING, "defaults": TRAINING_DEFAULTS,
                     "maxImages": TRAINING_IMAGES},
        "errors": ERRORS,
        "canvases": list(CANVASES),
    }  # fmt: skip
