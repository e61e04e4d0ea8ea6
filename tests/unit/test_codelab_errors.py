"""A failed cell as the page shows it: the line in the reader's code, the traceback trimmed to
the cells' frames, the type and message, and for the common mistakes a sentence in the page's
language (worded by digitlab.i18n, in English and in Chinese)."""

from __future__ import annotations

import re

import pytest

from digitlab.codelab.session import Session, hint, original
from digitlab.errors import DigitLabError
from digitlab.web.canvas import CanvasSet
from tests.unit.fakes import CANVAS_IDS, FakeCanvas

# Latin words a Chinese text may show outside code: the names the page's Chinese uses too.
ALLOWED = {"DigitLab", "MNIST", "Python", "NumPy", "PNG", "CNN", "Adam", "SGD", "ReLU", "softmax"}


@pytest.fixture(params=["en", "zh-CN"])
def session(request, mnist) -> Session:
    canvases = CanvasSet({name: FakeCanvas() for name in CANVAS_IDS}, lambda *args: None)
    return Session(mnist, canvases, request.param)


def failure(session: Session, step: str, code: str) -> dict:
    result = session.run(step, code)
    assert not result["ok"] and result["error"] is not None
    return result["error"]


def chinese(session: Session, sentence: str) -> None:
    """A hint in Chinese is Chinese: no English outside its code segments."""
    if session.lang == "zh-CN":
        prose = re.sub(r"`[^`]*`", "", sentence)
        assert re.search(r"[\u4e00-\u9fff]", prose), sentence
        assert set(re.findall(r"[A-Za-z]+", prose)) <= ALLOWED, sentence


def test_a_syntax_error_names_its_line(session) -> None:
    error = failure(session, "model", "def get_model():\n    model = Sequential(\n\nx = 1 +\n")
    assert error["type"] == "SyntaxError" and error["cell"] == "model"
    assert error["line"] == 2  # the bracket that never closes
    assert error["traceback"].startswith('  File "<cell model>", line 2')
    assert "Traceback" not in error["traceback"]  # nothing ran: no frames
    assert "2" in error["hint"]
    chinese(session, error["hint"])


def test_an_indentation_error_has_its_own_hint(session) -> None:
    error = failure(session, "data", "def f():\nreturn 1\n")
    assert (error["type"], error["line"]) == ("IndentationError", 2)
    expected = {"en": "indentation", "zh-CN": "缩进"}[session.lang]
    assert expected in error["hint"]


def test_an_exception_names_the_readers_line_and_only_the_readers_frames(session) -> None:
    code = ("def helper(images):\n"
            "    return images.reshape(1, 28, 28, 2)\n"
            "\n"
            "helper(data.test(1)[0])\n")
    error = failure(session, "try", code)
    assert (error["type"], error["line"], error["cell"]) == ("ValueError", 2, "try")
    frames = re.findall(r'File "([^"]+)", line (\d+)', error["traceback"])
    assert frames == [("<cell try>", "4"), ("<cell try>", "2")]
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert "return images.reshape(1, 28, 28, 2)" in error["traceback"]  # the reader's source
    assert error["message"].startswith("cannot reshape array of size 784")
    assert "`.shape`" in error["hint"]
    chinese(session, error["hint"])


def test_an_error_deep_in_the_library_is_shown_at_the_readers_call(session) -> None:
    error = failure(session, "data", "\n\nshow.probabilities([0.5, 0.5])\n")
    assert (error["line"], error["cell"]) == (3, "data")
    assert "digitlab" not in error["traceback"].split("ValueError")[0]  # no library frames
    assert error["message"] == "show.probabilities needs 10 probabilities, got 2"


def test_a_function_from_another_cell_is_named_with_its_cell(session) -> None:
    assert session.run("data", "def broken():\n    return 1 / 0\n")["ok"]
    error = failure(session, "train", "broken()")
    assert (error["type"], error["line"], error["cell"]) == ("ZeroDivisionError", 2, "data")
    assert error["hint"] is None  # no sentence for the rest: the message says it


def test_a_name_error_hints_at_the_spelling_or_an_earlier_cell(session) -> None:
    error = failure(session, "evaluate", "show_accuracy(model, data)")
    assert error["type"] == "NameError" and error["line"] == 1
    assert "`show_accuracy`" in error["hint"]
    chinese(session, error["hint"])


def test_a_shape_mismatch_between_layers_is_worded_as_the_builder_words_it(session) -> None:
    broken = original("model").replace("    model.add(Flatten())\n", "")
    error = failure(session, "model", broken)
    assert error["type"] == "SpecError" and error["cell"] == "model"
    assert broken.splitlines()[error["line"] - 1].strip() == \
        'model.add(Dense(10, kernel_initializer="variance_scaling", activation="softmax"))'
    words = {"en": "add a flatten layer before it", "zh-CN": "展平层"}[session.lang]
    assert words in error["hint"], error["hint"]
    chinese(session, error["hint"])


def test_a_bad_layer_argument_is_named_in_the_pages_language(session) -> None:
    broken = original("model").replace("filters=8", "filters=0")
    error = failure(session, "model", broken)
    assert error["type"] == "SpecError" and error["line"] == 8  # the Conv2D( line
    assert "`filters`" in error["hint"] and "0" in error["hint"]
    chinese(session, error["hint"])


def test_a_misspelt_argument_hints_at_keras_names(session) -> None:
    broken = original("model").replace("pool_size=(2, 2), strides", "pool_sise=(2, 2), strides", 1)
    error = failure(session, "model", broken)
    assert error["type"] == "TypeError"
    assert "`MaxPooling2D`" in error["hint"] and "`pool_sise`" in error["hint"]
    chinese(session, error["hint"])
    missing = original("model").replace("kernel_size=5,\n        strides=1,\n        activation"
                                        '="relu",\n        kernel_initializer="variance_scaling",'
                                        "\n        input_shape", "kernel_sise=5,\n        strides"
                                        '=1,\n        activation="relu",\n        kernel_initial'
                                        'izer="variance_scaling",\n        input_shape')
    error = failure(session, "model", missing)
    assert "`Conv2D`" in error["hint"] and "`kernel_size`" in error["hint"]


def test_an_import_the_lab_does_not_have_says_none_is_needed(session) -> None:
    error = failure(session, "model", "import tensorflow as tf\n")
    assert "`tensorflow`" in error["hint"] and "`Sequential`" in error["hint"]
    chinese(session, error["hint"])


def test_no_model_yet_hints_at_the_model_cell(session) -> None:
    error = failure(session, "evaluate", original("evaluate"))
    assert error["type"] == "AttributeError" and "`model`" in error["hint"]


def test_stop_is_worded_as_stopped(session) -> None:
    error = failure(session, "train", "raise KeyboardInterrupt")
    assert error["type"] == "KeyboardInterrupt"
    assert error["hint"] == {
        "en": "Stopped: you pressed Stop. The names the cell defined are not kept; a model it "
              "was training keeps the batches it finished.",
        "zh-CN": "已停止：你点了“停止”。这个单元定义的名字不会保留；"
                 "它正在训练的模型保留已经完成的批次。"}[session.lang]


def test_exit_in_a_cell_ends_the_cell_not_the_worker(session) -> None:
    error = failure(session, "data", "exit()")
    assert error["type"] == "SystemExit"


@pytest.mark.parametrize("code,reason", [
    ("x = 1", "no_get_model"),
    ("def get_model():\n    return 42", "not_sequential"),
    ("def get_model():\n    model = Sequential()\n    model.add(Flatten())\n    return undefined",
     "get_model_failed"),
])
def test_model_from_code_refuses_what_is_no_model(session, code, reason) -> None:
    assert session.run("model", code)["ok"]
    with pytest.raises(DigitLabError) as info:
        session.model_from_code()
    assert (info.value.code, info.value.reason) == ("BAD_MODEL", reason)
    if reason == "get_model_failed":
        assert info.value.params["exception"] == "NameError" and info.value.params["line"] == 4


def test_model_from_code_passes_the_fronts_own_refusal_on(session) -> None:
    code = ("def get_model():\n    model = Sequential()\n"
            "    model.add(Conv2D(8, 5, input_shape=(28, 28, 1)))\n    return model\n")
    assert session.run("model", code)["ok"]
    with pytest.raises(DigitLabError) as info:
        session.model_from_code()  # no softmax output layer: not a model the lab trains
    assert info.value.code == "BAD_MODEL"


def test_hints_exist_only_for_the_common_cases() -> None:
    assert hint(RuntimeError("x"), "en") is None
    assert hint(TypeError("unsupported operand"), "en") is None
