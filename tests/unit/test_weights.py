import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from digitlab.nn.optim import SGD, Adam
from digitlab.nn.weights import BadWeights, load, load_into, save
from digitlab.nn.zoo import build_model


def trained(name="tutorial", optimizer=None, steps=3):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (48, 784), dtype=np.uint8), rng.integers(0, 10, 48)
    model = build_model(name)
    model.compile(optimizer or Adam())
    for _, _ in zip(range(steps), model.train_steps(x, y, batch_size=16, epochs=1), strict=False):
        pass
    return model, x, y


def arrays_of(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_save_then_load_gives_identical_predictions_and_optimizer_state():
    model, x, _ = trained()
    data = save(model, model.optimizer)
    loaded, optimizer = load(data)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.spec() == model.spec() and loaded.name == "tutorial"
    state, original = optimizer.state(), model.optimizer.state()
    assert (state["type"], state["step"], state["learning_rate"]) == ("adam", 3, 0.001)
    assert state["slots"].keys() == original["slots"].keys()
    for key, slot in original["slots"].items():
        np.testing.assert_array_equal(state["slots"][key], slot)


@pytest.mark.parametrize("optimizer", [Adam(0.002), SGD(0.01, momentum=0.8)])
def test_continue_from_a_file_equals_continuing_in_memory(optimizer):
    model, x, y = trained(optimizer=optimizer)
    data = save(model, model.optimizer)
    copy, _ = load(data)
    for m in (model, copy):
        m.fit(x, y, batch_size=16, epochs=1, seed=9)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(copy.parameters()[key], value)


def test_file_layout_follows_the_contract():
    model, _, _ = trained()
    arrays = arrays_of(save(model, model.optimizer))
    assert int(arrays["format_version"]) == 1
    assert "conv2d_1/kernel" in arrays and arrays["conv2d_1/kernel"].shape == (5, 5, 1, 8)
    assert arrays["dense_1/bias"].dtype == np.float32
    assert str(arrays["optimizer/type"]) == "adam" and int(arrays["optimizer/step"]) == 3
    assert "optimizer/conv2d_1/kernel/m" in arrays
    assert build_model(str(arrays["model_spec"])).param_count() == 5994
    without = arrays_of(save(model))
    assert not any(k.startswith("optimizer/") for k in without)
    assert load(save(model))[1] is None


def corrupt(arrays: dict, change: str) -> dict:
    arrays = dict(arrays)
    if change == "shape":
        arrays["conv2d_1/kernel"] = np.zeros((3, 3, 1, 8), np.float32)
    elif change == "nan":
        arrays["dense_1/kernel"] = arrays["dense_1/kernel"].copy()
        arrays["dense_1/kernel"][0, 0] = np.nan
    elif change == "inf_slot":
        arrays["optimizer/dense_1/kernel/m"] = np.full((256, 10), np.inf, np.float32)
    elif change == "version":
        arrays["format_version"] = np.array(2)
    elif change == "missing":
        del arrays["conv2d_2/bias"]
    elif change == "extra":
        arrays["conv2d_9/kernel"] = np.zeros(3, np.float32)
    elif change == "pickled":
        arrays["dense_1/bias"] = np.array([{"evil": 1}] * 10, dtype=object)
    elif change == "spec":
        arrays["model_spec"] = np.array('[{"type": "conv2d", "filters": 8}]')
    elif change == "int_weights":
        arrays["dense_1/bias"] = np.zeros(10, np.int32)
    return arrays


MESSAGES = {
    "shape": r"conv2d_1/kernel.*shape \[3, 3, 1, 8\].*expected \[5, 5, 1, 8\]",
    "nan": r"dense_1/kernel.*NaN",
    "inf_slot": r"optimizer/dense_1/kernel/m.*NaN or infinite",
    "version": r"unknown format_version 2",
    "missing": r"missing array 'conv2d_2/bias'",
    "extra": r"unexpected array 'conv2d_9/kernel'",
    "pickled": r"pickled objects",
    "spec": r"model_spec.*layer 0",
    "int_weights": r"dense_1/bias.*dtype int32",
}


@pytest.mark.parametrize("change", sorted(MESSAGES))
def test_bad_files_are_refused_with_weights_unchanged(change):
    source, _, _ = trained()
    bad = npz(corrupt(arrays_of(save(source, source.optimizer)), change))
    model = build_model("tutorial", seed=5)
    before = {k: v.copy() for k, v in model.parameters().items()}
    with pytest.raises(BadWeights, match=MESSAGES[change]):
        load_into(model, bad)
    assert model.parameters().keys() == before.keys()
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[key])
    assert model.optimizer is None


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x00" * 100, r"not a \.npz"),
    (np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes(), r"not a \.npz"),
    (b"PK\x03\x04" + b"\x00" * 50, r"not a \.npz"),
    (b"x" * (50 * 1024 * 1024 + 1), "50 MB"),
])  # fmt: skip
def test_not_weights_files_are_refused(data, message):
    with pytest.raises(BadWeights, match=message):
        load(data)


def test_zip_without_arrays_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(BadWeights, match="not a .npz of arrays"):
        load(buffer.getvalue())


def test_load_weights_from_adopts_the_files_architecture():
    source, x, _ = trained("strong")
    model = build_model("tutorial")
    load_into(model, save(source, source.optimizer))
    assert model.name == "strong" and model.param_count() == source.param_count()
    np.testing.assert_array_equal(model.predict(x), source.predict(x))
    assert model.optimizer.step_count == 3


def test_a_saved_file_loads_in_a_fresh_process(tmp_path):
    model, x, _ = trained()
    path = tmp_path / "w.npz"
    path.write_bytes(save(model, model.optimizer))
    expected = model.predict(x[:3]).argmax(axis=1).tolist()
    code = (
        "import sys, numpy as np; from digitlab.nn.weights import load\n"
        f"m, opt = load(open({str(path)!r}, 'rb').read())\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.integers(0, 256, (48, 784), dtype=np.uint8)\n"
        "print(m.name, m.param_count(), opt.kind, m.predict(x[:3]).argmax(axis=1).tolist())"
    )
    env_path = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "py")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": env_path}, check=True).stdout
    assert out.strip() == f"tutorial 5994 adam {expected}"
