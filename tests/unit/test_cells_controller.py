"""The code cells on the controller's side (web/cells.py, Controller.call_runCode and friends),
through tests/unit/fakes.py's `Lab`: the cells' original code, output streamed as messages,
phase 'running' and BUSY, errors as results with their line, the model cell's get_model() as
the model in use (source 'code') and trained by train({model: 'code'}), a failing get_model
that leaves the model, and the per-batch callback that pauses for the page and hears Stop."""

from __future__ import annotations

import re

import numpy as np
import pytest

from digitlab.codelab import session as codelab
from digitlab.web.cells import PageCallback
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot

SMALL = {"epochs": 1, "trainSize": 200, "validationSize": 0, "batchSize": 100}


@pytest.fixture
def lab(synthetic_sprite: bytes) -> Lab:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    return lab


def run(lab: Lab, step: str, code: str) -> dict:
    reply = lab.call("runCode", {"step": step, "code": code})
    assert reply["ok"], reply  # the call itself; the cell's own result is its value
    return reply["value"]


def sixteen_filters() -> str:
    code, count = re.subn(r"(filters\s*=\s*)8\b", r"\g<1>16", codelab.original("model"), count=1)
    assert count == 1
    return code


def test_the_cells_text_is_the_codelab_packages() -> None:
    lab = Lab()
    reply = lab.call("cellOriginals")
    assert reply["value"] == {step: codelab.original(step) for step in codelab.STEPS}
    assert list(reply["value"]) == ["data", "model", "train", "evaluate", "try"]


def test_output_streams_as_messages_while_the_phase_is_running(lab: Lab) -> None:
    lab.posted.clear()
    result = run(lab, "data", "print('one')\nimport sys\nprint('two', file=sys.stderr)\n")
    assert result["ok"] and result["error"] is None
    streamed = [(m["step"], m["stream"], m["text"]) for m in lab.posted
                if m["type"] == "cell-output"]
    assert "".join(t for _, s, t in streamed if s == "stdout") == "one\n"
    assert "".join(t for _, s, t in streamed if s == "stderr") == "two\n"
    assert {step for step, _, _ in streamed} == {"data"}
    phases = [m["state"]["phase"] for m in lab.posted if m["type"] == "state"]
    assert phases[0] == "running" and phases[-1] == "ready"


def test_errors_in_the_code_are_results_with_their_line(lab: Lab) -> None:
    syntax = run(lab, "data", "x = 1\nif x\n    pass\n")
    assert syntax["ok"] is False
    assert (syntax["error"]["type"], syntax["error"]["line"]) == ("SyntaxError", 2)
    runtime = run(lab, "evaluate", "a = 1\nb = a + undefined_name\n")
    assert (runtime["error"]["type"], runtime["error"]["line"]) == ("NameError", 2)
    assert "undefined_name" in runtime["error"]["message"]


def test_a_cell_is_refused_while_another_runs_or_a_model_trains(lab: Lab) -> None:
    lab.controller.cells.running = "try"
    busy = lab.call("runCode", {"step": "data", "code": "print(1)"})
    assert (busy["code"], busy["reason"]) == ("BUSY", "running")
    assert "cell" in busy["message"]
    lab.controller.cells.running = None
    lab.controller.training = True
    assert lab.call("runCode", {"step": "data", "code": "print(1)"})["code"] == "BUSY"
    lab.controller.training = False
    assert lab.call("runCode", {"step": "data", "code": "print(1)"})["ok"]


def test_bad_arguments_are_refused(lab: Lab) -> None:
    assert lab.call("runCode", {"step": "nope", "code": ""})["code"] == "BAD_CONFIG"
    refused = lab.call("runCode", {"step": "data", "code": 42})
    assert (refused["code"], refused["reason"]) == ("BAD_CONFIG", "code")


def test_the_model_cell_makes_get_models_model_the_one_in_use(lab: Lab) -> None:
    result = run(lab, "model", sixteen_filters())
    assert result["ok"], result
    state = lab.call("state")["value"]
    assert (state["model"]["source"], state["model"]["params"]) == ("code", 9402)
    assert state["model"]["trained"] is False
    summary = lab.call("summary", {"model": "code"})["value"]
    assert summary["total_params"] == 9402 and summary["active"] is True
    history = lab.call("train", {"model": "code", **SMALL})
    assert history["ok"], history
    assert len(history["value"]["loss"]) == 1
    assert lab.controller.model.param_count() == 9402
    # Continue (the select still says "code") goes on with the model in use.
    more = lab.call("train", {"model": "code", "continue": True, **SMALL})
    assert more["ok"], more
    assert len(more["value"]["loss"]) == 2 and lab.controller.model.param_count() == 9402


def test_a_failing_get_model_leaves_the_model_in_use(lab: Lab) -> None:
    assert run(lab, "model", codelab.original("model"))["ok"]
    before = lab.controller.model
    result = run(lab, "model", "def get_model():\n    raise ValueError('no')\n")
    assert result["ok"] is False and result["error"]["message"]
    assert lab.controller.model is before
    assert lab.call("state")["value"]["model"]["params"] == 5994


def test_train_code_without_a_get_model_is_refused_and_changes_nothing(lab: Lab) -> None:
    reply = lab.call("train", {"model": "code", **SMALL})
    assert reply["ok"] is False and reply["code"] == "BAD_MODEL"
    assert lab.controller.model is None


class FakeFront:
    stop_training = False


def test_the_page_callback_pauses_at_most_every_interval_and_hears_stop(monkeypatch) -> None:
    clock = iter([0.0, 0.05, 0.2, 0.25, 0.4, 0.41])
    monkeypatch.setattr("digitlab.web.cells.time.perf_counter", lambda: next(clock))
    pauses, stops = [], [False, True]
    callback = PageCallback(lambda: pauses.append(1), lambda: stops.pop(0))
    callback.set_model(FakeFront())
    callback.on_train_batch_end(0)  # 0.05 s after the start: too soon
    assert pauses == [] and not callback.model.stop_training
    callback.on_train_batch_end(1)  # 0.2 s: pause (then the clock reads 0.25), no Stop yet
    assert pauses == [1] and not callback.model.stop_training
    callback.on_predict_batch_end(2)  # 0.4 s: pause, Stop pressed meanwhile
    assert pauses == [1, 1] and callback.model.stop_training


def test_a_train_cell_trains_the_model_in_use_in_place(lab: Lab) -> None:
    assert run(lab, "model", codelab.original("model"))["ok"]
    model = lab.controller.model
    before = {name: value.copy() for name, value in model.parameters().items()}
    result = run(lab, "train", "xs, ys = data.training(100)\n"
                               "model.fit(xs, ys, batch_size=50, epochs=1)\n")
    assert result["ok"], result
    assert lab.controller.model is model
    state = lab.call("state")["value"]
    assert (state["model"]["source"], state["model"]["trained"], state["run"]) == \
        ("code", True, None)
    assert any(not (before[name] == value).all() for name, value in model.parameters().items())


def test_the_try_cells_pixels_are_the_pads_drawing(lab: Lab) -> None:
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 45:55] = 255  # a "1"
    assert lab.call("predictPad", {"width": 100, "height": 100}, alpha.tobytes())["ok"]
    lab.posted.clear()
    assert run(lab, "try", "print(round(float(pixels.sum()), 2))\n")["ok"]
    printed = "".join(m["text"] for m in lab.posted if m["type"] == "cell-output")
    assert float(printed) == pytest.approx(float(lab.controller.pad_image.sum()), abs=0.01)
