"""The code cells run in a Session as the page runs them: in order, in one namespace, drawing on
the page's canvases (fake ones here, through the page's own CanvasSet), the page's model and
the model cell's get_model() going back and forth.

The train cell is the codelab's, except that its `EPOCHS = 10` becomes `EPOCHS = 1` (ten epochs
take minutes under CPython; everything else about the run is the same)."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab import keras
from digitlab.codelab.session import STEPS, Session, original
from digitlab.errors import DigitLabError
from digitlab.nn.zoo import build_model
from digitlab.web.canvas import CanvasSet
from tests.unit.fakes import CANVAS_IDS, FakeCanvas

ONE_EPOCH = ("EPOCHS = 10", "EPOCHS = 1")


def cell(step: str) -> str:
    code = original(step)
    return code.replace(*ONE_EPOCH) if step == "train" else code


def page_canvases() -> CanvasSet:
    """The page's canvas set over fake canvases; `pixels` records every putImageData."""
    pixels: list[tuple] = []
    canvases = CanvasSet({name: FakeCanvas() for name in CANVAS_IDS},
                         lambda ctx, rgba, x, y: pixels.append(rgba.shape))
    canvases.pixels = pixels
    return canvases


@pytest.fixture()
def session(mnist) -> Session:
    return Session(mnist, page_canvases(), "en")


@pytest.fixture(scope="module")
def ran(mnist) -> tuple[Session, dict[str, dict], list[tuple[str, str]]]:
    """Every cell's original code run in order in one session, with its streamed output."""
    session = Session(mnist, page_canvases(), "en")
    streamed: list[tuple[str, str]] = []
    results = {}
    for step in STEPS:
        results[step] = session.run(step, cell(step), lambda t: streamed.append(("out", t)),
                                    lambda t: streamed.append(("err", t)))
    return session, results, streamed


def test_the_cells_are_the_codelabs_steps_in_its_order() -> None:
    assert STEPS == ("data", "model", "train", "evaluate", "try")
    assert "def show_examples(data):" in original("data")
    assert original("data").rstrip().endswith("show_examples(data)")
    assert "def get_model():" in original("model")
    assert original("model").rstrip().endswith("model = get_model()\nmodel.summary()")
    assert "def train(model, data):" in original("train")
    assert "BATCH_SIZE = 512" in original("train") and "EPOCHS = 10" in original("train")
    assert 'callbacks=[show.fit_callbacks(metrics)]' in original("train")
    assert "def show_accuracy(model, data):" in original("evaluate")
    assert "def show_confusion(model, data):" in original("evaluate")
    assert "def predict_drawing(model, pixels):" in original("try")
    with pytest.raises(DigitLabError) as info:
        original("deploy")
    assert (info.value.code, info.value.reason) == ("BAD_CONFIG", "choice")


def test_every_original_cell_runs_and_draws_on_its_steps_canvases(ran) -> None:
    session, results, _ = ran
    assert {step: (r["ok"], r["error"]) for step, r in results.items()} == \
        {step: (True, None) for step in STEPS}
    drawn = session.show.alts
    assert list(drawn) == ["examples", "chart-batch", "chart-epoch", "per-class", "confusion",
                           "pad-probs"]
    canvases = session.show.canvases
    for name in drawn:
        assert canvases.canvases[name].context.calls > 0, name
    assert canvases.pixels  # the digit grid's pixels went through put_pixels
    assert drawn["examples"].startswith("20 digits, each with its label under it: 7, 2, 1, 0")
    assert drawn["chart-epoch"].startswith("Epoch 1: loss ")
    assert drawn["chart-batch"].startswith("Batch 11: loss ")  # 5500 images / 512


def session_model(ran) -> object:
    return ran[0].model


def test_the_model_cell_prints_the_summary_and_training_its_progress(ran) -> None:
    _, results, streamed = ran
    summary = results["model"]["stdout"]
    assert 'Model: "sequential"' in summary and "Total params: 5,994" in summary
    assert results["model"]["model_changed"] and not results["data"]["model_changed"]
    # The train cell says which model it trained: the page's, when `model` is the page's.
    assert results["train"]["trained"] == [session_model(ran)] and results["data"]["trained"] == []
    assert "Epoch" not in results["train"]["stdout"]  # one epoch: Keras prints no "Epoch 1/1"
    assert "11/11" in results["train"]["stdout"] and "val_accuracy" in results["train"]["stdout"]
    # What was streamed is exactly what each result holds, in the order it was written.
    assert "".join(t for kind, t in streamed if kind == "out") == \
        "".join(results[step]["stdout"] for step in STEPS)


def test_the_cells_share_their_names_and_the_trained_model(ran) -> None:
    session, _, _ = ran
    names = session.namespace
    for name in ("show_examples", "get_model", "train", "history", "do_prediction",
                 "show_accuracy", "show_confusion", "predict_drawing"):
        assert name in names, name
    assert isinstance(names["model"], keras.Sequential)
    assert session.code["train"] == cell("train")  # the code each cell last ran
    history = names["history"].history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history["val_accuracy"][0] > 0.5  # one epoch of the codelab's CNN learns something
    assert session.model is names["model"].engine


def test_stdout_and_stderr_stream_in_the_order_the_cell_writes_them(session) -> None:
    streamed: list[tuple[str, str]] = []
    code = "import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')\n"
    result = session.run("data", code, lambda t: streamed.append(("out", t)),
                         lambda t: streamed.append(("err", t)))
    assert [(kind, t) for kind, t in streamed if t != "\n"] == \
        [("out", "one"), ("err", "two"), ("out", "three")]
    assert (result["stdout"], result["stderr"]) == ("one\nthree\n", "two\n")
    assert result["ok"] and result["error"] is None


def test_a_write_callback_that_prints_does_not_loop(session) -> None:
    result = session.run("data", "print('x')", lambda t: print("echo", t))
    assert result["ok"] and result["stdout"] == "x\n"


def test_a_cell_has_the_keras_names_numpy_and_the_labs_objects_without_an_import(
        session) -> None:
    code = ("names = [Sequential, Conv2D, MaxPooling2D, Flatten, Dense, Dropout, Adam, SGD]\n"
            "images, labels = data.training(3)\n"
            "print(images.shape, images.dtype, labels.shape, np.argmax(labels, axis=-1))\n"
            "print(pixels.shape, model)\n")
    result = session.run("data", code)
    assert result["ok"], result["error"]
    assert result["stdout"] == "(3, 28, 28, 1) float32 (3, 10) [7 3 4]\n(28, 28) None\n"
    assert session.namespace["names"][0] is keras.Sequential


def test_an_edited_get_model_with_16_first_filters_is_the_pages_model(session) -> None:
    edited = original("model").replace("filters=8", "filters=16")
    result = session.run("model", edited)
    assert result["ok"], result["error"]
    assert "Total params: 9,402" in result["stdout"]
    engine = session.model_from_code(seed=3)
    assert engine.param_count() == 9402
    assert engine.spec() == build_model(engine.spec(), seed=3).spec()
    fresh = build_model(engine.spec(), seed=3)  # seeded as train() seeds a model
    for key, value in engine.parameters().items():
        np.testing.assert_array_equal(value, fresh.parameters()[key])
    # The page adopts it: `model` in the cells is the front the model cell compiled.
    session.set_model(engine)
    assert session.namespace["model"].engine is engine
    assert session.namespace["model"].compiled
    assert session.model_from_code() is not engine  # always a fresh build


def test_a_failing_get_model_leaves_the_current_model_in_place(session) -> None:
    assert session.run("model", original("model"))["ok"]
    before = session.namespace["model"]
    broken = original("model").replace("model.add(Flatten())", "model.add(Flaten())")
    result = session.run("model", broken)
    assert not result["ok"] and result["error"]["type"] == "NameError"
    assert session.namespace["model"] is before
    assert not result["model_changed"]
    assert "Flaten" not in session.namespace  # nothing of the failed run is kept
    assert session.model_from_code().param_count() == 5994  # the last good get_model


def test_new_names_of_a_failed_cell_are_dropped_and_old_ones_restored(session) -> None:
    assert session.run("data", "x = 1")["ok"]
    result = session.run("data", "x = 2\ny = 3\nraise ValueError('no')")
    assert not result["ok"]
    assert session.namespace["x"] == 1 and "y" not in session.namespace


def test_the_pages_model_is_model_in_the_cells_ready_to_fit(session, mnist) -> None:
    engine = build_model("tutorial", seed=0)
    session.set_model(engine)
    front = session.namespace["model"]
    assert front.engine is engine and front.compiled
    result = session.run("evaluate", original("evaluate"))
    assert result["ok"], result["error"]
    assert session.show.alts["per-class"].startswith("Per-class test accuracy: 0: ")
    session.set_model(engine)  # the same model again: the same front
    assert session.namespace["model"] is front
    session.set_model(None)
    assert session.namespace["model"] is None and session.model is None


def test_predict_drawing_gets_the_pads_pixels(session) -> None:
    session.set_model(build_model("tutorial", seed=0))
    assert session.run("try", original("try"))["ok"]
    drawing = np.zeros((28, 28), np.float32)
    drawing[4:24, 13:15] = 1.0  # a one
    session.set_pixels(drawing)
    answer = session.call("predict_drawing", session.namespace["model"], drawing)
    assert answer["ok"] and answer["stdout"] == ""  # verbose=0: the pad calls it often
    assert answer["value"].shape == (10,)
    assert abs(float(answer["value"].sum()) - 1) < 1e-5
    assert session.show.alts["pad-probs"].startswith("Probabilities for digits 0 to 9:")
    np.testing.assert_array_equal(session.namespace["pixels"], drawing)
    session.set_pixels(None)  # a cleared pad: the first test image again
    assert session.namespace["pixels"].shape == (28, 28)


def test_calling_a_function_whose_cell_has_not_run_says_name_error(session) -> None:
    answer = session.call("predict_drawing", None, None)
    assert not answer["ok"] and answer["value"] is None
    assert answer["error"]["type"] == "NameError"
    assert "`predict_drawing`" in answer["error"]["hint"]


def test_callbacks_join_every_fit_a_cell_calls(session) -> None:
    assert session.run("model", original("model"))["ok"]
    seen: list[int] = []

    class Stop(keras.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
            self.model.stop_training = True  # what the page's Stop check does

    result = session.run("train", cell("train"), callbacks=[Stop()])
    assert result["ok"], result["error"]
    assert seen == [0]
    assert len(session.namespace["history"].history["loss"]) == 1


def test_a_running_session_refuses_a_second_run(session) -> None:
    session.running = True
    with pytest.raises(DigitLabError) as info:
        session.run("data", "pass")
    assert info.value.code == "BUSY"


def test_drawings_go_through_the_pages_views_and_follow_a_language_switch(mnist) -> None:
    """The page hands in a `present` that draws the way its own views draw: the alt text is
    posted, and a language switch (views.redraw) draws the cell's charts again."""
    from digitlab.web import views

    canvases, posted = page_canvases(), []
    views.attach(canvases, posted.append)
    lang = {"now": "en"}
    session = Session(mnist, canvases, "en",
                      present=lambda name, paint: views._show(canvases, name, lang["now"], paint))
    assert session.run("data", original("data"))["ok"]
    assert posted[-1]["id"] == "examples-alt" and posted[-1]["text"].startswith("20 digits")
    lang["now"] = "zh-CN"
    session.set_language("zh-CN")
    assert "examples" in views.redraw(canvases, "zh-CN")
    assert posted[-1]["text"].startswith("20 个数字")
