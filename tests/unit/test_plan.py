"""The builder's checks (plan.py) and the live source panels (sources.py), under CPython."""

from __future__ import annotations

from pathlib import Path

import pytest

import digitlab
from digitlab.i18n import STRINGS, describe
from digitlab.nn import plan
from digitlab.nn.zoo import STRONG_SPEC, TUTORIAL_SPEC, build_model
from digitlab.web import sources

GIB = 2**30
CONV5 = {"type": "conv2d", "filters": 4, "kernelSize": 5, "activation": "relu"}
POOL = {"type": "maxPooling2d", "poolSize": 2, "strides": 2}
OUTPUT = [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]


@pytest.mark.parametrize("spec", [TUTORIAL_SPEC, STRONG_SPEC])
def test_parameter_counts_match_the_built_models(spec) -> None:
    estimate = plan.estimate(spec, 512)
    model = build_model(spec)
    assert estimate["params"] == model.param_count()
    assert [row["params"] for row in estimate["layers"]] == \
        [row["params"] for row in model.summary()["layers"]]
    assert [row["output_shape"] for row in estimate["layers"]] == \
        [row["output_shape"] for row in model.summary()["layers"]]


def test_memory_is_weights_grads_and_adam_state_plus_activations_per_batch() -> None:
    estimate = plan.estimate("tutorial", 100)
    assert estimate["paramBytes"] == 5994 * 4 * 4
    sizes = 784 + 24 * 24 * 8 + 12 * 12 * 8 + 8 * 8 * 16 + 4 * 4 * 16 + 256 + 10
    assert estimate["activationBytes"] == sizes * 100 * 4 * 2
    assert plan.check("tutorial", 512, GIB)["ok"]


def test_three_5x5_convs_with_pools_shrink_below_1x1() -> None:
    result = plan.check([CONV5, POOL, CONV5, POOL, CONV5, POOL, *OUTPUT], 512, GIB)
    assert not result["ok"]
    problem = result["problems"][0]
    assert (problem["code"], problem["layer"], problem["reason"], problem["input"]) == \
        ("BAD_MODEL", 4, "shrinks", "4x4")
    assert (problem["layer_type"], problem["field"], problem["size"]) == \
        ("conv2d", "kernelSize", [5, 5])
    for lang in STRINGS:
        assert "5" in describe(problem, lang) and "1x1" in describe(problem, lang)
    assert "layer 5" in describe(problem, "en") and "Kernel size" in describe(problem, "en")
    assert "第 5 层" in describe(problem, "zh-CN") and "卷积核大小" in describe(problem, "zh-CN")


def test_a_model_above_the_budget_names_its_biggest_layer() -> None:
    spec = [CONV5, {"type": "flatten"}, {"type": "dense", "units": 100000, "activation": "relu"},
            {"type": "dense", "units": 10, "activation": "softmax"}]
    result = plan.check(spec, 512, GIB)  # nothing of that size is ever allocated here
    problem = result["problems"][0]
    assert problem["reason"] == "memory" and problem["layer"] == 2
    assert problem["needed"] > GIB and problem["budget"] == GIB
    assert problem["param_count"] == plan.estimate(spec)["params"]
    english, chinese = describe(problem, "en", framed=False), describe(problem, "zh-CN")
    assert "budget" in english and "layer 3" in english and "GB" in english
    assert "第 3 层" in chinese and "预算" in chinese
    assert plan.check(spec, 512, None)["ok"], "without a budget only the structure is checked"


@pytest.mark.parametrize("spec,reason,layer", [
    ([{"type": "dense", "units": 3}], "needs_flatten", 0),
    ([{"type": "flatten"}, CONV5, {"type": "dense", "units": 10, "activation": "softmax"}],
     "needs_image", 1),
    ([CONV5, {"type": "flatten"}, {"type": "dense", "units": 3, "activation": "relu"}],
     "last_layer", 2),
    ([{"type": "conv2d", "filters": None, "kernelSize": 3}, *OUTPUT], "positive_int", 0),
    ("nonsense", "unknown_model", None),
    ([[1, 2]], "not_object", 0),
    ([{"type": "conv2d", "filters": 2, "kernelSize": 3, "inputShape": 5}, *OUTPUT],
     "input_shape", 0),
    ([{"type": ["dense"]}, *OUTPUT], "unknown_type", 0),
])
def test_spec_errors_become_structured_worded_problems(spec, reason, layer) -> None:
    result = plan.check(spec, 64, GIB)
    problem = result["problems"][0]
    assert not result["ok"] and (problem["code"], problem["reason"]) == ("BAD_MODEL", reason)
    assert problem["layer"] == layer
    assert describe(problem, "en", framed=False).startswith("model")
    assert describe(problem, "zh-CN", framed=False).startswith("模型")


@pytest.mark.parametrize("step", list(sources.STEPS))
def test_every_step_has_source_read_from_the_package(step) -> None:
    snippets = sources.step_sources(step)
    assert snippets
    for snippet in snippets:
        name = snippet["name"].split(".")[-1]
        assert name in snippet["code"] and snippet["line"] >= 1
        path = Path(digitlab.__file__).parent / snippet["file"].split("/", 1)[1]
        with open(path) as file:
            lines = file.read().splitlines()
        first = snippet["code"].splitlines()[0]
        assert lines[snippet["line"] - 1].strip() == first.strip()


def test_the_model_step_shows_the_spec_and_the_convolution() -> None:
    names = [s["name"] for s in sources.step_sources("model")]
    assert names[:3] == ["TUTORIAL_SPEC", "build_model", "Conv2D.forward"]
    assert sources.step_sources("model")[0]["code"].lstrip().startswith("#")
