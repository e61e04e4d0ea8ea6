"""`show`, the cells' drawing helpers: each draws the page's chart on its step's canvas, with
words and a text alternative in the session's language, through the `present` the page hands
in; `PngCanvases` draws the same charts with Pillow for a script."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab import keras
from digitlab.codelab.png_canvas import PngCanvas, PngCanvases, css_rgba
from digitlab.codelab.show import CANVAS, Show, class_indices, digits_uint8
from digitlab.nn.zoo import build_model
from digitlab.viz import charts

LABELS = np.arange(20) % 10
PREDICTIONS = np.where(LABELS == 3, 5, LABELS)  # every 3 taken for a 5


def ink(canvases: PngCanvases, name: str) -> int:
    """Pixels that differ from the background: how much was drawn."""
    rgba = canvases.canvas(name).rgba()
    return int((np.abs(rgba[..., :3].astype(int) - css_rgba(canvases.theme.background)[:3])
                .sum(axis=-1) > 60).sum())


@pytest.fixture()
def drawn() -> tuple[Show, PngCanvases]:
    canvases = PngCanvases()
    show = Show(canvases, "en")
    images = np.zeros((20, 28, 28, 1), np.float32)
    images[:, 8:20, 12:16] = 1.0
    show.examples(images, np.eye(10, dtype=np.float32)[LABELS])
    show.history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "acc": [0.6, 0.8],
                  "val_accuracy": [0.5, 0.75]})
    show.batches([{"loss": 2.0 / (i + 1), "accuracy": i / 10} for i in range(10)])
    show.per_class_accuracy(LABELS, PREDICTIONS)
    show.confusion(LABELS, PREDICTIONS)
    show.probabilities(np.full(10, 0.1))
    return show, canvases


def test_each_helper_draws_on_its_steps_canvas(drawn) -> None:
    show, canvases = drawn
    assert set(show.alts) == set(CANVAS.values()) == {
        "examples", "chart-batch", "chart-epoch", "per-class", "confusion", "pad-probs"}
    for name in show.alts:
        assert ink(canvases, name) > 200, name
    assert canvases.size("confusion") == (420, 420)
    assert canvases.size("examples") == (10 * 60, 2 * 76)  # 10 columns of 2x digits, 2 rows


def test_the_text_alternatives_say_what_is_drawn(drawn) -> None:
    show, _ = drawn
    assert show.alts["examples"] == ("20 digits, each with its label under it: "
                                     + ", ".join(str(v) for v in LABELS) + ".")
    assert show.alts["chart-epoch"] == ("Epoch 2: loss 0.500, accuracy 0.800, validation loss "
                                        "0.700, validation accuracy 0.750.")
    assert show.alts["chart-batch"] == "Batch 10: loss 0.200, accuracy 0.900."
    assert "3: 0.0% (2)" in show.alts["per-class"] and "5: 100.0% (2)" in show.alts["per-class"]
    assert "3: 0 0 0 0 0 2 0 0 0 0" in show.alts["confusion"]
    assert show.alts["pad-probs"].startswith("Probabilities for digits 0 to 9: 0: 10%")


def test_the_helpers_return_what_they_computed() -> None:
    show = Show(PngCanvases(), "en")
    accuracies = show.per_class_accuracy(LABELS, PREDICTIONS)
    assert accuracies[3] == 0.0 and accuracies[5] == 1.0 and len(accuracies) == 10
    matrix = show.confusion(np.eye(10)[LABELS], np.eye(10)[PREDICTIONS])  # one-hot works too
    assert matrix.shape == (10, 10) and matrix[3, 5] == 2 and matrix.trace() == 18


def test_a_language_switch_redraws_in_chinese(drawn) -> None:
    show, canvases = drawn
    before = canvases.canvas("confusion").rgba().copy()
    assert show.redraw("zh-CN") == list(show.alts)
    assert show.alts["chart-batch"] == "第 10 批：损失 0.200，准确率 0.900。"
    assert show.alts["examples"].startswith("20 个数字")
    assert not np.array_equal(before, canvases.canvas("confusion").rgba())  # other words


def test_present_is_how_a_drawing_reaches_the_page() -> None:
    """The page passes a `present` that draws through its own views (kept for a language
    switch, the alt text posted): it gets each canvas's name and a painter."""
    presented: list[tuple[str, object]] = []
    canvases = PngCanvases()
    show = Show(canvases, "en", lambda name, paint: presented.append((name, paint)))
    show.probabilities(np.eye(10)[7])
    assert [name for name, _ in presented] == ["pad-probs"] and show.alts == {}
    name, paint = presented[0]
    assert paint(canvases, "zh-CN").startswith("数字 0 到 9 的概率：")
    assert ink(canvases, "pad-probs") > 200
    show.examples(np.zeros((2, 784), np.uint8), [1, 2], canvas="misclassified")
    assert presented[-1][0] == "misclassified"  # any canvas, when asked


def test_fit_callbacks_draw_each_batch_and_epoch_while_keras_trains(synthetic) -> None:
    canvases = PngCanvases()
    show = Show(canvases, "en")
    model = keras.Sequential.wrap(build_model("tutorial", seed=0))
    model.compile(optimizer=keras.Adam(0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    images = synthetic.images[:64].reshape(-1, 28, 28, 1).astype(np.float32) / 255
    labels = np.eye(10, dtype=np.float32)[synthetic.labels[:64]]
    callback = show.fit_callbacks(["loss", "val_loss", "acc", "val_acc"])
    model.fit(images, labels, batch_size=16, epochs=2, verbose=0,
              validation_data=(images[:16], labels[:16]), callbacks=[callback])
    assert callback.metrics == ["loss", "val_loss", "accuracy", "val_accuracy"]
    assert show.alts["chart-batch"].startswith("Batch 8: ")  # 2 epochs of 4 batches
    assert show.alts["chart-epoch"].startswith("Epoch 2: ")
    # The batch chart has each batch's own numbers (the engine's), not Keras's running means.
    own = model.run.history["batches"][-1]
    assert show.alts["chart-batch"] == (f"Batch 8: loss {own['loss']:.3f}, accuracy "
                                        f"{own['acc']:.3f}.")


def test_a_history_drawn_from_keras_names_or_tfjs_names() -> None:
    show = Show(PngCanvases(), "en")
    history = keras.History()
    history.history = {"loss": [0.4], "accuracy": [0.9]}
    show.history(history, ["loss", "accuracy"])
    assert show.alts["chart-epoch"] == ("Epoch 1: loss 0.400, accuracy 0.900, validation loss "
                                        "–, validation accuracy –.")


def test_inputs_in_any_of_the_shapes_the_cells_have() -> None:
    assert class_indices([3, 1]).tolist() == [3, 1]
    assert class_indices(np.eye(10)[[3, 1]]).tolist() == [3, 1]
    assert digits_uint8(np.ones((2, 28, 28, 1), np.float32)).max() == 255
    assert digits_uint8(np.ones((2, 784), np.uint8)).shape == (2, 28, 28)
    with pytest.raises(ValueError, match="10 probabilities"):
        Show(PngCanvases()).probabilities([1.0])


def test_png_canvases_draw_the_canvas_api_viz_uses(tmp_path) -> None:
    canvases = PngCanvases(tmp_path)
    ctx = canvases.ctx("chart", 200, 100)
    charts.line_chart(ctx, 200, 100, [charts.Series("a", [1, 2, 3], [3, 1, 2], dashed=True)],
                      "title", "x", "y", canvases.theme)
    assert ink(canvases, "chart") > 100
    path = canvases.save("chart")
    assert path == tmp_path / "chart.png" and path.read_bytes().startswith(b"\x89PNG")
    canvas = PngCanvas(10, 10)
    canvas.getContext("2d").fillRect(0, 0, 5, 10)
    canvas.width = 20  # resizing clears, as in a browser
    assert canvas.rgba().shape == (10, 20, 4) and canvas.rgba()[..., 3].max() == 0
    assert css_rgba("rgba(10,20,30,0.5)") == (10, 20, 30, 128)
    assert css_rgba("#0072b2") == (0, 114, 178, 255)
