"""Errors are data (code, reason, field, layer, limits, value) until digitlab.i18n words them:
each structured path, its data, and its wording in both languages."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from digitlab import schema
from digitlab.__main__ import main as cli
from digitlab.data import png
from digitlab.data.mnist import decode_labels, decode_sprite
from digitlab.errors import ConfigError, DigitLabError, error
from digitlab.i18n import describe
from digitlab.nn.sequential import TrainingDiverged
from digitlab.nn.spec import SpecError, parse_spec
from digitlab.nn.training import check_config, model_error
from digitlab.nn.weights import BadWeights, load
from digitlab.nn.zoo import build_model

PACKAGE = Path(__file__).resolve().parents[2] / "py" / "digitlab"
OUTPUT = {"type": "dense", "units": 10, "activation": "softmax"}
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
# Allowed in Chinese: the names the tutorial teaches, and JSON's literals (what the API takes).
KEPT_WORDS = {"softmax", "ReLU", "MNIST", "PNG", "JSON", "null", "true", "false"}


def zh_english(message: str) -> list[str]:
    """English words in a Chinese message, apart from code segments (`batchSize`, a file name)
    and a quoted value the reader typed."""
    prose = re.sub(r"'[^']*'", "", re.sub(r"`[^`]*`", "", message))
    return [w for w in ENGLISH_WORD.findall(prose) if w not in KEPT_WORDS]


# ---------------------------------------------------------------- the train() config

BAD_CONFIGS = [  # config, field, reason, limits, value, the field's label in Chinese
    ({"batchSize": 0}, "batchSize", "range", [1, 8192], 0, "批大小"),
    ({"batchSize": 2.5}, "batchSize", "range", [1, 8192], 2.5, "批大小"),
    ({"epochs": -1}, "epochs", "range", [1, 1000], -1, "轮数"),
    ({"epochs": "ten"}, "epochs", "type", None, "ten", "轮数"),
    ({"trainSize": 0}, "trainSize", "range", [1, 55000], 0, "训练图片数"),
    ({"validationSize": 55000}, "validationSize", "range", [0, 54999], 55000, "验证图片数"),
    ({"seed": -1}, "seed", "range", [0, 2**32 - 1], -1, "随机种子"),
    ({"learningRate": None}, "learningRate", "type", None, None, "学习率"),
    ({"learningRate": 0}, "learningRate", "positive", [0, None], 0, "学习率"),
    ({"learningRateDecay": 1.5}, "learningRateDecay", "fraction", [0, 1], 1.5, "学习率衰减"),
    ({"optimizer": "rmsprop"}, "optimizer", "choice", None, "rmsprop", "优化器"),
    ({"continue": "yes"}, "continue", "boolean", None, "yes", "继续训练"),
    ({"trainSize": 54500, "validationSize": 1000}, "trainSize", "total", [None, 55000], 54500,
     "训练图片数 + 验证图片数"),
]  # fmt: skip


@pytest.mark.parametrize("config,field,reason,limits,value,label", BAD_CONFIGS,
                         ids=[f"{c[1]}-{c[2]}" for c in BAD_CONFIGS])
def test_bad_configs_are_bad_config_errors_naming_the_field(config, field, reason, limits, value,
                                                            label) -> None:
    with pytest.raises(ConfigError) as info:
        check_config(config)
    problem = info.value
    assert isinstance(problem, ValueError)  # `except ValueError` callers still catch it
    assert (problem.code, problem.reason, problem.field, problem.value) == \
        ("BAD_CONFIG", reason, field, value)
    assert problem.limits == limits
    data = problem.to_dict()
    assert (data["code"], data["field"], data["limits"], data["value"]) == \
        ("BAD_CONFIG", field, limits, value)
    json.dumps(data)
    english, chinese = describe(problem, "en"), describe(problem, "zh-CN")
    assert english.startswith("This setting is not valid: ")
    english_label = schema.TRAINING[field]["label"]
    from digitlab.i18n import STRINGS

    assert STRINGS["en"][english_label] in english and field in english  # label (key)
    assert chinese.startswith("设置无效：") and label in chinese
    # The key follows the label as code, as in English: it is what a script or a link names.
    assert field in "".join(re.findall(r"`([^`]*)`", chinese)), chinese
    assert zh_english(chinese) == [], chinese
    if limits and limits[1] is not None:
        assert str(limits[1]) in english and str(limits[1]) in chinese


def test_the_documented_example_batch_size_0() -> None:
    with pytest.raises(ConfigError) as info:
        check_config({"batchSize": 0})
    data = info.value.to_dict()
    assert {k: data[k] for k in ("code", "field", "limits", "value", "reason")} == {
        "code": "BAD_CONFIG", "field": "batchSize", "limits": [1, 8192], "value": 0,
        "reason": "range"}
    assert describe(data, "zh-CN") == \
        "设置无效：批大小（`batchSize`）必须是 1 到 8192 之间的整数，现在是 0。"
    assert describe(data, "en") == ("This setting is not valid: Batch size (`batchSize`) must "
                                    "be a whole number from 1 to 8192, got 0.")


def test_unknown_fields_and_non_objects_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        check_config({"trainsize": 10})
    assert (info.value.reason, info.value.field) == ("unknown_field", "trainsize")
    assert "'trainsize'" in describe(info.value, "en")
    assert "'trainsize'" in describe(info.value, "zh-CN")
    with pytest.raises(ConfigError, match="must be an object"):
        check_config([1, 2])


def test_workers_is_auto_or_a_count_in_range() -> None:
    assert check_config({"workers": "auto"})["workers"] == "auto"
    assert check_config({"workers": 2.0})["workers"] == 2
    for bad in (0, 9, 1.5, "two", True, None):
        with pytest.raises(ConfigError) as info:
            check_config({"workers": bad})
        assert (info.value.reason, info.value.field) == ("range", "workers")
        assert info.value.limits == [1, schema.MAX_WORKERS]


def test_a_good_config_gets_the_schemas_defaults() -> None:
    assert check_config({}) == schema.TRAINING_DEFAULTS
    config = check_config({"epochs": 3.0, "learningRate": 1e30})
    assert config["epochs"] == 3 and isinstance(config["epochs"], int)
    assert config["learningRate"] == 1e30  # no upper bound: divergence is caught instead
    assert schema.TRAINING_DEFAULTS == {
        "model": "tutorial", "trainSize": 5500, "validationSize": 1000, "epochs": 10,
        "batchSize": 512, "learningRate": 0.001, "optimizer": "adam", "seed": 0,
        "continue": False, "learningRateDecay": 1.0, "workers": "auto"}


def test_the_cli_refuses_a_bad_setting_through_the_same_check(capsys) -> None:
    assert cli(["train", "--batch-size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "digitlab: error: Batch size (batchSize) must be a whole number from 1 to " \
                  "8192, got 0"


# ---------------------------------------------------------------- model specs

BAD_SPECS = [  # spec, reason, layer, field, the field's label in Chinese (None: no field)
    ([{"type": "conv2d", "filters": 0, "kernelSize": 3}, {"type": "flatten"}, OUTPUT],
     "positive_int", 0, "filters", "滤波器数"),
    ([{"type": "conv2d", "filters": 2, "kernelSize": [3]}, {"type": "flatten"}, OUTPUT],
     "positive_size", 0, "kernelSize", "卷积核大小"),
    ([{"type": "conv2d", "filters": 2, "kernelSize": 3, "padding": "full"}, {"type": "flatten"},
      OUTPUT], "choice", 0, "padding", "填充"),
    ([{"type": "flatten"}, {"type": "dropout", "rate": 1}, OUTPUT], "rate", 1, "rate",
     "失活比例"),
    ([{"type": "flatten", "units": 3}, OUTPUT], "unknown_field", 0, "units", None),
    ([{"type": "maxPooling2d", "poolSize": 29}, {"type": "flatten"}, OUTPUT], "shrinks", 0,
     "poolSize", "池化窗口"),
    ([OUTPUT], "needs_flatten", 0, None, None),
    ([{"type": "flatten"}, {"type": "dense", "units": 4, "activation": "softmax"}, OUTPUT],
     "softmax_last", 1, None, None),
    ([{"type": "flatten"}, {"type": "dense", "units": 9, "activation": "softmax"}],
     "last_layer", 1, None, None),
]  # fmt: skip


@pytest.mark.parametrize("spec,reason,layer,field,label", BAD_SPECS,
                         ids=[s[1] for s in BAD_SPECS])
def test_bad_specs_are_bad_model_errors_naming_layer_and_field(spec, reason, layer, field,
                                                               label) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    problem = info.value
    assert isinstance(problem, ValueError)
    assert (problem.code, problem.reason, problem.layer, problem.field) == \
        ("BAD_MODEL", reason, layer, field)
    english = describe(problem, "en", framed=False)
    chinese = describe(problem, "zh-CN", framed=False)
    assert english.startswith(f"model, layer {layer + 1}")  # numbered as the builder shows
    assert chinese.startswith(f"模型第 {layer + 1} 层")
    assert str(problem).startswith(f"layer {layer}")  # the spec's own list index
    if label:
        assert label in chinese and f"（`{field}`）" in chinese
        assert field in english and field in str(problem)
    assert zh_english(chinese) == [] or reason in ("unknown_field", "choice"), chinese


def test_a_model_refused_by_train_is_a_bad_config_on_the_model_field() -> None:
    """As the page gets it: BAD_CONFIG (field model), the model's problem as its cause."""
    with pytest.raises(SpecError) as info:
        build_model([{"type": "dense", "units": 3}])
    refused = model_error(info.value.to_dict())
    data = refused.to_dict()
    assert (data["code"], data["reason"], data["field"], data["layer"]) == \
        ("BAD_CONFIG", "model", "model", 0)
    assert data["cause"]["code"] == "BAD_MODEL" and data["cause"]["reason"] == "needs_flatten"
    chinese = describe(data, "zh-CN")
    assert chinese.startswith("设置无效：模型第 1 层（全连接层）：") and zh_english(chinese) == []
    assert "model, layer 1" in describe(data, "en")


def test_spec_json_and_names_are_structured() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec("[not json")
    assert (info.value.reason, info.value.params["line"], info.value.params["column"]) == \
        ("json", 1, 2)
    with pytest.raises(SpecError) as info:
        parse_spec("bogus")
    assert info.value.reason == "unknown_model" and info.value.value == "bogus"
    assert "'bogus'" in describe(info.value, "zh-CN")


# ---------------------------------------------------------------- files and training

def test_bad_weights_carry_their_reason_and_a_spec_cause() -> None:
    with pytest.raises(BadWeights) as info:
        load(b"")
    assert (info.value.code, info.value.reason) == ("BAD_WEIGHTS", "empty")
    assert describe(info.value, "zh-CN") == "权重文件被拒绝：权重文件是空的。当前模型保持不变。"
    import io

    buffer = io.BytesIO()
    np.savez(buffer, format_version=np.array(1), model_spec=np.array('[{"type": "dense"}]'))
    with pytest.raises(BadWeights) as info:
        load(buffer.getvalue())
    data = info.value.to_dict()
    assert data["reason"] == "bad_spec" and data["cause"]["code"] == "BAD_MODEL"
    assert data["cause"]["layer"] == 0 and data["cause"]["field"] == "units"
    assert "model_spec" in describe(data, "zh-CN") and "第 1 层" in describe(data, "zh-CN")
    assert "layer 0 (dense)" in str(info.value)


def test_data_errors_name_the_file_with_their_code() -> None:
    with pytest.raises(ValueError) as info:
        decode_labels(b"\x00" * 10)
    problem = info.value
    assert (problem.code, problem.reason, problem.params["file"]) == \
        ("DATA_LABELS", "size", "mnist_labels_uint8")
    assert "无法加载 MNIST 标签" in describe(problem, "zh-CN")
    with pytest.raises(ValueError) as info:
        decode_sprite(b"<html>oops</html>")
    data = info.value.to_dict()
    assert (data["code"], data["reason"], data["cause"]["reason"]) == \
        ("DATA_SPRITE", "not_png", "png_signature")
    assert "不是 PNG 文件" in describe(data, "zh-CN")
    assert "mnist_images.png" in describe(data, "en")
    with pytest.raises(png.PngError) as info:
        png.decode_gray8(png.SIGNATURE)
    assert info.value.reason == "png_truncated"


def test_divergence_carries_where_and_the_learning_rate() -> None:
    problem = TrainingDiverged("diverged", epoch=2, batch=7, learning_rate=1e30)
    assert (problem.code, problem.params["epoch"], problem.params["batch"]) == ("DIVERGED", 2, 7)
    assert "epoch 2, batch 7" in str(problem) and "1e+30" in str(problem)
    assert "第 2 轮第 7 批" in describe(problem, "zh-CN") and "学习率" in describe(problem, "zh-CN")
    restored = error("DIVERGED", "restored_epoch", restored_epoch=1, **problem.params)
    assert "end of epoch 1" in describe(restored, "en")


def test_to_dict_is_json_even_for_numpy_values_and_nan() -> None:
    problem = DigitLabError("exception", value=np.int64(3), limits=[np.float32(0.5), None],
                            detail=float("nan"), cause=ConfigError("pad_size"))
    data = json.loads(json.dumps(problem.to_dict()))
    assert data["value"] == 3 and data["limits"] == [0.5, None] and data["detail"] is None
    assert data["cause"]["code"] == "BAD_CONFIG"


def test_an_unknown_language_is_worded_in_english() -> None:
    problem = ConfigError("range", field="batchSize", value=0, limits=[1, 8192])
    assert describe(problem, "fr") == describe(problem, "en")


def test_every_reason_raised_in_the_package_is_in_the_schema() -> None:
    """Read from the source: each `SomeError("reason", ...)` and `error("CODE", "reason")`."""
    classes = {"SpecError": "BAD_MODEL", "BadWeights": "BAD_WEIGHTS", "ConfigError": "BAD_CONFIG",
               "DataError": "DATA_SPRITE", "PngError": "DATA_SPRITE",
               "TrainingDiverged": "DIVERGED", "BadTfjs": "BAD_TFJS"}
    def constants(node: ast.AST) -> list[str]:  # "a", or "a" if x else "b"
        if isinstance(node, ast.IfExp):
            return constants(node.body) + constants(node.orelse)
        return [node.value] if isinstance(node, ast.Constant) else []

    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) \
                    or not node.args:
                continue
            keywords = {k.arg: constants(k.value) for k in node.keywords if k.arg == "code"}
            if node.func.id in classes:
                codes = keywords.get("code") or [classes[node.func.id]]
                found |= {(code, reason) for code in codes for reason in constants(node.args[0])}
            elif node.func.id == "error" and len(node.args) == 2:
                # bytes_of passes its code along: one of the files it downloads.
                codes = constants(node.args[0]) or ["DATA_SPRITE", "DATA_LABELS", "RUNTIME"]
                found |= {(code, reason) for code in codes for reason in constants(node.args[1])}
    assert len(found) > 40
    unknown = {(code, reason) for code, reason in found
               if reason not in schema.ERRORS.get(code, {}).get("reasons", [])}
    assert not unknown, unknown
