"""The "show the code" panels show code that runs: every function a step's panel shows
(web/sources.py STEPS) is called when the page does that step.

Each step is driven here through the library calls web/controller.py's App makes for it (the
comment on each driver names the method it mirrors), on the synthetic MNIST of conftest.py and
a tiny training run, with sys.setprofile recording the code object of every Python call.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np
import pytest
from conftest import synthetic_labels

from digitlab.data.mnist import MnistData
from digitlab.data.preprocess import mnist_preprocess
from digitlab.nn import metrics, plan
from digitlab.nn.optim import make_optimizer
from digitlab.nn.sequential import Sequential, new_history, record
from digitlab.nn.zoo import ZOO, build_model
from digitlab.web import sources

# Small enough to train in well under a second, large enough for two batches and validation.
CONFIG = {"model": "tutorial", "trainSize": 64, "validationSize": 16, "epochs": 1,
          "batchSize": 32, "learningRate": 0.001, "optimizer": "adam", "seed": 0,
          "learningRateDecay": 1.0}  # fmt: skip
EVALUATE_SIZE = 50


def traced(drive: Callable[[], Any]) -> tuple[Any, set[CodeType]]:
    """drive()'s result and the code objects of every Python function it called."""
    called: set[CodeType] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":  # also a generator's every resumption: train_steps counts
            called.add(frame.f_code)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = drive()
    finally:
        sys.setprofile(previous)
    return result, called


def shown_object(module: str, qualname: str) -> Any:
    return sources.lookup(importlib.import_module(module), qualname)


def code_of(target: Any) -> CodeType | None:
    """The code object a call of `target` runs (classmethods are bound: their __func__)."""
    function = getattr(target, "__func__", target)
    return getattr(function, "__code__", None)


# ---------------------------------------------------------------- the steps

def data_step(sprite: bytes) -> MnistData:
    # App.boot: MnistData.from_bytes, then draw_data_step, whose views ask the data for the
    # examples (views.draw_examples) and the class counts (views.draw_class_balance).
    data = MnistData.from_bytes(sprite, synthetic_labels())
    data.examples()
    data.class_counts("train"), data.class_counts("test")
    return data


def train_step(data: MnistData) -> Sequential:
    # App.call_train: check_plan, prepare_model (a fresh model), split, the train_steps loop
    # with record() into the history.
    assert plan.check(CONFIG["model"], CONFIG["batchSize"], None)["ok"]
    model = build_model(CONFIG["model"], seed=CONFIG["seed"])
    model.compile(make_optimizer(CONFIG["optimizer"], CONFIG["learningRate"]))
    data.split(CONFIG["trainSize"], CONFIG["validationSize"], CONFIG["seed"])
    steps = model.train_steps(
        *data.train_set(), batch_size=CONFIG["batchSize"], epochs=CONFIG["epochs"],
        validation_data=data.validation_set(), seed=CONFIG["seed"],
        learning_rate_decay=CONFIG["learningRateDecay"])
    history = new_history()
    for event in steps:
        record(history, event)
    assert len(history["loss"]) == CONFIG["epochs"]
    return model


def model_step(data: MnistData) -> Sequential:
    # App.call_summary ("tutorial", as at boot and on the model choice: check_plan, then
    # model_from(spec).summary()), then the model running: App.call_train's forward passes.
    assert plan.check(CONFIG["model"], None, None)["ok"]
    build_model(CONFIG["model"]).summary()
    return train_step(data)


def evaluate_step(data: MnistData, model: Sequential) -> None:
    # App.draw_evaluation (through call_evaluate): predict the first test images, then the
    # metrics the page shows.
    images, labels = data.test_set(EVALUATE_SIZE)
    predicted = model.predict(images).argmax(axis=1)
    metrics.per_class_accuracy(labels, predicted)
    metrics.accuracy(labels, predicted)
    metrics.confusion_matrix(labels, predicted)


def try_step(model: Sequential) -> None:
    # App.call_predictPad: the pad's alpha bytes -> mnist_preprocess -> draw_pad_views, which
    # predicts the digit.
    alpha = np.zeros((120, 100), dtype=np.uint8)
    alpha[20:100, 45:55] = 255  # a "1"
    digit = mnist_preprocess(alpha / np.float32(255))
    model.predict(digit.reshape(1, 784))


@pytest.fixture(scope="module")
def runs(synthetic_sprite: bytes) -> dict[str, tuple[Any, set[CodeType]]]:
    """Each step's result and calls, run in the page's order on the data the steps before made."""
    out: dict[str, tuple[Any, set[CodeType]]] = {}
    out["data"] = traced(lambda: data_step(synthetic_sprite))
    data = out["data"][0]
    out["model"] = traced(lambda: model_step(data))
    out["train"] = traced(lambda: train_step(data))
    model = out["train"][0]
    out["evaluate"] = traced(lambda: evaluate_step(data, model))
    out["try"] = traced(lambda: try_step(model))
    return out


def test_every_step_of_the_page_is_driven(runs) -> None:
    assert set(runs) == set(sources.STEPS)


@pytest.mark.parametrize("step", list(sources.STEPS))
def test_every_function_a_panel_shows_runs_in_its_step(step: str, runs) -> None:
    result, called = runs[step]
    for module, qualname in sources.STEPS[step]:
        target = shown_object(module, qualname)
        code = code_of(target)
        if code is not None:
            assert code in called, f"the {step} panel shows {qualname}, which its step never calls"
            continue
        # A constant (a zoo spec): the step's model must have been built from that very object.
        assert isinstance(result, Sequential), f"{qualname} shown, but {step} builds no model"
        assert ZOO.get(result.name) is target, f"the {step} step's model is not {qualname}"


def test_the_trace_sees_what_a_step_does_not_call(runs) -> None:
    # The check above is only worth something if an uncalled function shows up as uncalled.
    _, called = runs["data"]
    assert code_of(MnistData.next_test_batch) not in called
    assert code_of(MnistData.from_bytes) in called
