"""The "show the code" panels show code that runs: every function a step's panel shows
(web/sources.py STEPS) is called when the page does that step.

Each step is driven through the page's real controller (with fake canvases) on the synthetic
MNIST of conftest.py and a tiny training run, with sys.setprofile recording the code object of
every Python call.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np
import pytest

from digitlab.data.mnist import MnistData
from digitlab.nn.sequential import Sequential
from digitlab.nn.zoo import ZOO
from digitlab.web import sources
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot

# Small enough to train in well under a second, large enough for two batches and validation.
CONFIG = {"model": "tutorial", "trainSize": 64, "validationSize": 16, "epochs": 1,
          "batchSize": 32}
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
# Each step is what the page does for it, through the real controller (tests/unit/fakes.py).
# The model a "model" panel describes is built when Train is pressed, so that step is the
# summary shown on the model choice plus the model's creation and first passes in training.

def data_step(sprite: bytes) -> Lab:
    lab = Lab()
    assert boot(lab, sprite, synthetic_labels())["ok"]
    return lab


def model_step(lab: Lab) -> Sequential:
    assert lab.call("summary", {"model": CONFIG["model"]})["ok"]
    return train_step(lab)


def train_step(lab: Lab) -> Sequential:
    history = lab.call("train", CONFIG)["value"]
    assert len(history["loss"]) == CONFIG["epochs"]
    return lab.controller.model


def evaluate_step(lab: Lab) -> None:
    assert lab.call("evaluate", {"size": EVALUATE_SIZE})["ok"]


def try_step(lab: Lab) -> None:
    alpha = np.zeros((120, 100), dtype=np.uint8)
    alpha[20:100, 45:55] = 255  # a "1"
    reply = lab.call("predictPad", {"width": 100, "height": 120}, alpha.tobytes())
    assert len(reply["value"]) == 10


@pytest.fixture(scope="module")
def runs(synthetic_sprite: bytes) -> dict[str, tuple[Any, set[CodeType]]]:
    """Each step's result and calls, run in the page's order on one lab."""
    out: dict[str, tuple[Any, set[CodeType]]] = {}
    out["data"] = traced(lambda: data_step(synthetic_sprite))
    lab = out["data"][0]
    out["model"] = traced(lambda: model_step(lab))
    out["train"] = traced(lambda: train_step(lab))
    out["evaluate"] = traced(lambda: evaluate_step(lab))
    out["try"] = traced(lambda: try_step(lab))
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
