"""The charts follow the page's colour scheme: the dark theme at boot (settings) and after a
switch (`setTheme`), which paints every canvas again in the new theme, also while training."""

from __future__ import annotations

from typing import Any

import pytest

from digitlab.viz import charts
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import FakeContext, Lab, boot

SMALL = {"trainSize": 200, "validationSize": 50, "epochs": 2, "batchSize": 50}


class Recording(FakeContext):
    """A context that remembers every fill colour it was given."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "fills", [])

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "fillStyle":
            self.fills.append(value)
        object.__setattr__(self, name, value)


def record(lab: Lab, names: list[str]) -> dict[str, Recording]:
    contexts = {name: Recording() for name in names}
    lab.controller.canvases.contexts.update(contexts)
    return contexts


@pytest.fixture()
def lab(synthetic_sprite: bytes) -> Lab:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    return lab


def test_a_switch_paints_every_shown_canvas_in_the_new_theme(lab: Lab) -> None:
    assert lab.call("train", SMALL)["ok"]
    assert lab.call("evaluate", {"size": 100})["ok"]
    names = ["class-balance", "chart-epoch", "per-class", "confusion", "pad-probs", "filters"]
    contexts = record(lab, names)
    reply = lab.call("setTheme", {"dark": True})
    assert reply["ok"] and set(names) <= set(reply["value"])
    assert lab.controller.canvases.theme is charts.DARK
    for name, ctx in contexts.items():
        assert charts.DARK.background in ctx.fills, name
        if name != "confusion":  # its dark cells carry white text in either theme
            assert charts.LIGHT.background not in ctx.fills, name
    contexts = record(lab, names)
    assert lab.call("setTheme", {"dark": False})["ok"]
    assert all(charts.LIGHT.background in ctx.fills for ctx in contexts.values())


def test_a_switch_is_answered_while_training_and_refuses_a_non_boolean(lab: Lab) -> None:
    replies = []

    async def switch() -> None:
        if not replies:
            replies.append(await lab.controller.call("setTheme", {"dark": True}))

    lab.during_yield = switch
    assert lab.call("train", SMALL)["ok"]
    assert replies[0]["ok"] and lab.controller.canvases.theme is charts.DARK
    refused = lab.call("setTheme", {"dark": "yes"})
    assert (refused["ok"], refused["code"]) == (False, "BAD_CONFIG")
