"""The page's controller under CPython: fake canvases and a recording `post` stand in for the
browser, so its config checks, BUSY guard, error mapping and training bookkeeping are tested
without Chromium."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import numpy as np
import pytest

import digitlab
from digitlab.nn.zoo import STRONG_SPEC, build_model
from digitlab.web import controller as controller_module
from digitlab.web.controller import Download, summary_of
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot, ready, run


@pytest.fixture
def lab(synthetic_sprite: bytes) -> Lab:
    lab = Lab()
    lab.booted = boot(lab, synthetic_sprite, synthetic_labels())
    assert lab.booted["ok"], lab.booted
    return lab

SMALL = {"trainSize": 200, "validationSize": 50, "epochs": 2, "batchSize": 50}


def test_every_module_of_the_package_imports_under_cpython() -> None:
    names = [m.name for m in pkgutil.walk_packages(digitlab.__path__, "digitlab.")]
    assert "digitlab.web.worker" in names and "digitlab.web.controller" in names
    for name in names:
        importlib.import_module(name)


def test_boot_draws_the_data_step_and_answers_examples_and_summary(lab: Lab) -> None:
    value = lab.booted["value"]
    assert [e["index"] for e in value["examples"]] == list(range(55000, 55020))
    assert value["summary"]["total_params"] == 5994
    assert lab.pixels, "the example digits were put on a canvas"
    assert any(m["type"] == "alt" and m["id"] == "class-balance-alt" for m in lab.posted)


def test_boot_failures_name_the_file_and_the_stage(synthetic_sprite: bytes) -> None:
    result = boot(Lab(), synthetic_sprite, b"\x01" * 10)
    assert (result["ok"], result["code"], result["stage"]) == (False, "DATA_LABELS", "data")
    assert "mnist_labels_uint8" in result["message"]
    missing = run(Lab().controller.boot(ready(Download(False, 404, None)),
                                                ready(Download(True, 200, synthetic_labels()))))
    assert missing["code"] == "DATA_SPRITE" and "HTTP 404" in missing["message"]


def test_unknown_methods_and_crashes_are_internal_errors(lab: Lab, monkeypatch) -> None:
    assert lab.call("nosuch")["code"] == "INTERNAL"
    monkeypatch.setattr(lab.controller, "call_examples", lambda args, payload: 1 / 0)
    reply = lab.call("examples")
    assert (reply["ok"], reply["code"], reply["exception"]) == (False, "INTERNAL",
                                                                "ZeroDivisionError")
    assert "ZeroDivisionError: division by zero" in reply["message"]


@pytest.mark.parametrize("config,field", [
    ({"batchSize": 0}, "batchSize"), ({"epochs": "ten"}, "epochs"),
    ({"trainsize": 10}, "trainsize"),
    ({"trainSize": 54500, "validationSize": 1000}, "trainSize + validationSize"),
    ({"learningRate": -1}, "learningRate"), ({"optimizer": "rmsprop"}, "optimizer"),
])  # fmt: skip
def test_bad_configs_are_refused_naming_the_field(lab: Lab, config: dict, field: str) -> None:
    reply = lab.call("train", config)
    assert reply["ok"] is False and reply["code"] == "BAD_CONFIG"
    assert field in reply["message"]
    assert lab.controller.model is None, "nothing was built for a refused config"


def test_training_builds_one_history_and_posts_progress(lab: Lab,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "PROGRESS_INTERVAL_S", 0.0)  # every batch
    reply = lab.call("train", SMALL)
    assert reply["ok"], reply
    history = reply["value"]
    assert len(history["loss"]) == len(history["val_acc"]) == 2
    assert len(history["batches"]) == 2 * 4  # 200 images in batches of 50, twice
    progress = [m for m in lab.posted if m["type"] == "progress"]
    assert len(progress) == 2 * 4 + 2
    assert progress[-1]["kind"] == "epoch" and progress[-1]["fraction"] == 1.0
    assert lab.controller.history is history or lab.controller.history == history
    evaluation = lab.call("evaluate", {"size": 100})["value"]
    assert 0.0 <= evaluation["accuracy"] <= 1.0 and len(evaluation["predictions"]) == 100


def test_progress_comes_at_most_every_interval_but_always_for_the_first_batch_and_epochs(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "PROGRESS_INTERVAL_S", 3600.0)
    assert lab.call("train", SMALL)["ok"]
    progress = [(m["kind"], m["epoch"], m["batch"]) for m in lab.posted
                if m["type"] == "progress"]
    assert progress == [("batch", 1, 1), ("epoch", 1, 4), ("epoch", 2, 4)]
    assert [m for m in lab.posted if m["type"] == "progress"][-1]["fraction"] == 1.0


def test_calls_while_training_are_busy_except_memory(lab: Lab) -> None:
    replies: dict[str, dict] = {}

    async def between_batches() -> None:
        if not replies:
            replies["evaluate"] = await lab.controller.call("evaluate", {"size": 10})
            replies["save"] = await lab.controller.call("saveWeights", None)
            replies["memory"] = await lab.controller.call("memory", None)

    lab.during_yield = between_batches
    assert lab.call("train", SMALL)["ok"]
    assert replies["evaluate"]["code"] == replies["save"]["code"] == "BUSY"
    assert replies["memory"]["ok"]
    assert lab.call("evaluate", {"size": 10})["ok"], "not busy once training ended"


def test_stop_ends_training_after_the_batch_and_continue_keeps_the_weights(lab: Lab) -> None:
    lab.stops = [False, False, False, True]  # the first is the stale-Stop check at the start
    history = lab.call("train", SMALL)["value"]
    assert len(history["batches"]) == 3 and history["loss"] == []
    weights = {k: v.copy() for k, v in lab.controller.model.parameters().items()}
    steps = lab.controller.model.optimizer.step_count
    assert steps == 3
    lab.stops = [False, True]
    lab.call("train", {**SMALL, "continue": True})
    assert lab.controller.model.optimizer.step_count == steps + 1, "continued, not restarted"
    changed = [k for k, v in lab.controller.model.parameters().items()
               if not np.array_equal(v, weights[k])]
    assert changed


def test_divergence_restores_the_last_good_weights_and_says_so(lab: Lab) -> None:
    assert lab.call("train", SMALL)["ok"]
    good = {k: v.copy() for k, v in lab.controller.model.parameters().items()}
    reply = lab.call("train", {**SMALL, "learningRate": 1e30, "optimizer": "sgd",
                               "continue": True})
    assert reply["code"] == "DIVERGED"
    # Continue numbers on from the finished 2-epoch run, and goes back to its end.
    assert "diverged at epoch 3" in reply["message"]
    assert "from the end of epoch 2 were restored" in reply["message"]
    for key, value in lab.controller.model.parameters().items():
        np.testing.assert_array_equal(value, good[key])
    probabilities = lab.call("predict", {"pixels": [0.5] * 784})["value"]
    assert np.isfinite(probabilities).all() and abs(sum(probabilities) - 1) < 1e-5


def test_weights_files_go_out_as_bytes_and_bad_ones_change_nothing(lab: Lab) -> None:
    assert lab.call("saveWeights")["code"] == "NO_MODEL"
    lab.call("train", {**SMALL, "epochs": 1})
    reply = lab.call("saveWeights")
    saved = lab.controller.take_bytes(reply["bytes"])
    assert saved[:2] == b"PK" and reply["value"] is None
    before = lab.call("predict", {"pixels": [0.3] * 784})["value"]
    bad = lab.call("loadWeights", None, b"not a zip")
    assert bad["code"] == "BAD_WEIGHTS"
    assert lab.call("predict", {"pixels": [0.3] * 784})["value"] == before
    assert lab.call("loadWeights", None, saved)["value"]["total_params"] == 5994


def test_the_pad_is_preprocessed_and_an_empty_pad_predicts_nothing(lab: Lab) -> None:
    lab.call("train", {**SMALL, "epochs": 1})
    alpha = np.zeros((100, 100), np.uint8)
    assert lab.call("predictPad", {"width": 100, "height": 100}, alpha.tobytes())["value"] is None
    alpha[20:80, 45:55] = 255
    probabilities = lab.call("predictPad", {"width": 100, "height": 100}, alpha.tobytes())
    assert len(probabilities["value"]) == 10
    assert lab.call("predictPad", {"width": 7, "height": 100}, alpha.tobytes())["code"] == \
        "BAD_CONFIG"


def test_the_builder_summary_is_computed_without_building_a_model(lab: Lab, monkeypatch) -> None:
    spec = [{"type": "conv2d", "filters": 4, "kernelSize": 3, "padding": "same",
             "activation": "relu"}, *STRONG_SPEC[1:]]
    assert summary_of(spec) == build_model(spec).summary()
    assert summary_of("strong") == build_model("strong").summary()

    def no_building(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was built")

    monkeypatch.setattr(controller_module, "build_model", no_building)
    plan = lab.call("plan", {"model": spec, "batchSize": 64})["value"]
    assert plan["ok"] and plan["summary"] == summary_of(spec)
    assert lab.call("summary", {"model": "strong"})["value"]["total_params"] == 69530
