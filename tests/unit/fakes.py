"""The page's controller wired to fakes: canvases that accept every drawing call, a recording
`post`, and queued Stop presses, so controller tests run under CPython without a browser."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from digitlab.web.canvas import CanvasSet
from digitlab.web.controller import Controller, Download


class FakeContext:
    """A 2D context that accepts every drawing call and property, and counts the calls."""

    def __init__(self) -> None:
        object.__setattr__(self, "calls", 0)

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> None:
            object.__setattr__(self, "calls", self.calls + 1)
        return record

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)


class FakeCanvas:
    def __init__(self) -> None:
        self.width, self.height, self.context = 300, 150, FakeContext()

    def getContext(self, kind: str) -> FakeContext:  # noqa: N802 - the Canvas API's name
        assert kind == "2d"
        return self.context


CANVAS_IDS = ["examples", "class-balance", "chart-batch", "chart-epoch", "per-class", "confusion",
              "misclassified", "predictions", "pad-probs", "filters", "feature-maps"]


class Lab:
    """A controller wired to fakes: `posted` collects its messages, `stops` queues Stop
    presses (one per take_stop call), `during_yield` runs between batches."""

    def __init__(self, settings: dict | None = None, team: Any = None) -> None:
        self.posted: list[dict] = []
        self.pixels: list[tuple] = []
        self.stops: list[bool] = []
        self.during_yield = None
        self.canvases = {name: FakeCanvas() for name in CANVAS_IDS}
        canvas_set = CanvasSet(self.canvases, lambda ctx, rgba, x, y:
                               self.pixels.append((rgba.shape, x, y)))
        self.controller = Controller(canvas_set, {"lang": "en", **(settings or {})},
                                     self.posted.append, self.yield_now, self.take_stop,
                                     team=team)

    async def yield_now(self) -> None:
        if self.during_yield is not None:
            await self.during_yield()

    def take_stop(self) -> bool:
        return self.stops.pop(0) if self.stops else False

    def call(self, method: str, args: dict | None = None, payload: bytes | None = None) -> dict:
        return run(self.controller.call(method, args, payload))


class ready:  # noqa: N801 - reads as a call: ready(download)
    """An already finished download; unlike a coroutine it may be left unawaited, as the
    labels are when the sprite fails first."""

    def __init__(self, value: Download) -> None:
        self.value = value

    def __await__(self):
        yield from ()
        return self.value


def run(coroutine: Coroutine) -> Any:
    """Run a controller coroutine to its end. The fakes never wait on anything, so it finishes
    without an event loop; not asyncio.run, which refuses to start while another loop runs in
    this thread (Playwright's sync API keeps one running through the end-to-end tests)."""
    try:
        while True:
            suspended_on = coroutine.send(None)
            if suspended_on is not None:  # an asyncio future: the fakes promise none
                coroutine.close()
                raise RuntimeError(f"the controller waited on {suspended_on!r}")
    except StopIteration as done:
        return done.value


def boot(lab: Lab, sprite: bytes, labels: bytes) -> dict:
    return run(lab.controller.boot(ready(Download(True, 200, sprite)),
                                           ready(Download(True, 200, labels))))
