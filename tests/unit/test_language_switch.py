"""Every string the reader sees is in the reader's language: a language switch draws every
canvas that shows something again, with its text alternative, whatever the controller is doing;
the string tables' code segments are well formed and name real code."""

from __future__ import annotations

import gc
import re
import weakref

import numpy as np
import pytest

from digitlab.i18n import STRINGS, describe
from digitlab.web import sources, views
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import CANVAS_IDS, Lab, boot

SMALL = {"trainSize": 200, "validationSize": 50, "epochs": 2, "batchSize": 50}
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")
SEGMENT = re.compile(r"`([^`]*)`")


@pytest.fixture
def lab(synthetic_sprite: bytes) -> Lab:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    return lab


def draw_a_digit(lab: Lab) -> None:
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 45:55] = 255
    assert lab.call("predictPad", {"width": 100, "height": 100}, alpha.tobytes())["ok"]


def alts(posted: list[dict]) -> dict[str, str]:
    """The last alt text posted for each element."""
    return {m["id"]: m["text"] for m in posted if m["type"] == "alt"}


def calls(lab: Lab) -> dict[str, int]:
    return {name: canvas.context.calls for name, canvas in lab.canvases.items()}


def switch(lab: Lab, lang: str) -> tuple[list[str], dict[str, str], set[str]]:
    """Switch the language: (canvases drawn again, alt texts posted, canvases painted on)."""
    before = calls(lab)
    lab.posted.clear()
    reply = lab.call("setLanguage", {"lang": lang})
    assert reply["ok"], reply
    painted = {name for name, count in calls(lab).items() if count > before[name]}
    return reply["value"], alts(lab.posted), painted


def chinese(text: str) -> bool:
    """Chinese prose: CJK and no Latin word (digits, %, → and – are no words)."""
    return bool(CJK.search(text)) and not LATIN_WORD.search(text)


def test_a_switch_after_boot_redraws_the_data_step_and_the_empty_pad_views(lab: Lab) -> None:
    drawn, texts, painted = switch(lab, "zh-CN")
    pad_views = ["pad-probs", "feature-maps", "filters"]  # "train a model first", in words
    assert drawn == ["examples", "class-balance", *pad_views] and painted == set(drawn)
    # Every canvas has a text alternative, the example panel's included (its labels).
    assert set(texts) == {"examples-alt", "class-balance-alt",
                          *(f"{name}-alt" for name in pad_views)}
    assert all(chinese(text) for text in texts.values())


def test_a_switch_redraws_every_canvas_and_every_alt_text(lab: Lab) -> None:
    assert lab.call("train", SMALL)["ok"]
    assert lab.call("evaluate", {"size": 100})["ok"]
    draw_a_digit(lab)
    drawn, texts, painted = switch(lab, "zh-CN")
    # Every canvas of the page shows something now, and each was painted again.
    assert set(drawn) == set(CANVAS_IDS) and painted == set(CANVAS_IDS)
    # Each has its text alternative, in Chinese; the examples' caption is the page's own.
    assert set(texts) == {f"{name}-alt" for name in CANVAS_IDS}
    assert [t for t in texts.values() if not chinese(t)] == []
    drawn, texts, _ = switch(lab, "en")
    assert set(drawn) == set(CANVAS_IDS)
    assert [t for t in texts.values() if CJK.search(t)] == []
    assert texts["misclassified-alt"].startswith("The first ") and "→" in \
        texts["misclassified-alt"]


def test_an_evaluation_from_before_a_new_run_is_redrawn_too(lab: Lab) -> None:
    """A fresh run forgets the evaluation, but its charts still show: they change language."""
    assert lab.call("train", {**SMALL, "epochs": 1})["ok"]
    assert lab.call("evaluate", {"size": 100})["ok"]
    assert lab.call("train", {**SMALL, "epochs": 1})["ok"]
    assert lab.controller.evaluation is None
    drawn, texts, _ = switch(lab, "zh-CN")
    assert {"per-class", "confusion", "misclassified", "predictions"} <= set(drawn)
    assert chinese(texts["per-class-alt"]) and chinese(texts["confusion-alt"])


def test_a_switch_while_training_changes_the_live_charts_at_once(lab: Lab) -> None:
    replies: list[dict] = []

    async def after_the_first_batch() -> None:
        if not replies:
            replies.append(await lab.controller.call("setLanguage", {"lang": "zh-CN"}))

    lab.during_yield = after_the_first_batch
    assert lab.call("train", SMALL)["ok"]
    assert replies[0]["ok"], replies[0]  # not BUSY: a switch only paints
    assert {"chart-batch", "chart-epoch"} <= set(replies[0]["value"])
    progress = [m for m in lab.posted if m["type"] == "progress"]
    assert "Batch 1:" in progress[0]["alt"]["batch"], "the first batch came before the switch"
    for message in progress[1:]:
        assert chinese(message["alt"]["batch"]) and chinese(message["alt"]["epoch"]), message
    assert chinese(alts(lab.posted)["chart-epoch-alt"])


def test_a_stopped_run_is_redrawn_with_what_it_has(lab: Lab) -> None:
    lab.stops = [False, False, True]  # the first is the stale-Stop check at the start
    history = lab.call("train", SMALL)["value"]
    assert len(history["batches"]) == 2 and history["loss"] == []
    _, texts, painted = switch(lab, "zh-CN")
    assert {"chart-batch", "chart-epoch", "pad-probs", "filters", "feature-maps"} <= painted
    assert texts["chart-batch-alt"] == "第 2 批：损失 {}，准确率 {}。".format(
        views.fmt(history["batches"][-1]["loss"]), views.fmt(history["batches"][-1]["acc"]))
    assert texts["chart-epoch-alt"] == STRINGS["zh-CN"]["canvas.no_epochs_alt"]


def test_every_progress_message_carries_both_charts_texts(lab: Lab) -> None:
    """The page sets both alt texts from each message: an epoch's must not blank the batch's."""
    assert lab.call("train", SMALL)["ok"]
    progress = [m for m in lab.posted if m["type"] == "progress"]
    assert all(m["alt"]["batch"] and m["alt"]["epoch"] for m in progress)
    assert progress[0]["alt"]["epoch"] == STRINGS["en"]["canvas.no_epochs_alt"]
    assert progress[-1]["alt"]["epoch"].startswith("Epoch 2: ")


def test_what_a_page_shows_is_let_go_with_the_page(synthetic_sprite: bytes) -> None:
    """The drawings kept for a redraw do not keep their page's canvases alive."""
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    assert lab.call("train", {**SMALL, "epochs": 1})["ok"]
    page = weakref.ref(lab.controller.canvases)
    assert views.drawn(page())
    del lab
    gc.collect()
    assert page() is None


def test_an_unknown_language_is_refused_and_nothing_changes(lab: Lab) -> None:
    reply = lab.call("setLanguage", {"lang": "fr"})
    assert (reply["ok"], reply["code"], reply["reason"]) == (False, "BAD_CONFIG", "choice")
    assert lab.controller.lang == "en"


# ---------------------------------------------------------------- the tables' code segments

def test_code_segments_are_balanced_and_canvases_have_none() -> None:
    for lang, table in STRINGS.items():
        for key, value in table.items():
            assert value.count("`") % 2 == 0, (lang, key)
            if key.startswith("canvas."):  # a canvas draws plain text, and so do alt texts
                assert "`" not in value, (lang, key)


def test_code_segments_are_only_where_the_page_renders_them() -> None:
    """js/i18n.js shows segments in data-i18n elements, the banner, the builder's problems and
    the Load control's state, the code cells' narrative and hints, and the cells' own
    strings; everything else the page sets as plain text."""
    rendered = re.compile(r"^(\w+\.explain|error\..+|files\.(loading|loaded|refused|tfjsHelp)|"
                          r"cells\.(\w+\.intro|hint\.\w+)"  # the code cells' texts
                          r"|cell\.(keys|error|errorNoLine)|model\.code)$")
    for lang, table in STRINGS.items():
        marked = {key for key, value in table.items() if "`" in value}
        assert {key for key in marked if not rendered.match(key)} == set(), lang


def test_both_languages_mark_the_same_names_as_code() -> None:
    for key, english in STRINGS["en"].items():
        assert sorted(SEGMENT.findall(STRINGS["zh-CN"][key])) == \
            sorted(SEGMENT.findall(english)), key


def test_the_code_each_explanation_names_is_in_its_steps_source_panel() -> None:
    for step, snippets in sources.STEPS.items():
        shown = {name for _, name in snippets}
        for lang, table in STRINGS.items():
            named = set(SEGMENT.findall(table[f"{step}.explain"]))
            assert named and named <= shown, (lang, step, named - shown)


def test_a_backtick_in_the_readers_own_value_opens_no_code_segment() -> None:
    message = describe({"code": "BAD_CONFIG", "reason": "unknown_field", "field": "a`b"}, "en")
    assert message == "This setting is not valid: unknown config field `'a\u02cbb'`."
    data = {"code": "BAD_CONFIG", "reason": "range", "field": "batchSize", "value": "x`",
            "limits": [1, 8192]}
    assert SEGMENT.findall(describe(data, "zh-CN")) == ["batchSize", "'x\u02cb'"]
    # Plain text for a terminal and for str(error): no backticks at all.
    assert "`" not in describe(data, "en", segments=False)
    assert "`" not in describe(data, "en", spec_names=True)
