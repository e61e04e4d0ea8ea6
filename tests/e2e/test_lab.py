"""The lab page driven like a person would: controls, live charts, evaluation, the pad, files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import ARTIFACTS, READY_TIMEOUT_MS, ROOT, open_page, wait_ready
from tests.e2e.pages import (
    alert_text,
    call,
    canvas_rgba,
    canvas_rgba_changed,
    draw_one,
    wait_phase,
)

SMALL_RUN = {"train-size": "2000", "validation-size": "500", "epochs": "2", "batch-size": "64"}
TRAINED: dict = {}  # what the first training test learned, for the tests after it
# Two runs of the same model that differ in batch shapes or in the implementation (Pyodide's
# NumPy or the SIMD kernel vs OpenBLAS) add each output's float32 terms in another order:
# probabilities agree to about 1e-7. So a predicted class may differ only where the two best
# probabilities are that close; 1e-5 leaves room, and still catches a wrong model.
NEAR_TIE = 1e-5


def same_class_or_near_tie(chosen: int, probabilities: list[float]) -> bool:
    """`chosen` is the class with the highest of `probabilities`, up to a near-tie."""
    return probabilities[chosen] >= max(probabilities) - NEAR_TIE


def plot_area(pixels: np.ndarray) -> np.ndarray:
    """The inside of both stacked plots, away from titles, legends and tick labels."""
    height, width = pixels.shape[:2]
    half = height // 2
    rows = np.r_[int(half * 0.35): int(half * 0.8), half + int(half * 0.35): half + int(half * 0.8)]
    return pixels[rows, int(width * 0.2): int(width * 0.95)]


@pytest.fixture(scope="module")
def lab(ready_page):
    return ready_page[0]


def test_training_through_the_controls_updates_charts_and_learns(lab: Page) -> None:
    before = {name: plot_area(canvas_rgba(lab, name)) for name in ("chart-batch", "chart-epoch")}
    for testid, value in SMALL_RUN.items():
        lab.get_by_test_id(testid).fill(value)
    lab.get_by_test_id("model-select").select_option("tutorial")
    lab.evaluate("""() => {
        window.__gaps = []; let last = performance.now();
        const tick = (now) => { window.__gaps.push(now - last); last = now;
            if (window.digitlab.state().phase === 'training') requestAnimationFrame(tick); };
        requestAnimationFrame(tick);
    }""")
    lab.get_by_test_id("train").click()
    wait_phase(lab, "training", 10_000)
    lab.wait_for_function("() => window.digitlab.state().batch >= 5", timeout=120_000)
    mid_pixels = canvas_rgba(lab, "chart-batch")
    mid = plot_area(mid_pixels)
    wait_phase(lab, "ready")
    after = {"chart-batch": plot_area(canvas_rgba_changed(lab, "chart-batch", mid_pixels)),
             "chart-epoch": plot_area(canvas_rgba(lab, "chart-epoch"))}
    assert not np.array_equal(before["chart-batch"], mid), "batch chart did not change live"
    assert not np.array_equal(mid, after["chart-batch"]), "batch chart stopped updating"
    assert not np.array_equal(before["chart-epoch"], after["chart-epoch"])
    worst_gap = max(lab.evaluate("window.__gaps"))
    print(f"worst main-thread frame gap while training: {worst_gap:.0f} ms")
    assert worst_gap < 1000

    result = call(lab, "window.digitlab.evaluate({size: 2000})")
    assert result["accuracy"] >= 0.80, result["accuracy"]
    confusion = np.array(result["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 2000
    assert np.trace(confusion) == round(result["accuracy"] * 2000)
    per_class = np.diag(confusion) / confusion.sum(axis=1)
    assert np.allclose(result["perClass"], per_class)
    assert len(result["predictions"]) == 2000
    for i in (0, 1, 17, 1999):
        image = call(lab, f"window.digitlab.testImage({i})")
        probabilities = call(lab, "window.digitlab.predict(arg)", image["pixels"])
        assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-4
        # predict() runs a batch of one, evaluate() batches of 1000: other GEMM shapes.
        assert same_class_or_near_tie(result["predictions"][i], probabilities), \
            (i, result["predictions"][i], probabilities)
    for testid in ("per-class", "confusion", "misclassified", "predictions"):
        assert canvas_rgba(lab, testid)[..., :3].std() > 10, f"{testid} is blank"
    TRAINED["predictions"] = result["predictions"][:200]


def test_stop_ends_training_within_a_batch_and_keeps_the_weights(lab: Page) -> None:
    lab.evaluate("() => { window.__run = window.digitlab.train({trainSize: 20000, epochs: 1, "
                 "batchSize: 100, validationSize: 0, continue: true}); }")
    lab.wait_for_function("() => window.digitlab.state().batch >= 3", timeout=60_000)
    busy = call(lab, "window.digitlab.evaluate({size: 10})")
    assert busy["code"] == "BUSY"
    lab.evaluate("window.digitlab.stop()")
    history = call(lab, "window.__run")
    stopped_after = lab.evaluate("window.digitlab.state().run.batch")
    assert 3 <= stopped_after < 200, stopped_after  # 200 batches make the whole epoch
    # Continue numbers on after the finished 2-epoch run: its batches come first.
    assert len(history["batches"]) == 2 * 32 + stopped_after
    assert lab.evaluate("window.digitlab.state().phase") == "ready"
    first = call(lab, "window.digitlab.evaluate({size: 500})")["predictions"]
    again = call(lab, "window.digitlab.evaluate({size: 500})")["predictions"]
    assert first == again
    TRAINED["predictions"] = call(lab, "window.digitlab.evaluate({size: 200})")["predictions"]




def test_a_one_drawn_on_the_pad_is_read_as_one_and_clear_empties_it(lab: Page) -> None:
    draw_one(lab)
    probabilities = call(lab, "window.digitlab.predictPad()")
    assert int(np.argmax(probabilities)) == 1, probabilities
    assert canvas_rgba(lab, "pad-probs")[..., :3].std() > 10
    lab.get_by_test_id("clear").click()
    assert canvas_rgba(lab, "pad")[..., 3].max() == 0, "the pad still has ink"
    assert call(lab, "window.digitlab.predictPad()") is None
    assert lab.locator("#pad-hint").is_visible()


def test_feature_maps_follow_the_chosen_test_image(lab: Page) -> None:
    before = canvas_rgba(lab, "feature-maps")  # with no drawing: words saying how to choose
    shown = call(lab, "window.digitlab.inspect(3)")
    assert shown["layers"] == ["conv2d_1", "conv2d_2"]
    first = canvas_rgba_changed(lab, "feature-maps", before)
    call(lab, "window.digitlab.inspect(4)")
    second = canvas_rgba_changed(lab, "feature-maps", first)
    assert first.shape == second.shape and not np.array_equal(first, second)
    assert call(lab, "window.digitlab.inspect(10000)")["code"] == "BAD_CONFIG"
    lab.get_by_test_id("alert-dismiss").click()
    assert canvas_rgba(lab, "filters")[..., :3].std() > 10
    call(lab, "window.digitlab.inspect(null)")


def test_weights_survive_a_reload_and_bad_files_are_refused(lab: Page, tmp_path) -> None:
    saved = bytes(call(lab, "window.digitlab.saveWeights().then(b => Array.from(b))"))
    assert saved[:2] == b"PK"
    refused = call(lab, "window.digitlab.loadWeights(new Uint8Array([1, 2, 3, 4]))")
    assert refused["code"] == "BAD_WEIGHTS"
    assert "weights" in alert_text(lab).lower()
    lab.get_by_test_id("alert-dismiss").click()
    kept = call(lab, "window.digitlab.evaluate({size: 200})")["predictions"]
    assert kept == TRAINED["predictions"]

    lab.reload()
    wait_ready(lab)
    restored = call(lab, "window.digitlab.evaluate({size: 200})")
    assert restored["predictions"] == TRAINED["predictions"], "IndexedDB did not restore the model"

    path = tmp_path / "weights.npz"
    path.write_bytes(saved)
    lab.get_by_test_id("load-weights").set_input_files(str(path))
    lab.wait_for_timeout(500)
    assert not lab.get_by_test_id("alert").is_visible()


def test_calls_in_flight_together_each_get_their_own_answer(lab: Page) -> None:
    # The worker serves calls concurrently: a weights file must reach the call that asked.
    replies = call(lab, """Promise.all([
        window.digitlab.saveWeights().then(b => b.length), window.digitlab.memory(),
        window.digitlab.saveWeights().then(b => b.length), window.digitlab.summary('current'),
        window.digitlab.plan({model: 'tutorial'}),
        window.digitlab.saveWeights().then(b => b.length),
    ])""")
    assert "error" not in replies, replies
    sizes = replies[0], replies[2], replies[5]
    assert sizes[0] > 20_000 and len(set(sizes)) == 1, sizes
    assert "objects" in replies[1] and "wasmHeapBytes" in replies[1]
    assert replies[3]["total_params"] == 5994


def test_a_weights_file_written_by_the_cli_loads_in_the_page(lab: Page, tmp_path) -> None:
    path = tmp_path / "cli.npz"
    subprocess.run([sys.executable, "-m", "digitlab", "train", "--train-size", "1000",
                    "--epochs", "1", "--save", str(path)], cwd=ROOT, check=True,
                   env={"PYTHONPATH": str(ROOT / "py"), "PATH": "/usr/bin:/bin"},
                   capture_output=True)
    from digitlab.data.mnist import MnistData
    from digitlab.nn.weights import load

    model, _ = load(path.read_bytes())
    data = MnistData.from_dir(ROOT / ".cache" / "data")
    probabilities = model.predict(data.test_set(100)[0])
    summary = call(lab, "window.digitlab.loadWeights(new Uint8Array(arg))", list(path.read_bytes()))
    assert "error" not in summary, summary
    assert summary["total_params"] == 5994
    got = call(lab, "window.digitlab.evaluate({size: 100})")["predictions"]
    # The page computes in Pyodide, the CLI under CPython with OpenBLAS: the same classes,
    # except possibly where CPython's two best probabilities are a near-tie.
    differ = [(i, chosen, probabilities[i].tolist()) for i, chosen in enumerate(got)
              if not same_class_or_near_tie(chosen, probabilities[i].tolist())]
    assert len(got) == 100 and not differ, differ


@pytest.mark.parametrize("width,height,name", [(1280, 900, "desktop"), (390, 844, "phone")])
def test_screenshots_of_each_section(browser, server_url: str, width: int, height: int,
                                     name: str) -> None:
    context, page, log = open_page(browser, viewport={"width": width, "height": height})
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(server_url)
    wait_ready(page)
    ARTIFACTS.mkdir(exist_ok=True)
    for section in ("data", "model", "train", "evaluate", "try"):
        locator = page.locator(f"section#{section}")
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(ARTIFACTS / f"{name}-{section}.png"))
        assert (ARTIFACTS / f"{name}-{section}.png").stat().st_size > 1000
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width + 1, f"the page scrolls sideways at {width}px: {page_width}"
    assert not log.foreign()
    context.close()


def test_config_errors_name_the_field(lab: Page) -> None:
    for config, field in [({"epochs": -1}, "epochs"), ({"batchSize": 0}, "batchSize"),
                          ({"trainSize": 50000, "validationSize": 6000}, "trainSize"),
                          ({"learningRate": "fast"}, "learningRate")]:
        error = call(lab, "window.digitlab.train(arg)", config)
        assert error["code"] == "BAD_CONFIG", (config, error)
        assert field in error["error"], (config, error)
    assert json.loads(json.dumps(lab.evaluate("window.digitlab.state()")))["phase"] == "ready"
