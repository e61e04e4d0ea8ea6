"""The lab's state, owned by the controller: the model in use and its source, the run (stopped
runs resume where they stopped), the one state message, and views that say when they are empty.
Driven through tests/unit/fakes.py's `Lab` (the controller on fake canvases)."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.nn.optim import make_optimizer
from digitlab.nn.sequential import TrainingRun
from digitlab.nn.zoo import build_model
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot

# 200 images in batches of 50: 4 batches an epoch.
RUN = {"trainSize": 200, "validationSize": 50, "epochs": 5, "batchSize": 50}
BATCHES = 4


@pytest.fixture
def lab(synthetic_sprite: bytes) -> Lab:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    return lab


def states(lab: Lab) -> list[dict]:
    return [m["state"] for m in lab.posted if m["type"] == "state"]


def progress(lab: Lab) -> list[dict]:
    return [m for m in lab.posted if m["type"] == "progress"]


def alts(lab: Lab, canvas: str) -> list[str]:
    return [m["text"] for m in lab.posted if m["type"] == "alt" and m["id"] == f"{canvas}-alt"]


def weights_of(lab: Lab) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in lab.controller.model.parameters().items()}


def stop_after(batches: int) -> list[bool]:
    """Stop presses for take_stop: the first call is the stale-Stop check before the run,
    then one per event; `batches` batch events, with an epoch event after every BATCHES."""
    events = batches + (batches - 1) // BATCHES
    return [False] * events + [True]


# ---------------------------------------------------------------- TrainingRun resumes


def tiny_set(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n)


def test_a_stopped_run_resumed_sees_the_batches_of_an_uninterrupted_one() -> None:
    x, y = tiny_set()
    validation = tiny_set(20, seed=1)
    runs = {}
    for name in ("whole", "resumed"):
        model = build_model("tutorial", seed=3)
        model.compile(make_optimizer("adam", 0.002))
        runs[name] = run = TrainingRun(model, x, y, batch_size=32, epochs=3,
                                       validation_data=validation, seed=5,
                                       learning_rate_decay=0.5)
        for count, event in enumerate(run, 1):
            if name == "resumed" and count == 5:  # epoch 2, after its first batch
                assert (event["kind"], event["epoch"], event["batch"]) == ("batch", 1, 0)
                break
        if name == "resumed":
            assert (run.epoch, run.batch, run.finished) == (1, 1, False)
            run = run.resumed()
            assert [e["epoch"] for e in run if e["kind"] == "epoch"] == [1, 2]
        assert run.finished and run.epoch == 3
        runs[name] = run
    whole, resumed = runs["whole"], runs["resumed"]
    assert resumed.history == whole.history, "the same losses, batch for batch"
    assert len(resumed.history["loss"]) == 3 and len(resumed.history["batches"]) == 9
    for key, value in whole.model.parameters().items():
        np.testing.assert_array_equal(resumed.model.parameters()[key], value)


def test_a_run_changes_its_images_only_between_epochs() -> None:
    x, y = tiny_set()
    model = build_model("tutorial")
    run = TrainingRun(model, x, y, batch_size=32, epochs=2)
    next(iter(run))
    with pytest.raises(ValueError, match="only between epochs"):
        run.resumed(batch_size=16)
    run = run.resumed()
    for _ in run:
        pass
    more = run.resumed(4, x=x[:64], y=y[:64], batch_size=16)  # finished: a new pass is fine
    assert [e["epoch"] for e in more if e["kind"] == "epoch"] == [2, 3]
    assert len(more.history["batches"]) == 2 * 3 + 2 * 4


# ---------------------------------------------------------------- the state message


def test_boot_posts_the_empty_state_and_the_pad_says_to_train_first(lab: Lab) -> None:
    state = states(lab)[-1]
    assert state == {"phase": "ready", "model": None, "run": None, "evaluation": None,
                     "workers": {"requested": "auto", "active": None, "ready": 1, "booting": 0,
                                 "lost": 0, "cores": None, "parallel": False,
                                 "exchange": None}}
    no_model = "Train a model first (step 3), or load a weights file."
    assert alts(lab, "pad-probs")[-1] == alts(lab, "feature-maps")[-1] == no_model
    assert lab.call("state")["value"] == state
    assert lab.call("predictPad", {"width": 2, "height": 1}, b"\xff\xff")["value"] is None


def test_training_states_the_phase_the_run_and_the_result(lab: Lab) -> None:
    assert lab.call("train", {**RUN, "epochs": 2})["ok"]
    posted = states(lab)
    training = [s for s in posted if s["phase"] == "training"]
    assert training[0]["run"]["epoch"] == 1 and training[0]["run"]["completed"] == 0
    assert [s["run"]["completed"] for s in training] == [0, 1, 2], "one at start, one an epoch"
    final = posted[-1]
    assert final["phase"] == "ready"
    assert final["model"]["source"] == "trained" and final["model"]["name"] == "tutorial"
    assert final["model"]["params"] == 5994 and final["model"]["trained"] is True
    run = final["run"]
    assert (run["epoch"], run["epochs"], run["stopped"], run["finished"]) == (2, 2, False, True)
    history = lab.controller.history
    assert run["acc"] == history["acc"][-1] and run["valAcc"] == history["val_acc"][-1]
    assert run["settings"]["trainSize"] == 200 and run["settings"]["optimizer"] == "adam"
    lab.call("evaluate", {"size": 100})
    assert states(lab)[-1]["evaluation"]["size"] == 100


def test_continue_resumes_a_stopped_run_numbering_on(lab: Lab) -> None:
    lab.stops = stop_after(BATCHES + 2)  # in epoch 2, after its second batch
    first = lab.call("train", RUN)["value"]
    assert len(first["loss"]) == 1 and len(first["batches"]) == BATCHES + 2
    stopped = states(lab)[-1]["run"]
    assert (stopped["epoch"], stopped["epochs"], stopped["batch"]) == (2, 5, 2)
    assert stopped["stopped"] and not stopped["finished"]

    lab.posted.clear()
    history = lab.call("train", {"continue": True})["value"]  # left-out settings: the run's
    assert len(history["loss"]) == 5, "one entry per epoch of the whole run"
    assert len(history["batches"]) == 5 * BATCHES
    assert history["batches"][: BATCHES + 2] == first["batches"][: BATCHES + 2]
    steps = progress(lab)
    assert (steps[0]["epoch"], steps[0]["batch"], steps[0]["epochs"]) == (2, 3, 5)
    assert steps[-1]["epoch"] == 5 and steps[-1]["fraction"] == 1.0
    assert [m["epoch"] for m in steps if m["kind"] == "epoch"] == [2, 3, 4, 5]
    done = states(lab)[-1]["run"]
    assert done["finished"] and not done["stopped"] and done["epoch"] == 5

    # The same as never stopping: same batches, same weights.
    resumed = weights_of(lab)
    again = Lab()
    again.controller.data = lab.controller.data
    uninterrupted = again.call("train", RUN)["value"]
    assert uninterrupted == history
    for key, value in weights_of(again).items():
        np.testing.assert_array_equal(resumed[key], value)


def test_continue_after_a_finished_run_trains_epochs_more(lab: Lab) -> None:
    lab.call("train", {**RUN, "epochs": 2})
    lab.posted.clear()
    history = lab.call("train", {**RUN, "epochs": 1, "continue": True})["value"]
    assert len(history["loss"]) == 3 and len(history["batches"]) == 3 * BATCHES
    assert {m["epoch"] for m in progress(lab)} == {3}
    assert {m["epochs"] for m in progress(lab)} == {3}
    run = states(lab)[-1]["run"]
    assert (run["epoch"], run["epochs"], run["finished"]) == (3, 3, True)


def test_continue_refuses_to_change_the_batches_in_the_middle_of_an_epoch(lab: Lab) -> None:
    lab.stops = stop_after(2)
    lab.call("train", RUN)
    steps = lab.controller.model.optimizer.step_count
    refused = lab.call("train", {**RUN, "batchSize": 25, "continue": True})
    assert (refused["code"], refused["reason"], refused["field"]) == \
        ("BAD_CONFIG", "continue_setting", "batchSize")
    assert "Batch size (`batchSize`) is 25" in refused["message"]
    assert "Train to start a new run" in refused["message"]
    assert lab.controller.model.optimizer.step_count == steps, "nothing trained"
    lab.call("train", RUN)  # a fresh run at epoch 1 ...
    lab.stops = stop_after(BATCHES + 1)
    lab.call("train", RUN)
    short = lab.call("train", {**RUN, "epochs": 1, "continue": True})  # ... now in epoch 2
    assert (short["code"], short["field"], short["limits"]) == ("BAD_CONFIG", "epochs",
                                                                 [2, 1000])
    assert states(lab)[-1]["run"]["stopped"], "a refused continue changes nothing"
    # The learning rate and the validation set may change: they do not pick the batches.
    assert lab.call("train", {**RUN, "learningRate": 0.01, "validationSize": 20,
                              "continue": True})["ok"]
    assert states(lab)[-1]["run"]["settings"]["learningRate"] == 0.01


def test_the_source_says_where_the_model_in_use_came_from(lab: Lab) -> None:
    lab.call("train", {**RUN, "epochs": 1})
    saved = lab.controller.take_bytes(lab.call("saveWeights")["bytes"])
    assert lab.call("summary", {"model": "tutorial"})["value"]["active"] is True
    assert lab.call("summary", {"model": "strong"})["value"]["active"] is False

    assert lab.call("useModel", {"model": "strong"})["value"]["total_params"] == 69530
    model = states(lab)[-1]["model"]
    assert (model["name"], model["params"], model["source"], model["trained"]) == \
        ("strong", 69530, "link", False)
    assert states(lab)[-1]["run"] is None and lab.controller.history is None
    assert lab.call("summary", {"model": "strong"})["value"]["active"] is True
    assert lab.call("plan", {"model": "tutorial"})["value"]["active"] is False

    lab.call("loadWeights", None, saved)
    model = states(lab)[-1]["model"]
    assert (model["name"], model["params"], model["source"]) == ("tutorial", 5994, "file")
    assert states(lab)[-1]["run"] is None, "a file has no run"
    lab.call("loadWeights", {"source": "stored"}, saved)
    assert states(lab)[-1]["model"]["source"] == "stored"

    lab.posted.clear()
    history = lab.call("train", {**RUN, "epochs": 1, "continue": True})["value"]
    assert len(history["loss"]) == 1, "after loading weights Continue starts a run on them"
    assert {m["epoch"] for m in progress(lab)} == {1}
    assert states(lab)[-1]["model"]["source"] == "trained"
    custom = [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]
    lab.call("train", {**RUN, "epochs": 1, "model": custom})
    assert states(lab)[-1]["model"]["name"] == "custom"
    assert lab.call("plan", {"model": custom})["value"]["active"] is True


def test_an_evaluation_is_dropped_when_the_weights_change(lab: Lab) -> None:
    lab.call("train", {**RUN, "epochs": 1})
    before = lab.call("evaluate", {"size": 200})["value"]["predictions"]
    lab.call("train", {**RUN, "epochs": 1, "learningRate": 0.05, "continue": True})
    assert states(lab)[-1]["evaluation"] is None
    after = lab.call("evaluate", {"size": 200})["value"]["predictions"]
    assert after != before, "evaluated again, not the cached result of the old weights"


def test_divergence_after_resuming_mid_epoch_rewinds_the_run_to_where_it_resumed(
        lab: Lab) -> None:
    lab.stops = stop_after(BATCHES + 1)
    lab.call("train", RUN)
    reply = lab.call("train", {"learningRate": 1e30, "optimizer": "sgd", "continue": True})
    assert (reply["code"], reply["reason"]) == ("DIVERGED", "restored_batch")
    assert "from epoch 2, batch 1, where training resumed" in reply["message"]
    history = lab.controller.history
    assert len(history["loss"]) == 1 and len(history["batches"]) == BATCHES + 1
    run = states(lab)[-1]["run"]
    assert (run["epoch"], run["batch"], run["stopped"]) == (2, 1, True)
    assert lab.call("train", {"learningRate": 0.001, "continue": True})["ok"]
    assert len(lab.controller.history["loss"]) == 5


def test_the_pad_views_say_what_they_show(lab: Lab) -> None:
    lab.call("train", {**RUN, "epochs": 1})
    assert alts(lab, "pad-probs")[-1] == \
        "Draw a digit on the pad to see what the network thinks it is."
    assert alts(lab, "feature-maps")[-1].startswith("Draw a digit, or enter a test image")
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 45:55] = 255
    lab.call("predictPad", {"width": 100, "height": 100}, alpha.tobytes())
    assert alts(lab, "pad-probs")[-1].startswith("Probabilities for digits 0 to 9")
    assert alts(lab, "feature-maps")[-1].startswith(
        "Feature maps of each convolution layer for your drawing.")
    lab.call("inspect", {"index": 3})
    assert "for test image 3." in alts(lab, "feature-maps")[-1]
    lab.call("inspect", {"index": None})
    lab.call("predictPad", {"width": 100, "height": 100}, bytes(100 * 100))  # Clear
    assert alts(lab, "pad-probs")[-1].startswith("Draw a digit on the pad")
    assert alts(lab, "feature-maps")[-1].startswith("Draw a digit, or enter a test image"), \
        "no silent switch to test image 0"
