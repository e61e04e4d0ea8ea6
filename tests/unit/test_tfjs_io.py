"""The TensorFlow.js Layers format (nn/tfjs.py): what export writes, what import accepts, and
every refusal worded in both languages with nothing changed. The real TF.js checks (predictions
of exported and imported models compared in Chromium) are tests/e2e/test_tfjs_format.py."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitlab.i18n import describe
from digitlab.keras import Conv2D, Dense, Flatten, MaxPooling2D, Sequential
from digitlab.nn import tfjs, weights
from digitlab.nn.zoo import STRONG_SPEC, build_model
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot
from tests.unit.test_cli import last_json, run_cli

# What TF.js 4.22 wrote for the codelab's getModel() (bench/tfjs/bench.js), saved with
# model.save(tf.io.withSaveHandler(...)) under Node and the manifest's paths as the browser's
# downloads handler writes them.
FIXTURE = Path(__file__).parent / "fixtures" / "tfjs_codelab_model.json"


def trained_like(spec: str | list = "tutorial", seed: int = 0):
    """A model whose weights are not the initial ones (random, of the initial scale)."""
    model = build_model(spec, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for value in model.parameters().values():
        value[...] = rng.normal(0.0, 0.1, value.shape)
    return model


def images(count: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((count, 784), dtype=np.float32)


def codelab_files(seed: int = 0) -> tuple[dict, dict[str, np.ndarray], dict[str, bytes]]:
    """The TF.js fixture with random weights: (model.json, weights by name, files)."""
    model_json = json.loads(FIXTURE.read_text())
    rng = np.random.default_rng(seed)
    values = {entry["name"]: rng.normal(0, 0.1, entry["shape"]).astype("<f4")
              for entry in model_json["weightsManifest"][0]["weights"]}
    data = b"".join(value.tobytes() for value in values.values())
    return model_json, values, files_of(model_json, data)


def files_of(model_json: dict, data: bytes, bin_name: str = "model.weights.bin") -> dict:
    return {"model.json": json.dumps(model_json).encode(), bin_name: data}


def refusal(files: dict[str, bytes], budget: int | None = None) -> tfjs.BadTfjs:
    with pytest.raises(tfjs.BadTfjs) as caught:
        tfjs.load_files(files, budget)
    return caught.value


# ---------------------------------------------------------------- export

def test_export_writes_what_tfjs_model_save_writes() -> None:
    model_json, data = tfjs.to_tfjs(trained_like())
    real = json.loads(FIXTURE.read_text())
    assert model_json["format"] == "layers-model"
    assert set(model_json) == set(real) and set(model_json["modelTopology"]) == \
        set(real["modelTopology"])
    ours, theirs = (m["modelTopology"]["config"]["layers"] for m in (model_json, real))
    assert [layer["class_name"] for layer in ours] == [layer["class_name"] for layer in theirs]
    for mine, tf in zip(ours, theirs, strict=True):  # the same keys, values but the names
        assert list(mine["config"]) == list(tf["config"])
        assert {k: v for k, v in mine["config"].items() if k != "name"} == \
            {k: v for k, v in tf["config"].items() if k != "name"}
    assert ours[0]["config"]["batch_input_shape"] == [None, 28, 28, 1]
    manifest = model_json["weightsManifest"]
    assert manifest[0]["paths"] == ["./model.weights.bin"] == real["weightsManifest"][0]["paths"]
    names = [entry["name"] for entry in manifest[0]["weights"]]
    assert names == ["conv2d_1/kernel", "conv2d_1/bias", "conv2d_2/kernel", "conv2d_2/bias",
                     "dense_1/kernel", "dense_1/bias"]
    assert [e["shape"] for e in manifest[0]["weights"]] == \
        [e["shape"] for e in real["weightsManifest"][0]["weights"]]
    assert len(data) == 5994 * 4


def test_the_bin_is_little_endian_float32_in_manifest_order_channels_last() -> None:
    model = trained_like("strong")
    model_json, data = tfjs.to_tfjs(model)
    offset = 0
    for entry, (key, value) in zip(model_json["weightsManifest"][0]["weights"],
                                   model.parameters().items(), strict=True):
        assert entry["name"] == key and entry["dtype"] == "float32"
        count = int(np.prod(entry["shape"]))
        stored = np.frombuffer(data, "<f4", count, offset).reshape(entry["shape"])
        np.testing.assert_array_equal(stored, value)
        offset += 4 * count
    assert offset == len(data)
    # The engine flattens (h, w, c), TF.js's channels-last order: the Dense kernel after the
    # Flatten is stored as it is, its rows in that order.
    assert model_json["weightsManifest"][0]["weights"][4]["shape"] == [4 * 4 * 48, 64]


@pytest.mark.parametrize("spec", ["tutorial", "strong"])
def test_export_then_import_gives_the_same_model(spec: str) -> None:
    model = trained_like(spec)
    loaded = tfjs.load_zip(tfjs.export_zip(model))
    assert loaded.name == spec and loaded.spec() == model.spec()
    np.testing.assert_array_equal(loaded.predict(images()), model.predict(images()))


def test_the_zip_holds_model_json_and_its_bin() -> None:
    archive = zipfile.ZipFile(io.BytesIO(tfjs.export_zip(trained_like())))
    assert sorted(archive.namelist()) == ["model.json", "model.weights.bin"]
    assert tfjs.is_tfjs_zip(tfjs.export_zip(trained_like()))
    assert not tfjs.is_tfjs_zip(weights.save(trained_like()))


# ---------------------------------------------------------------- import

def test_import_reads_what_tfjs_writes() -> None:
    _, values, files = codelab_files()
    model = tfjs.load_files(files)
    assert model.name == "tutorial", "the codelab's layers are the tutorial model"
    for (key, value), expected in zip(model.parameters().items(), values.values(), strict=True):
        np.testing.assert_array_equal(value, expected, err_msg=key)
    # An imported model saves as a weights file like any other.
    again, _ = weights.load(weights.save(model))
    np.testing.assert_array_equal(again.predict(images()), model.predict(images()))


def test_import_accepts_keras_forms() -> None:
    """Keras's converter: a model_config wrapper, an InputLayer, camelCase keys also read,
    a Dropout, TF 2.2's cell names, and weights over two shards of two groups."""
    model_json, values, _ = codelab_files()
    layers = model_json["modelTopology"]["config"]["layers"]
    del layers[0]["config"]["batch_input_shape"]
    layers.insert(0, {"class_name": "InputLayer",
                      "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                                 "sparse": False, "name": "input_1"}})
    layers.insert(6, {"class_name": "Dropout", "config": {"rate": 0.25, "noise_shape": None,
                                                          "seed": None, "name": "drop"}})
    layers[1]["config"]["kernelSize"] = layers[1]["config"].pop("kernel_size")
    keras = {"format": "layers-model", "modelTopology": {
        "keras_version": "2.15.0", "backend": "tensorflow",
        "model_config": model_json["modelTopology"]}}
    entries = model_json["weightsManifest"][0]["weights"]
    entries[0]["name"] = "conv2d_Conv2D1/cell/kernel"
    first, second = entries[:2], entries[2:]
    keras["weightsManifest"] = [{"paths": ["group1-shard1of1.bin"], "weights": first},
                                {"paths": ["group2-shard1of2.bin", "group2-shard2of2.bin"],
                                 "weights": second}]
    data = [value.tobytes() for value in values.values()]
    rest = b"".join(data[2:])
    model = tfjs.load_files({"model.json": json.dumps(keras).encode(),
                             "group1-shard1of1.bin": b"".join(data[:2]),
                             "group2-shard1of2.bin": rest[:1000],
                             "group2-shard2of2.bin": rest[1000:]})
    assert [layer["type"] for layer in model.spec()] == [
        "conv2d", "maxPooling2d", "conv2d", "maxPooling2d", "flatten", "dropout", "dense"]
    np.testing.assert_array_equal(model.parameters()["dense_1/kernel"],
                                  values["dense_Dense1/kernel"])


def test_keras_3_weight_names_by_index() -> None:
    model_json, values, _ = codelab_files()
    for entry in model_json["weightsManifest"][0]["weights"]:
        layer, param = entry["name"].rsplit("/", 1)
        entry["name"] = f"{layer}/{0 if param == 'kernel' else 1}"
    data = b"".join(value.tobytes() for value in values.values())
    assert tfjs.load_files(files_of(model_json, data)).name == "tutorial"


def test_a_lone_model_json_or_a_zip_through_the_controller(synthetic_sprite: bytes) -> None:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    model = trained_like("strong")
    reply = lab.call("loadWeights", {}, tfjs.export_zip(model))
    assert reply["ok"] and reply["value"]["total_params"] == 69530
    state = lab.call("state")["value"]["model"]
    assert (state["name"], state["source"], state["trained"]) == ("strong", "file", True)
    np.testing.assert_array_equal(lab.controller.model.predict(images()), model.predict(images()))

    exported = lab.controller.take_bytes(lab.call("exportTfjs")["bytes"])
    np.testing.assert_array_equal(tfjs.load_zip(exported).predict(images()),
                                  model.predict(images()))

    before = {k: v.copy() for k, v in lab.controller.model.parameters().items()}
    files = tfjs.export_files(trained_like())
    refused = lab.call("loadWeights", {}, files["model.json"])
    assert (refused["ok"], refused["code"], refused["reason"]) == \
        (False, "BAD_TFJS", "missing_file")
    assert "model.weights.bin" in refused["message"] and "unchanged" in refused["message"]
    assert lab.controller.model.name == "strong"
    for key, value in lab.controller.model.parameters().items():
        np.testing.assert_array_equal(value, before[key])

    # model.json and its .bin chosen together: one payload, the sizes in order.
    names = list(files)
    payload = b"".join(files[name] for name in names)
    reply = lab.call("loadModelFiles",
                     {"files": [{"name": n, "size": len(files[n])} for n in names]}, payload)
    assert reply["ok"] and lab.call("state")["value"]["model"]["name"] == "tutorial"
    # An imported model trains (Continue starts a run on its weights) and saves like any other.
    history = lab.call("train", {"trainSize": 100, "validationSize": 0, "epochs": 1,
                                 "batchSize": 50, "continue": True})["value"]
    assert len(history["loss"]) == 1
    assert weights.load(lab.controller.take_bytes(lab.call("saveWeights")["bytes"]))[0].name \
        == "tutorial"
    # One file through loadModelFiles is loadWeights: a weights file works as before.
    npz = weights.save(model)
    reply = lab.call("loadModelFiles", {"files": [{"name": "m.npz", "size": len(npz)}]}, npz)
    assert reply["ok"] and lab.call("state")["value"]["model"]["name"] == "strong"


# ---------------------------------------------------------------- refusals

def bad_cases() -> dict[str, tuple]:
    """name -> (files, budget, reason, words in English, words in Chinese)."""
    model_json, values, files = codelab_files()
    data = files["model.weights.bin"]
    cases: dict[str, tuple] = {}
    cases["no bin"] = ({"model.json": files["model.json"]}, None, "missing_file",
                       ["model.weights.bin", "was not given"], ["model.weights.bin", "没有提供"])
    cases["short bin"] = (files_of(model_json, data[:-4]), None, "bin_length",
                          ["23972 bytes", "23976"], ["23972 字节", "23976"])
    wrong = copy.deepcopy(model_json)
    wrong["weightsManifest"][0]["weights"][1]["dtype"] = "int32"
    cases["dtype"] = (files_of(wrong, data), None, "dtype",
                      ["conv2d_Conv2D1/bias", "int32", "float32"], ["int32", "数据类型"])
    quantized = copy.deepcopy(model_json)
    quantized["weightsManifest"][0]["weights"][0]["quantization"] = {"dtype": "uint8"}
    cases["quantized"] = (files_of(quantized, data), None, "quantized", ["quantized"], ["量化"])
    unknown = copy.deepcopy(model_json)
    unknown["modelTopology"]["config"]["layers"][4]["class_name"] = "GlobalAveragePooling2D"
    cases["unknown layer"] = (files_of(unknown, data), None, "unknown_layer",
                              ["layer 5", "flatten_Flatten1", "GlobalAveragePooling2D",
                               "Conv2D"], ["第 5 层", "GlobalAveragePooling2D", "没有这种层"])
    functional = copy.deepcopy(model_json)
    functional["modelTopology"]["class_name"] = "Functional"
    cases["not sequential"] = (files_of(functional, data), None, "not_sequential",
                               ["Functional", "Sequential"], ["Functional", "Sequential"])
    graph = copy.deepcopy(model_json)
    graph["format"] = "graph-model"
    cases["graph model"] = (files_of(graph, data), None, "not_layers_model",
                            ["graph-model", "layers-model"], ["graph-model", "layers-model"])
    dilated = copy.deepcopy(model_json)
    dilated["modelTopology"]["config"]["layers"][2]["config"]["dilation_rate"] = [2, 2]
    cases["dilation"] = (files_of(dilated, data), None, "setting",
                         ["layer 3", "conv2d_Conv2D2", "dilation_rate", "[2, 2]"],
                         ["第 3 层", "dilation_rate", "不支持"])
    tanh = copy.deepcopy(model_json)
    tanh["modelTopology"]["config"]["layers"][0]["config"]["activation"] = "tanh"
    cases["activation"] = (files_of(tanh, data), None, "setting",
                           ["activation", "'tanh'", "'relu'"], ["activation", "'tanh'"])
    regularized = copy.deepcopy(model_json)
    regularized["modelTopology"]["config"]["layers"][5]["config"]["kernel_regularizer"] = {
        "class_name": "L1L2", "config": {"l1": 0, "l2": 0.01}}
    cases["regulariser"] = (files_of(regularized, data), None, "setting",
                            ["kernel_regularizer", "dense_Dense1"], ["kernel_regularizer"])
    first = copy.deepcopy(model_json)
    first["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"] = \
        [None, 32, 32, 3]
    cases["input shape"] = (files_of(first, data), None, "input_shape",
                            ["[null, 32, 32, 3]", "[null, 28, 28, 1]"], ["[null, 28, 28, 1]"])
    # A hidden Dense layer of 100000 units: 25.6 M weights before the output's 1 M.
    huge = copy.deepcopy(model_json)
    layers = huge["modelTopology"]["config"]["layers"]
    layers.insert(5, {"class_name": "Dense", "config": {"units": 100000, "activation": "relu",
                                                        "name": "huge"}})
    cases["huge, in the page"] = (files_of(huge, data), 64 * 10**6, "bad_spec",
                                  ["memory", "budget", "64.0 MB"], ["内存", "64.0 MB"])
    cases["huge, no budget"] = (files_of(huge, data), None, "too_large",
                                ["MB", "the limit is 50 MB"], ["上限是 50 MB"])
    nan = values["dense_Dense1/kernel"].copy()
    nan[3, 4] = np.nan
    nan_data = b"".join((nan if name == "dense_Dense1/kernel" else value).tobytes()
                        for name, value in values.items())
    cases["nan"] = (files_of(model_json, nan_data), None, "not_finite",
                    ["dense_Dense1/kernel", "NaN"], ["dense_Dense1/kernel", "NaN", "无穷大"])
    shapes = copy.deepcopy(model_json)
    shapes["weightsManifest"][0]["weights"][4]["shape"] = [10, 256]
    cases["weight shape"] = (files_of(shapes, data), None, "weight_shape",
                             ["[10, 256]", "[256, 10]"], ["[10, 256]", "[256, 10]"])
    cases["not json"] = ({"model.json": b"{not json", "model.weights.bin": data}, None,
                         "not_json", ["line 1, column 2"], ["第 1 行"])
    cases["no json"] = ({"model.weights.bin": data}, None, "no_model_json",
                        ["model.weights.bin", "model.json"], ["model.json"])
    return cases


CASES = bad_cases()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_files_are_refused_saying_which_in_both_languages(name: str) -> None:
    files, budget, reason, english, chinese = CASES[name]
    problem = refusal(files, budget)
    assert (problem.code, problem.reason) == ("BAD_TFJS", reason)
    en, zh = describe(problem, "en"), describe(problem, "zh-CN")
    assert en.startswith("This TensorFlow.js model was refused") and en.endswith("unchanged.")
    assert zh.startswith("TensorFlow.js 模型被拒绝") and zh.endswith("当前模型保持不变。")
    for words in english:
        assert words in en, (words, en)
    for words in chinese:
        assert words in zh, (words, zh)


def test_a_refused_file_leaves_the_labs_model_unchanged(synthetic_sprite: bytes) -> None:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    lab.call("loadWeights", {}, weights.save(trained_like("strong")))
    before = lab.call("state")["value"]
    posted = len(lab.posted)
    for name, (files, _, _, _, _) in CASES.items():
        reason = refusal(files).reason  # this lab has no memory budget
        names = list(files)
        payload = b"".join(files[n] for n in names)
        reply = lab.call("loadModelFiles",
                         {"files": [{"name": n, "size": len(files[n])} for n in names]}, payload)
        assert (reply["ok"], reply["code"], reply["reason"]) == (False, "BAD_TFJS", reason), name
    assert lab.call("state")["value"] == before
    assert not [m for m in lab.posted[posted:] if m["type"] == "state"]


# ---------------------------------------------------------------- the command line

def test_cli_export_and_import(tmp_path: Path) -> None:
    model = trained_like(STRONG_SPEC)
    source = tmp_path / "strong.npz"
    source.write_bytes(weights.save(model))
    out = tmp_path / "web_model"
    exported = run_cli("export", "--weights", str(source), "--format", "tfjs", "--out",
                       str(out), "--json")
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.weights.bin"]
    assert last_json(exported.stdout)["params"] == 69530
    assert json.loads((out / "model.json").read_text())["format"] == "layers-model"

    back = tmp_path / "back.npz"
    imported = run_cli("import", "--format", "tfjs", "--model", str(out / "model.json"),
                       "--out", str(back), "--json")
    assert imported.returncode == 0, imported.stderr
    assert last_json(imported.stdout)["model"] == "strong"
    again, _ = weights.load(back.read_bytes())
    np.testing.assert_array_equal(again.predict(images()), model.predict(images()))

    (out / "model.weights.bin").unlink()
    refused = run_cli("import", "--model", str(out / "model.json"), "--out", str(back))
    assert refused.returncode == 2
    assert "model.weights.bin" in refused.stderr and "was not given" in refused.stderr
    assert "`" not in refused.stderr, "plain text on a terminal"
    missing = run_cli("export", "--weights", str(tmp_path / "none.npz"), "--out", str(out))
    assert missing.returncode == 2 and "cannot read weights file" in missing.stderr


def test_zips_that_are_not_a_model_are_refused_saying_which() -> None:
    only_bin = io.BytesIO()
    with zipfile.ZipFile(only_bin, "w") as archive:
        archive.writestr("model.weights.bin", b"\0" * 8)
    with pytest.raises(tfjs.BadTfjs) as caught:
        tfjs.load_zip(only_bin.getvalue())
    assert caught.value.reason == "no_model_json"
    assert "model.weights.bin" in describe(caught.value, "en")
    truncated = tfjs.export_zip(trained_like())[:-30]
    with pytest.raises(tfjs.BadTfjs) as caught:
        tfjs.read_zip(truncated)
    assert caught.value.reason == "bad_zip"
    worded = describe(caught.value, "zh-CN")
    assert worded.startswith("TensorFlow.js 模型被拒绝：无法读取这个 `.zip`")


def test_export_names_the_initializer_the_model_was_built_with():
    model = Sequential([Conv2D(8, 5, activation="relu", input_shape=(28, 28, 1)),
                        MaxPooling2D(), Flatten(), Dense(10, activation="softmax")])
    topology = json.loads(tfjs.export_files(model.engine)["model.json"])["modelTopology"]
    layers = topology["config"]["layers"]
    assert layers[0]["config"]["kernel_initializer"]["class_name"] == "GlorotUniform"
    codelab = json.loads(tfjs.export_files(build_model("tutorial"))["model.json"])
    first = codelab["modelTopology"]["config"]["layers"][0]["config"]
    assert first["kernel_initializer"]["class_name"] == "VarianceScaling"
