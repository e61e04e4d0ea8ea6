"""digitlab.keras, the Keras-style front: Keras 3's argument names and defaults, refusals by
name, Keras's summary table, the spec round trip, and fit/evaluate/predict with callbacks.
Small seeded stand-in images: these tests check the front's mechanics; the equal-weights
check on the real MNIST files is in test_keras_training.py."""

from __future__ import annotations

import inspect
import json
import math
import re

import numpy as np
import pytest

from digitlab.errors import DigitLabError
from digitlab.i18n import describe
from digitlab.keras import (
    SGD,
    Adam,
    Callback,
    Conv2D,
    Dense,
    Dropout,
    EarlyStopping,
    Flatten,
    History,
    Input,
    LambdaCallback,
    MaxPool2D,
    MaxPooling2D,
    Sequential,
    always,
    callbacks,
    set_random_seed,
    to_categorical,
    utils,
)
from digitlab.nn.optim import make_optimizer
from digitlab.nn.sequential import TrainingRun
from digitlab.nn.spec import SpecError
from digitlab.nn.zoo import STRONG_SPEC, TUTORIAL_SPEC, build_model


@pytest.fixture(autouse=True)
def seed_zero():
    """Every test starts and ends at the project's default seed."""
    set_random_seed(0)
    yield
    set_random_seed(0)


def codelab_model(first_filters: int = 8, name: str | None = None) -> Sequential:
    """The codelab's CNN, written as the lab's cell writes it."""
    model = Sequential(name=name)
    model.add(Conv2D(filters=first_filters, kernel_size=5, strides=1, activation="relu",
                     kernel_initializer="variance_scaling", input_shape=(28, 28, 1)))
    model.add(MaxPooling2D(pool_size=2, strides=2))
    model.add(Conv2D(filters=16, kernel_size=5, strides=1, activation="relu",
                     kernel_initializer="variance_scaling"))
    model.add(MaxPooling2D(pool_size=2, strides=2))
    model.add(Flatten())
    model.add(Dense(10, activation="softmax", kernel_initializer="variance_scaling"))
    return model


def images(n: int = 96, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Float images [n, 28, 28, 1] in [0, 1] and their class numbers."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def compiled(model: Sequential | None = None, metrics: list | None = None) -> Sequential:
    model = model or codelab_model()
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"] if metrics is None else metrics)
    return model


def params(model) -> dict[str, np.ndarray]:
    return {key: value.copy() for key, value in model.parameters().items()}


def same_params(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- Keras 3's signatures

KERAS3_SIGNATURES = {
    Conv2D: ["filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
             "groups", "activation", "use_bias", "kernel_initializer", "bias_initializer",
             "kernel_regularizer", "bias_regularizer", "activity_regularizer",
             "kernel_constraint", "bias_constraint"],
    MaxPooling2D: ["pool_size", "strides", "padding", "data_format", "name"],
    Dense: ["units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
            "kernel_regularizer", "bias_regularizer", "activity_regularizer",
            "kernel_constraint", "bias_constraint", "lora_rank", "lora_alpha",
            "quantization_config"],
    Dropout: ["rate", "noise_shape", "seed"],
    Flatten: ["data_format"],
    Adam: ["learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay",
           "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
           "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps",
           "name"],
    SGD: ["learning_rate", "momentum", "nesterov", "weight_decay", "clipnorm", "clipvalue",
          "global_clipnorm", "use_ema", "ema_momentum", "ema_overwrite_frequency",
          "loss_scale_factor", "gradient_accumulation_steps", "name"],
    Sequential: ["layers", "trainable", "name"],
    Sequential.compile: ["optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                         "run_eagerly", "steps_per_execution", "jit_compile",
                         "auto_scale_loss"],
    Sequential.fit: ["x", "y", "batch_size", "epochs", "verbose", "callbacks",
                     "validation_split", "validation_data", "shuffle", "class_weight",
                     "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
                     "validation_batch_size", "validation_freq"],
    Sequential.evaluate: ["x", "y", "batch_size", "verbose", "sample_weight", "steps",
                          "callbacks", "return_dict"],
    Sequential.predict: ["x", "batch_size", "verbose", "steps", "callbacks"],
}  # fmt: skip

KERAS3_DEFAULTS = {
    Conv2D: {"strides": (1, 1), "padding": "valid", "data_format": None,
             "dilation_rate": (1, 1), "groups": 1, "activation": None, "use_bias": True,
             "kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"},
    MaxPooling2D: {"pool_size": (2, 2), "strides": None, "padding": "valid"},
    Dense: {"activation": None, "use_bias": True, "kernel_initializer": "glorot_uniform"},
    Adam: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    SGD: {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    Sequential.compile: {"optimizer": "rmsprop", "loss": None, "metrics": None},
    Sequential.fit: {"batch_size": None, "epochs": 1, "verbose": "auto", "callbacks": None,
                     "validation_split": 0.0, "shuffle": True, "initial_epoch": 0},
    Sequential.evaluate: {"batch_size": None, "verbose": "auto", "return_dict": False},
}  # fmt: skip


@pytest.mark.parametrize("target", list(KERAS3_SIGNATURES), ids=lambda t: t.__qualname__)
def test_signatures_are_keras_3s_in_order(target) -> None:
    names = [p for p in inspect.signature(target).parameters if p not in ("self", "base")]
    assert names == KERAS3_SIGNATURES[target]
    defaults = {name: p.default for name, p in inspect.signature(target).parameters.items()}
    for name, default in KERAS3_DEFAULTS.get(target, {}).items():
        assert defaults[name] == default, name


def test_the_package_reads_as_keras_namespaces() -> None:
    import digitlab.keras as keras

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy")
    assert keras.models.Sequential is keras.Sequential
    assert keras.utils.to_categorical([1], 2).tolist() == [[0.0, 1.0]]
    assert keras.callbacks.EarlyStopping is EarlyStopping
    star: dict = {}
    exec("from digitlab.keras import *", star)
    assert {"Sequential", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Adam",
            "SGD", "to_categorical", "set_random_seed"} <= set(star)


def test_layers_take_keras_base_keywords_and_maxpool2d_is_the_same_class() -> None:
    assert MaxPool2D is MaxPooling2D
    layer = Dense(10, activation="softmax", name="out", trainable=True, dtype="float32")
    assert layer.name == "out" and layer.get_config()["units"] == 10
    assert Conv2D(8, 5).get_config()["kernel_initializer"] == "glorot_uniform"


@pytest.mark.parametrize("make, keyword", [
    (lambda: Conv2D(8, 5, dilation=2), "dilation"),
    (lambda: Dense(10, activations="relu"), "activations"),
    (lambda: MaxPooling2D(pool=2), "pool"),
    (lambda: Dropout(0.5, rate_=1), "rate_"),
    (lambda: Adam(lr=0.1), "lr"),
    (lambda: SGD(decay=0.1), "decay"),
    (lambda: compiled().fit(*images(), epoch=3), "epoch"),
    (lambda: codelab_model().compile(optimiser="adam"), "optimiser"),
])  # fmt: skip
def test_an_unknown_keyword_is_pythons_type_error_naming_it(make, keyword) -> None:
    with pytest.raises(TypeError, match=f"'{keyword}'"):
        make()


# ---------------------------------------------------------------- refusals by name

def fit_tiny(**kwargs):
    x, y = images(32)
    return compiled().fit(x, to_categorical(y, 10), **{"verbose": 0, **kwargs})


REFUSALS = [
    (lambda: Conv2D(8, 5, dilation_rate=2), "BAD_MODEL", "unsupported", "dilation_rate"),
    (lambda: Conv2D(8, 5, groups=2), "BAD_MODEL", "unsupported", "groups"),
    (lambda: Conv2D(8, 5, use_bias=False), "BAD_MODEL", "unsupported", "use_bias"),
    (lambda: Conv2D(8, 5, kernel_initializer="he_normal"), "BAD_MODEL", "unsupported_choice",
     "kernel_initializer"),
    (lambda: Conv2D(8, 5, bias_initializer="ones"), "BAD_MODEL", "unsupported_choice",
     "bias_initializer"),
    (lambda: Conv2D(8, 5, data_format="channels_first"), "BAD_MODEL", "unsupported_choice",
     "data_format"),
    (lambda: Conv2D(8, 5, kernel_regularizer="l2"), "BAD_MODEL", "unsupported",
     "kernel_regularizer"),
    (lambda: Conv2D(8, 5, trainable=False), "BAD_MODEL", "unsupported", "trainable"),
    (lambda: Conv2D(8, 5, dtype="float16"), "BAD_MODEL", "unsupported_choice", "dtype"),
    (lambda: Dense(10, use_bias=False), "BAD_MODEL", "unsupported", "use_bias"),
    (lambda: Dense(10, lora_rank=4), "BAD_MODEL", "unsupported", "lora_rank"),
    (lambda: Dense(10, input_dim=784), "BAD_MODEL", "unsupported", "input_dim"),
    (lambda: Dropout(0.5, seed=1), "BAD_MODEL", "unsupported", "seed"),
    (lambda: Dropout(0.5, noise_shape=(1, 1)), "BAD_MODEL", "unsupported", "noise_shape"),
    (lambda: Flatten(data_format="channels_first"), "BAD_MODEL", "unsupported_choice",
     "data_format"),
    (lambda: Conv2D(8, 5, input_shape=(32, 32, 3)), "BAD_MODEL", "input_shape", "input_shape"),
    (lambda: Input(shape=(784,)), "BAD_MODEL", "input_shape", "shape"),
    (lambda: Sequential(trainable=False), "BAD_MODEL", "unsupported", "trainable"),
    (lambda: Adam(amsgrad=True), "BAD_CONFIG", "unsupported", "amsgrad"),
    (lambda: Adam(weight_decay=0.01), "BAD_CONFIG", "unsupported", "weight_decay"),
    (lambda: Adam(clipnorm=1.0), "BAD_CONFIG", "unsupported", "clipnorm"),
    (lambda: Adam(learning_rate=0), "BAD_CONFIG", "positive", "learning_rate"),
    (lambda: SGD(nesterov=True), "BAD_CONFIG", "unsupported", "nesterov"),
    (lambda: codelab_model().compile(optimizer="rmsprop", loss="categorical_crossentropy"),
     "BAD_CONFIG", "unsupported_choice", "optimizer"),
    (lambda: codelab_model().compile(optimizer="adam", loss="mse"), "BAD_CONFIG",
     "unsupported_choice", "loss"),
    (lambda: codelab_model().compile(optimizer="adam"), "BAD_CONFIG", "unsupported_choice",
     "loss"),
    (lambda: codelab_model().compile("adam", "categorical_crossentropy", metrics=["mae"]),
     "BAD_CONFIG", "unsupported_choice", "metrics"),
    (lambda: codelab_model().compile("adam", "categorical_crossentropy", jit_compile=True),
     "BAD_CONFIG", "unsupported_choice", "jit_compile"),
    (lambda: fit_tiny(class_weight={0: 2.0}), "BAD_CONFIG", "unsupported", "class_weight"),
    (lambda: fit_tiny(sample_weight=np.ones(32)), "BAD_CONFIG", "unsupported",
     "sample_weight"),
    (lambda: fit_tiny(steps_per_epoch=2), "BAD_CONFIG", "unsupported", "steps_per_epoch"),
    (lambda: fit_tiny(validation_freq=2), "BAD_CONFIG", "unsupported", "validation_freq"),
    (lambda: fit_tiny(shuffle="batch"), "BAD_CONFIG", "unsupported_choice", "shuffle"),
    (lambda: fit_tiny(verbose=3), "BAD_CONFIG", "unsupported_choice", "verbose"),
    (lambda: fit_tiny(batch_size=0), "BAD_CONFIG", "range", "batch_size"),
    (lambda: fit_tiny(epochs=2, initial_epoch=2), "BAD_CONFIG", "range", "initial_epoch"),
    (lambda: fit_tiny(validation_split=1.0), "BAD_CONFIG", "fraction", "validation_split"),
    (lambda: compiled().evaluate(*images(8), steps=1), "BAD_CONFIG", "unsupported", "steps"),
    (lambda: codelab_model().summary(line_length=100), "BAD_CONFIG", "unsupported",
     "line_length"),
    (lambda: codelab_model().summary(show_trainable=True), "BAD_CONFIG", "unsupported",
     "show_trainable"),
]  # fmt: skip


@pytest.mark.parametrize("make, code, reason, field", REFUSALS,
                         ids=[f"{r[3]}-{i}" for i, r in enumerate(REFUSALS)])
def test_what_the_engine_cannot_do_is_refused_by_the_arguments_name(make, code, reason,
                                                                    field) -> None:
    with pytest.raises(DigitLabError) as caught:
        make()
    error = caught.value
    assert (error.code, error.reason, error.field) == (code, reason, field)
    for lang in ("en", "zh-CN"):  # worded in both languages, every placeholder filled
        assert "?" not in describe(error, lang)
        assert field in describe(error, lang)
    prose = re.sub(r"`[^`]*`", "", describe(error, "zh-CN"))
    assert not set(re.findall(r"[A-Za-z]+", prose)) - {"MNIST"}, prose  # Chinese, code aside


def test_refusals_read_as_python_messages() -> None:
    with pytest.raises(DigitLabError) as caught:
        Conv2D(8, 5, dilation_rate=2)
    assert str(caught.value) == ("Conv2D: 'dilation_rate' cannot be [2, 2] here - leave it out "
                                 "(only its default is supported)")
    with pytest.raises(DigitLabError) as caught:
        Dense(10, kernel_initializer="he_normal")
    assert str(caught.value) == ("Dense: 'kernel_initializer' must be one of 'glorot_uniform', "
                                 "'variance_scaling' here, got 'he_normal'")


def test_shape_problems_are_found_at_add_naming_the_layer_and_keras_argument() -> None:
    model = Sequential([Conv2D(8, 5, input_shape=(28, 28, 1))])
    with pytest.raises(SpecError) as caught:
        model.add(Dense(10, activation="softmax"))
    assert (caught.value.reason, caught.value.layer) == ("needs_flatten", 1)
    assert len(model.layers) == 1, "a refused layer is not added"
    with pytest.raises(SpecError) as caught:
        model.add(Conv2D(4, kernel_size=0))
    assert (caught.value.reason, caught.value.field) == ("positive_size", "kernel_size")
    with pytest.raises(SpecError) as caught:
        model.add(MaxPooling2D(pool_size=30))
    assert (caught.value.reason, caught.value.field) == ("shrinks", "pool_size")
    with pytest.raises(SpecError) as caught:
        model.add(Conv2D(4, 3, input_shape=(28, 28, 1)))
    assert (caught.value.reason, caught.value.layer) == ("input_first", 1)
    with pytest.raises(SpecError, match="relu"):
        model.add(Conv2D(4, 3, activation="tanh"))
    with pytest.raises(SpecError) as caught:
        Sequential([Flatten(name="a"), Dense(10, activation="softmax", name="a")])
    assert caught.value.reason == "duplicate_name"


def test_a_model_that_does_not_end_in_the_10_way_softmax_cannot_be_built() -> None:
    model = Sequential([Flatten(), Dense(32, activation="relu")])
    assert model.count_params() == 784 * 32 + 32, "shapes and counts work while building"
    model.summary(print_fn=lambda text: None)
    with pytest.raises(SpecError) as caught:
        model.to_spec()
    assert caught.value.reason == "last_layer"


# ---------------------------------------------------------------- summary

CODELAB_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 24, 24, 8)      │           208 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 12, 12, 8)      │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 8, 8, 16)       │         3,216 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 4, 4, 16)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 256)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │         2,570 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 5,994 (23.41 KB)
 Trainable params: 5,994 (23.41 KB)
 Non-trainable params: 0 (0.00 B)"""

WIDER_SUMMARY = """\
Model: "digits"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 24, 24, 16)     │           416 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 12, 12, 16)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 8, 8, 16)       │         6,416 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 4, 4, 16)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 256)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │         2,570 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 9,402 (36.73 KB)
 Trainable params: 9,402 (36.73 KB)
 Non-trainable params: 0 (0.00 B)"""


def test_summary_prints_keras_3s_table(capsys) -> None:
    codelab_model().summary()
    assert capsys.readouterr().out == CODELAB_SUMMARY + "\n"
    printed: list[str] = []
    codelab_model(first_filters=16, name="digits").summary(print_fn=printed.append)
    assert printed == [WIDER_SUMMARY]
    assert codelab_model().count_params() == 5994
    assert codelab_model(first_filters=16).count_params() == 9402


def test_after_training_the_summary_counts_the_optimizers_variables_as_keras_does() -> None:
    model = compiled()
    x, y = images(16)
    model.fit(x, to_categorical(y, 10), verbose=0)
    printed: list[str] = []
    model.summary(print_fn=printed.append)
    # Adam: its iteration counter, learning rate, and m and v for each of the 5,994 weights.
    assert printed[0].endswith(" Total params: 17,984 (70.25 KB)\n"
                               " Trainable params: 5,994 (23.41 KB)\n"
                               " Non-trainable params: 0 (0.00 B)\n"
                               " Optimizer params: 11,990 (46.84 KB)")


def test_a_name_too_long_for_its_column_is_cut_and_wrapped_as_rich_does() -> None:
    printed: list[str] = []
    Sequential([Conv2D(16, 5, name="a_really_long_layer_name_that_is_long")]).summary(
        print_fn=printed.append)
    assert printed[0].splitlines()[4:6] == [
        "│ a_really_long_layer_name_that_… │ (None, 24, 24, 16)     │           416 │",
        "│ (Conv2D)                        │                        │               │"]


def test_layer_names_are_kerass_numbered_within_the_model() -> None:
    model = Sequential([Conv2D(4, 3, name="first"), Conv2D(4, 3), MaxPool2D(), Conv2D(4, 3),
                        Flatten(), Dropout(0.5), Dense(32, activation="relu"),
                        Dense(10, activation="softmax")])
    assert [layer.name for layer in model.layers] == [
        "first", "conv2d", "max_pooling2d", "conv2d_1", "flatten", "dropout", "dense",
        "dense_1"]
    assert model.get_layer("conv2d_1") is model.layers[3]
    assert model.to_spec()[0]["name"] == "first", "a given name is part of the spec"
    assert "name" not in model.to_spec()[1], "automatic names are not"


# ---------------------------------------------------------------- the spec, both ways

def test_the_codelab_cell_is_the_tutorial_spec_and_builds_its_weights() -> None:
    model = codelab_model()
    assert model.to_spec() == build_model("tutorial").spec()
    assert json.loads(json.dumps(model.to_spec())) == model.to_spec()
    engine = build_model("tutorial", seed=0)
    assert same_params(params(model.engine), params(engine))


SPECS = [
    TUTORIAL_SPEC,
    STRONG_SPEC,
    [{"type": "conv2d", "filters": 4, "kernelSize": [3, 5], "strides": 2, "padding": "same",
      "activation": "relu", "kernelInitializer": "glorotUniform", "name": "edges"},
     {"type": "maxPooling2d", "poolSize": 3, "strides": 1, "padding": "same"},
     {"type": "flatten"}, {"type": "dropout", "rate": 0.25},
     {"type": "dense", "units": 16, "activation": "relu"},
     {"type": "dense", "units": 10, "activation": "softmax",
      "kernelInitializer": "glorotUniform"}],
]  # fmt: skip


@pytest.mark.parametrize("spec", SPECS, ids=["tutorial", "strong", "mixed"])
def test_spec_round_trips_both_ways_with_the_same_weights(spec) -> None:
    model = Sequential.from_spec(spec)
    assert Sequential.from_spec(model.to_spec()).to_spec() == model.to_spec()
    assert Sequential.from_spec(json.dumps(spec)).to_spec() == model.to_spec()
    engine = build_model(spec, seed=0)
    assert model.to_spec() == [{**entry, **({"name": raw["name"]} if "name" in raw else {})}
                               for entry, raw in zip(engine.spec(), spec, strict=True)]
    assert same_params(params(model.engine), params(engine))
    rebuilt = Sequential([type(layer).from_config(layer.get_config()) for layer in model.layers])
    # get_config has every layer's name (as Keras's), so the copies' names are all given ones.
    assert rebuilt.to_spec() == [{**entry, "name": layer.name} for entry, layer
                                 in zip(model.to_spec(), model.layers, strict=True)]


def test_zoo_names_and_seeds() -> None:
    assert Sequential.from_spec("strong").to_spec() == build_model("strong").spec()
    seeded = Sequential.from_spec("tutorial", seed=3)
    assert same_params(params(seeded.engine), params(build_model("tutorial", seed=3)))
    set_random_seed(3)
    assert utils.get_random_seed() == 3
    assert same_params(params(codelab_model().engine), params(build_model("tutorial", seed=3)))
    set_random_seed(0)
    assert not same_params(params(codelab_model().engine), params(seeded.engine))


def test_glorot_uniform_is_kerass_default_and_draws_within_its_limit() -> None:
    model = Sequential([Flatten(), Dense(10, activation="softmax")])
    assert model.to_spec()[1]["kernelInitializer"] == "glorotUniform"
    kernel = model.layers[1].get_weights()[0]
    limit = math.sqrt(6 / (784 + 10))
    assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.9 * limit, "uniform over the whole range"
    assert not model.layers[1].get_weights()[1].any(), "biases start at zero"


def test_wrap_fronts_an_engine_model_without_copying_it() -> None:
    engine = build_model("tutorial", seed=5)
    engine.compile(make_optimizer("sgd", 0.05))
    model = Sequential.wrap(engine)
    assert model.engine is engine and model.to_spec() == engine.spec()
    assert isinstance(model.optimizer, SGD) and model.optimizer.engine is engine.optimizer
    x, _ = images(8)
    assert np.array_equal(model.predict(x, verbose=0), engine.predict(x))
    assert model.layers[0].weights[0] is engine.layers[0].params["kernel"]


def test_weights_get_and_set_in_kerass_order() -> None:
    model = codelab_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(5, 5, 1, 8), (8,), (5, 5, 8, 16), (16,), (256, 10),
                                          (10,)]
    model.set_weights([np.zeros_like(w) for w in weights])
    assert not any(w.any() for w in model.get_weights())
    with pytest.raises(ValueError, match="6 weight arrays"):
        model.set_weights(weights[:2])


def test_adding_a_layer_to_a_built_model_keeps_the_weights_of_the_others() -> None:
    model = Sequential([Flatten(), Dense(32, activation="relu"), Dense(10,
                                                                      activation="softmax")])
    kept = model.layers[1].get_weights()
    model.pop()
    model.add(Dropout(0.5))
    model.add(Dense(10, activation="softmax"))
    assert all(np.array_equal(a, b) for a, b in zip(model.layers[1].get_weights(), kept,
                                                     strict=True))


# ---------------------------------------------------------------- inputs

def test_inputs_as_keras_takes_them() -> None:
    model = compiled()
    x, y = images(40)
    flat = x[..., 0]
    assert np.array_equal(model.predict(flat, verbose=0), model.predict(x, verbose=0))
    assert model.predict(x, verbose=0).dtype == np.float32
    # uint8 images are cast, not rescaled: Keras does not divide by 255 either.
    pixels = (x * 255).astype(np.uint8)
    assert np.array_equal(model.predict(pixels, verbose=0),
                          model.predict(pixels.astype(np.float32), verbose=0))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    sparse = model.evaluate(x, y, verbose=0)
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    assert model.evaluate(x, to_categorical(y, 10), verbose=0) == sparse


@pytest.mark.parametrize("x, y, loss, reason, field", [
    (np.zeros((4, 784)), np.zeros((4, 10)), "categorical_crossentropy", "array_shape", "x"),
    (np.zeros((4, 28, 28, 3)), np.zeros((4, 10)), "categorical_crossentropy", "array_shape",
     "x"),
    (None, None, "categorical_crossentropy", "array_shape", "x"),
    (np.zeros((4, 28, 28)), np.arange(4), "categorical_crossentropy", "one_hot_labels", "y"),
    (np.zeros((4, 28, 28)), np.full((4, 10), 0.1), "categorical_crossentropy",
     "one_hot_labels", "y"),
    (np.zeros((4, 28, 28)), to_categorical(np.arange(4), 10),
     "sparse_categorical_crossentropy", "class_labels", "y"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2, 10]), "sparse_categorical_crossentropy",
     "class_labels", "y"),
    (np.zeros((4, 28, 28)), np.arange(3), "sparse_categorical_crossentropy", "lengths", "y"),
])  # fmt: skip
def test_wrong_arrays_are_refused_saying_what_was_expected(x, y, loss, reason, field) -> None:
    model = codelab_model()
    model.compile("adam", loss)
    with pytest.raises(DigitLabError) as caught:
        model.fit(x, y, verbose=0)
    assert (caught.value.code, caught.value.reason, caught.value.field) == ("BAD_CONFIG",
                                                                            reason, field)
    assert "?" not in describe(caught.value, "zh-CN") and "?" not in str(caught.value)
    assert not re.findall(r"[A-Za-z]+", re.sub(r"`[^`]*`", "", describe(caught.value, "zh-CN")))
    if reason == "array_shape":
        assert "(N, 28, 28, 1)" in str(caught.value)


def test_kerass_classic_mnist_model_starts_with_a_flatten_of_28_by_28() -> None:
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                        Dropout(0.2), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = images(32)
    history = model.fit(x[..., 0], y, epochs=1, verbose=0)
    assert list(history.history) == ["loss", "accuracy"]
    assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10
    assert Sequential([Input(shape=(28, 28)), Flatten(), Dense(10, activation="softmax")]) \
        .to_spec()[0] == {"type": "flatten"}
    for make in (lambda: Conv2D(4, 3, input_shape=(28, 28)),
                 lambda: Sequential([Input(shape=(28, 28)), Conv2D(4, 3)])):
        with pytest.raises(SpecError) as caught:
            make()
        assert caught.value.reason == "input_shape", "a convolution needs the channel axis"


def test_fit_before_compile_says_to_compile() -> None:
    with pytest.raises(DigitLabError, match=r"call model.compile\(") as caught:
        codelab_model().fit(*images(4))
    assert caught.value.reason == "not_compiled"


def test_to_categorical() -> None:
    assert np.array_equal(to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    assert to_categorical(np.array([[1], [3]])).shape == (2, 4)
    with pytest.raises(ValueError):
        to_categorical([0, 10], 10)


# ---------------------------------------------------------------- fit, History, callbacks

def test_fit_is_the_engines_training_run_and_returns_kerass_history() -> None:
    x, y = images(96)
    xv, yv = images(20, seed=2)
    model = compiled()
    history = model.fit(x, to_categorical(y, 10), batch_size=32, epochs=2, verbose=0,
                        validation_data=(xv, to_categorical(yv, 10)))
    assert isinstance(history, History) and model.history is history
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.epoch == [0, 1]
    assert history.history["loss"] == model.run.history["loss"]
    assert history.history["val_accuracy"] == model.run.history["val_acc"]
    # The same as the engine's own run with the same seed, images and labels.
    engine = build_model("tutorial", seed=0)
    engine.compile(make_optimizer("adam", 0.001))
    with TrainingRun(engine, x, y, 32, 2, (xv, yv), 0) as run:
        for _ in run:
            pass
    assert same_params(params(model.engine), params(engine))
    assert run.history["loss"] == history.history["loss"]


def test_without_metrics_only_the_loss_is_logged_and_evaluate_returns_it() -> None:
    x, y = images(32)
    model = compiled(metrics=[])
    history = model.fit(x, to_categorical(y, 10), validation_split=0.25, verbose=0)
    assert list(history.history) == ["loss", "val_loss"]
    loss = model.evaluate(x, to_categorical(y, 10), verbose=0)
    assert isinstance(loss, float)


def test_validation_split_takes_the_last_fraction_before_shuffling() -> None:
    x, y = images(40)
    model = compiled()
    model.fit(x, to_categorical(y, 10), validation_split=0.25, verbose=0)
    settings = model.run.settings
    assert np.array_equal(settings["x"], x[:30])
    assert np.array_equal(settings["validation_data"][0], x[30:])
    assert np.array_equal(settings["validation_data"][1], y[30:])


def test_a_second_fit_goes_on_from_the_weights_and_optimizer_state() -> None:
    x, y = images(64)
    labels = to_categorical(y, 10)
    model = compiled()
    model.fit(x, labels, batch_size=32, verbose=0)
    after_one = model.get_weights()
    model.fit(x, labels, batch_size=32, epochs=2, initial_epoch=1, verbose=0)
    assert model.optimizer.iterations == 4
    assert not np.array_equal(model.get_weights()[0], after_one[0])
    # Epochs 0 and 1 of one uninterrupted run: initial_epoch draws epoch 1's order.
    whole = compiled()
    whole.fit(x, labels, batch_size=32, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), whole.get_weights(),
                                                     strict=True))


class Recorder(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def __getattribute__(self, name: str):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")
            return lambda *args, **kwargs: calls.append((name, *args, *kwargs.values()))
        return object.__getattribute__(self, name)


def test_callbacks_are_called_with_kerass_methods_in_kerass_order() -> None:
    x, y = images(64)
    recorder = Recorder()
    model = compiled()
    model.fit(x, to_categorical(y, 10), batch_size=32, epochs=2, callbacks=[recorder],
              verbose=0)
    names = [call[0] for call in recorder.calls]
    assert names == ["on_train_begin",
                     "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
                     "on_train_batch_begin", "on_train_batch_end", "on_epoch_end",
                     "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
                     "on_train_batch_begin", "on_train_batch_end", "on_epoch_end",
                     "on_train_end"]
    assert recorder.model is model and recorder.params["epochs"] == 2
    assert recorder.params["steps"] == 2
    batch_end, epoch_end = recorder.calls[5], recorder.calls[6]
    # Batch logs are the epoch's running means (Keras's), so the last equals the epoch's.
    assert batch_end[2]["loss"] == pytest.approx(epoch_end[2]["loss"], rel=1e-12)
    assert model.run.history["batches"][0]["loss"] == pytest.approx(
        recorder.calls[3][2]["loss"], rel=1e-12)
    recorder.calls.clear()
    model.evaluate(x, to_categorical(y, 10), batch_size=32, callbacks=[recorder], verbose=0)
    assert [c[0] for c in recorder.calls] == ["on_test_begin", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_end"]
    recorder.calls.clear()
    model.predict(x, batch_size=64, callbacks=[recorder], verbose=0)
    assert [c[0] for c in recorder.calls] == ["on_predict_begin", "on_predict_batch_begin",
                                              "on_predict_batch_end", "on_predict_end"]
    assert recorder.calls[2][2]["outputs"].shape == (64, 10)


def test_lambda_callbacks_get_kerass_positional_logs() -> None:
    seen: list[tuple] = []
    hooks = LambdaCallback(on_train_begin=lambda logs: seen.append(("begin", logs)),
                           on_epoch_begin=lambda epoch, logs: seen.append((epoch, logs)),
                           on_train_batch_begin=lambda batch, logs: seen.append((batch, logs)),
                           on_test_end=lambda logs: seen.append(("test", sorted(logs))))
    model = compiled()
    x, y = images(32)
    model.fit(x, to_categorical(y, 10), callbacks=[hooks], verbose=0)
    model.evaluate(x, to_categorical(y, 10), callbacks=[hooks], verbose=0)
    assert seen == [("begin", {}), (0, {}), (0, {}), ("test", ["accuracy", "loss"])]
    with pytest.raises(TypeError, match="on_epoch"):
        LambdaCallback(on_epoch=print)


def test_stop_training_ends_the_run_after_the_batch() -> None:
    x, y = images(96)
    model = compiled()

    def stop_after_two(batch: int, logs: dict) -> None:
        if batch == 1:
            model.stop_training = True

    history = model.fit(x, to_categorical(y, 10), batch_size=32, epochs=3, verbose=0,
                        callbacks=[LambdaCallback(on_train_batch_end=stop_after_two)])
    assert len(model.run.history["batches"]) == 2
    assert history.epoch == [0], "as Keras: the stopped epoch is logged with what it saw"
    assert model.optimizer.iterations == 2
    # The weights are those of the engine's run after two batches.
    engine = build_model("tutorial", seed=0)
    engine.compile(make_optimizer("adam", 0.001))
    with TrainingRun(engine, x, y, 32, 3, None, 0) as run:
        for event in run:
            if event["kind"] == "batch" and event["batch"] == 1:
                break
    assert same_params(params(model.engine), params(engine))


def test_a_stop_at_an_epochs_last_batch_still_ends_that_epoch_in_the_engines_run() -> None:
    x, y = images(64)
    model = compiled()

    def stop_at_the_end(batch: int, logs: dict) -> None:
        model.stop_training = batch == 1

    history = model.fit(x, to_categorical(y, 10), batch_size=32, epochs=3, verbose=0,
                        callbacks=[LambdaCallback(on_train_batch_end=stop_at_the_end)])
    assert history.epoch == [0]
    assert history.history["loss"] == model.run.history["loss"], "the engine's whole epoch"
    assert model.run.epoch == 1 and model.run.batch == 0


def test_always_adds_callbacks_to_every_call_inside_it() -> None:
    x, y = images(32)
    labels = to_categorical(y, 10)
    model = compiled()
    outer, inner = Recorder(), Recorder()
    with always(outer):
        model.fit(x, labels, verbose=0)
        with always(inner):
            model.evaluate(x, labels, verbose=0)
            model.predict(x, verbose=0)
        assert callbacks.added() == [outer]
    assert callbacks.added() == []
    model.fit(x, labels, verbose=0)
    outer_names = [c[0] for c in outer.calls]
    assert outer_names.count("on_train_begin") == 1 and "on_test_end" in outer_names
    assert "on_predict_end" in outer_names
    assert [c[0] for c in inner.calls if c[0].endswith("_end") and "batch" not in c[0]] == [
        "on_test_end", "on_predict_end"]
    with pytest.raises(TypeError), always(lambda: None):
        pass


def test_a_stop_check_through_always_stops_a_fit_it_was_not_named_in() -> None:
    class StopCheck(Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    x, y = images(64)
    model = compiled()
    with always(StopCheck()):
        model.fit(x, to_categorical(y, 10), batch_size=32, epochs=5, verbose=0)
    assert len(model.run.history["batches"]) == 1


def test_early_stopping_stops_when_the_monitor_stops_improving() -> None:
    class Model:
        stop_training = False
        weights = [np.zeros(1)]

        def get_weights(self):
            return [w.copy() for w in self.weights]

        def set_weights(self, weights):
            self.weights = weights

    model = Model()
    stopper = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, value in enumerate([1.0, 0.5, 0.6, 0.7]):
        model.weights = [np.full(1, float(epoch))]
        stopper.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    assert (epoch, stopper.best_epoch) == (2, 1), "one epoch without improvement: patience 1"
    stopper.on_train_end()
    assert model.weights[0][0] == 1.0, "back to the best epoch's weights"
    assert EarlyStopping(monitor="val_accuracy").mode == "max"


def test_verbose_prints_one_plain_line_per_epoch_as_kerass_verbose_2(capsys) -> None:
    x, y = images(64)
    model = compiled()
    model.fit(x, to_categorical(y, 10), batch_size=32, epochs=2,
              validation_data=(x[:8], to_categorical(y[:8], 10)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    number = r"\d+\.\d{4}(e[-+]\d+)?"
    assert re.fullmatch(rf"2/2 - \d+s - \d+(us|ms|s)/step - loss: {number} - accuracy: "
                        rf"{number} - val_loss: {number} - val_accuracy: {number}", lines[1])
    assert "\r" not in "".join(lines)
    model.evaluate(x, to_categorical(y, 10), verbose=2)
    assert re.fullmatch(rf"2/2 - \d+s - \d+(us|ms|s)/step - loss: {number} - accuracy: "
                        rf"{number}\n", capsys.readouterr().out)
    model.fit(x, to_categorical(y, 10), verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
