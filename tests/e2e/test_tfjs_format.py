"""TensorFlow.js Layers models checked against real TF.js 4.22 (the benchmark's page,
bench/tfjs/, served as bench/run.py serves it): a model trained in DigitLab, exported, loads
with tf.loadLayersModel and predicts what DigitLab predicts on 500 test images; a model defined
and trained in TF.js with the codelab's code, saved with model.save, is loaded through the Load
control and predicts what TF.js predicts. Both for the tutorial and the strong architecture.
TF.js runs on its cpu backend and trains on a few hundred images: the weights only need to
differ from the initial ones."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from digitlab.data.mnist import MnistData
from tests.e2e.conftest import READY_TIMEOUT_MS, ROOT, open_page
from tests.e2e.pages import alert_text, call

TEST_IMAGES = 500
TOLERANCE = 1e-4

# The strong architecture (py/digitlab/nn/zoo.py: STRONG_SPEC) in the codelab's own style.
STRONG_JS = """(learningRate) => {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({inputShape: [28, 28, 1], kernelSize: 5, filters: 16, strides: 1,
                              activation: "relu", kernelInitializer: "varianceScaling"}));
  model.add(tf.layers.maxPooling2d({poolSize: [2, 2], strides: [2, 2]}));
  model.add(tf.layers.conv2d({kernelSize: 5, filters: 48, strides: 1, activation: "relu",
                              kernelInitializer: "varianceScaling"}));
  model.add(tf.layers.maxPooling2d({poolSize: [2, 2], strides: [2, 2]}));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({units: 64, activation: "relu", kernelInitializer: "varianceScaling"}));
  model.add(tf.layers.dense({units: 10, kernelInitializer: "varianceScaling",
                             activation: "softmax"}));
  model.compile({optimizer: tf.train.adam(learningRate), loss: "categoricalCrossentropy",
                 metrics: ["accuracy"]});
  return model;
}"""

# Helpers in the TF.js page: float32 images from base64, predictions as a plain list.
TFJS_HELPERS = """
window.floats = (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
};
window.predictAll = async (model, b64, count) => {
  const xs = tf.tensor4d(floats(b64), [count, 28, 28, 1]);
  const out = model.predict(xs);
  const values = Array.from(await out.data());
  tf.dispose([xs, out]);
  return values;
};
"""


def load_bench_run():
    """bench/run.py as a module: its server is the one the benchmark uses."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tfjs_page(browser: Browser) -> Iterator[Page]:
    """The benchmark's TF.js page, on the cpu backend, with the helpers above."""
    with load_bench_run().bench_server() as url:
        context, page, _ = open_page(browser)
        page.set_default_timeout(READY_TIMEOUT_MS)
        page.goto(url)
        page.wait_for_function("() => Boolean(window.tfjsBench) && Boolean(window.tf)")
        page.evaluate("async () => { await tf.setBackend('cpu'); await tf.ready(); }")
        page.add_script_tag(content=TFJS_HELPERS)
        assert page.evaluate("tf.version.tfjs") == "4.22.0"
        yield page
        context.close()


@pytest.fixture(scope="module")
def mnist() -> MnistData:
    return MnistData.from_dir(ROOT / ".cache" / "data")


@pytest.fixture(scope="module")
def test_pixels(mnist: MnistData) -> np.ndarray:
    return (mnist.test_set(TEST_IMAGES)[0] / np.float32(255)).astype(np.float32)


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def digitlab_predictions(page: Page, pixels: np.ndarray) -> np.ndarray:
    rows = call(page, "Promise.all(arg.map((p) => window.digitlab.predict(p)))", pixels.tolist())
    assert not isinstance(rows, dict), rows
    return np.array(rows, dtype=np.float64)


def assert_same_predictions(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape == (TEST_IMAGES, 10)
    assert np.abs(ours - theirs).max() <= TOLERANCE
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()


@pytest.mark.parametrize("model", ["tutorial", "strong"])
def test_a_model_exported_from_digitlab_loads_in_tfjs(ready_page, tfjs_page: Page,
                                                      test_pixels: np.ndarray, model: str):
    lab, _ = ready_page
    result = call(lab, "window.digitlab.train(arg)",
                  {"model": model, "trainSize": 500, "validationSize": 0, "epochs": 1,
                   "batchSize": 100})
    assert "error" not in result, result
    # The button downloads the same zip the API returns.
    with lab.expect_download() as download:
        lab.get_by_test_id("export-tfjs").click()
    assert download.value.suggested_filename == "digitlab-tfjs-model.zip"
    downloaded = Path(download.value.path()).read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(downloaded))
    assert sorted(archive.namelist()) == ["model.json", "model.weights.bin"]
    model_json = archive.read("model.json").decode()
    assert json.loads(model_json)["modelTopology"]["config"]["layers"][0]["config"][
        "batch_input_shape"] == [None, 28, 28, 1]
    ours = digitlab_predictions(lab, test_pixels)

    theirs = tfjs_page.evaluate("""async ([json, bin, images, count]) => {
        const files = [new File([json], "model.json", {type: "application/json"}),
                       new File([floats(bin)], "model.weights.bin")];
        const model = await tf.loadLayersModel(tf.io.browserFiles(files));
        const values = await predictAll(model, images, count);
        model.dispose();
        return values;
    }""", [model_json, b64(np.frombuffer(archive.read("model.weights.bin"), "<f4")),
           b64(test_pixels), TEST_IMAGES])
    assert_same_predictions(ours, np.array(theirs).reshape(TEST_IMAGES, 10))


@pytest.mark.parametrize("model", ["tutorial", "strong"])
def test_a_model_trained_in_tfjs_opens_in_digitlab(ready_page, tfjs_page: Page, mnist,
                                                   test_pixels: np.ndarray, model: str,
                                                   tmp_path: Path):
    lab, _ = ready_page
    train_images, train_labels = mnist.train_set()
    count = 256
    x = (train_images[:count] / np.float32(255)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[train_labels[:count]]
    define = "codelabModel" if model == "tutorial" else STRONG_JS
    saved = tfjs_page.evaluate(f"""async ([xs, ys, count, images, testCount]) => {{
        const model = ({define})(0.001);
        const x = tf.tensor4d(floats(xs), [count, 28, 28, 1]);
        const y = tf.tensor2d(floats(ys), [count, 10]);
        await model.fit(x, y, {{batchSize: 64, epochs: 1, shuffle: true}});
        tf.dispose([x, y]);
        let files = null;
        // What model.save('downloads://model') writes (tfjs-core's BrowserDownloads), captured.
        await model.save(tf.io.withSaveHandler(async (artifacts) => {{
          const json = {{modelTopology: artifacts.modelTopology, format: artifacts.format,
            generatedBy: artifacts.generatedBy, convertedBy: artifacts.convertedBy,
            weightsManifest: [{{paths: ["./model.weights.bin"], weights: artifacts.weightSpecs}}]}};
          const bin = new Uint8Array(artifacts.weightData);
          let text = "";
          for (let i = 0; i < bin.length; i += 8192) {{
            text += String.fromCharCode(...bin.subarray(i, i + 8192));
          }}
          files = {{json: JSON.stringify(json), bin: btoa(text)}};
          return {{modelArtifactsInfo: {{dateSaved: new Date(), modelTopologyType: "JSON"}}}};
        }}));
        const predictions = await predictAll(model, images, testCount);
        model.dispose();
        return {{...files, predictions}};
    }}""", [b64(x), b64(y), count, b64(test_pixels), TEST_IMAGES])
    assert json.loads(saved["json"])["generatedBy"] == "TensorFlow.js tfjs-layers v4.22.0"
    (tmp_path / "model.json").write_text(saved["json"])
    (tmp_path / "model.weights.bin").write_bytes(base64.b64decode(saved["bin"]))

    # Both files chosen together in the Load control.
    lab.get_by_test_id("load-weights").set_input_files(
        [tmp_path / "model.json", tmp_path / "model.weights.bin"])
    lab.wait_for_function("() => window.digitlab.state().model?.source === 'file'")
    lab.wait_for_function("() => document.querySelector(\"[data-testid='load-weights-status']\")"
                          ".textContent.startsWith('Loaded')")
    state = call(lab, "Promise.resolve(window.digitlab.state())")
    assert (state["model"]["name"], state["model"]["trained"]) == (model, True)
    assert "model.weights.bin" in lab.get_by_test_id("load-weights-status").inner_text()
    assert_same_predictions(digitlab_predictions(lab, test_pixels),
                            np.array(saved["predictions"]).reshape(TEST_IMAGES, 10))
    evaluation = call(lab, "window.digitlab.evaluate({size: 500})")
    assert 0 <= evaluation["accuracy"] <= 1 and len(evaluation["predictions"]) == 500
    # It saves as a weights file and comes back the same.
    saved_npz = call(lab, "window.digitlab.saveWeights().then((b) => Array.from(b))")
    assert isinstance(saved_npz, list) and len(saved_npz) > 1000


def test_a_bad_tfjs_upload_is_explained_and_changes_nothing(ready_page, tmp_path: Path):
    lab, _ = ready_page
    if call(lab, "Promise.resolve(window.digitlab.state().model)") is None:
        assert "error" not in call(lab, "window.digitlab.train(arg)",
                                   {"trainSize": 200, "validationSize": 0, "epochs": 1,
                                    "batchSize": 100})
    before = call(lab, "Promise.resolve(window.digitlab.state())")
    probabilities = call(lab, "window.digitlab.predict(new Array(784).fill(0.5))")
    zipped = call(lab, "window.digitlab.exportTfjs().then((b) => Array.from(b))")
    files = zipfile.ZipFile(io.BytesIO(bytes(zipped)))
    (tmp_path / "model.json").write_bytes(files.read("model.json"))
    (tmp_path / "model.weights.bin").write_bytes(files.read("model.weights.bin")[:-4])

    lab.get_by_test_id("load-weights").set_input_files(tmp_path / "model.json")
    lab.get_by_test_id("alert").wait_for(state="visible")
    message = alert_text(lab)
    assert "TensorFlow.js model was refused" in message and "model.weights.bin" in message
    assert "unchanged" in message
    lab.get_by_test_id("alert-dismiss").click()

    lab.get_by_test_id("load-weights").set_input_files(
        [tmp_path / "model.json", tmp_path / "model.weights.bin"])
    lab.get_by_test_id("alert").wait_for(state="visible")
    message = alert_text(lab)
    assert "bytes" in message and "model.weights.bin" in message, message
    assert "was not loaded" in lab.get_by_test_id("load-weights-status").inner_text()
    lab.get_by_test_id("alert-dismiss").click()

    after = call(lab, "Promise.resolve(window.digitlab.state())")
    assert after["model"] == before["model"]
    assert call(lab, "window.digitlab.predict(new Array(784).fill(0.5))") == probabilities
