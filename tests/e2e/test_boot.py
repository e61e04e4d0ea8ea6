"""The boot: where its time goes (window.digitlab.bootTimings()), what `ready` promises, and
what is loaded after it (Pillow, the warm-up) without any call noticing."""

from __future__ import annotations

from tests.e2e.conftest import READY_TIMEOUT_MS
from tests.e2e.pages import call, draw_one

# The boot's stages in the order they run on the worker's one thread (the downloads and the
# sprite's inflating overlap the runtime's start, so they are only checked to end before
# Python uses them).
SEQUENCE = ["runtime", "numpy", "numpyImport", "pyFiles", "imports", "dataWait", "dataDecode",
            "kernels", "firstDraw", "restore"]
AFTER_READY = ["pillow", "warmUp"]

# Asked while the page still boots: the timings then, and once ready, with the clock's time.
DURING_AND_AFTER_BOOT = """async () => {
  const during = window.digitlab.bootTimings();
  const phase = window.digitlab.state().phase;
  const resolved = await window.digitlab.ready;
  return { during, phase, resolved, timings: window.digitlab.bootTimings(),
           now: performance.now(), phaseAfter: window.digitlab.state().phase };
}"""


def test_boot_timings_are_ordered_and_ready_keeps_its_promise(fresh_page, server_url) -> None:
    page, log = fresh_page
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(server_url)
    page.wait_for_function("() => Boolean(window.digitlab && window.digitlab.ready)")
    seen = page.evaluate(DURING_AND_AFTER_BOOT)
    if seen["phase"] == "booting":
        assert seen["during"] is None, "timings before the boot ended"
    assert seen["resolved"] is True and seen["phaseAfter"] == "ready"
    timings = seen["timings"]
    assert set(SEQUENCE) <= timings.keys(), timings
    previous_end = 0.0
    for stage in SEQUENCE:
        start, end = timings[stage]
        assert 0 <= start <= end, (stage, timings[stage])
        assert start >= previous_end - 1, f"{stage} started before the stage before it ended"
        previous_end = end
    assert timings["ready"] >= previous_end - 1
    assert timings["ready"] <= seen["now"], "ready is dated after the promise resolved"
    # The downloads run from the worker's start, beside the runtime's, and end before use.
    for download in ("dataFetch", "dataInflate"):
        start, end = timings[download]
        assert timings["runtime"][0] <= start + 1 and end <= timings["dataWait"][1] + 1, download
    assert timings["dataFetch"][1] <= timings["dataInflate"][0] + 1
    # Pillow and the warm-up come after ready, and reach the page by themselves.
    page.wait_for_function(
        f"() => {AFTER_READY!r}.every((s) => window.digitlab.bootTimings()[s])")
    later = page.evaluate("window.digitlab.bootTimings()")
    assert later["pillow"][0] >= timings["ready"] - 1
    assert later["warmUp"][0] >= later["pillow"][1] - 1
    assert {k: v for k, v in later.items() if k not in AFTER_READY} == timings
    # Fetched from the worker's start, and that response is the one Pyodide installs.
    assert len(log.matching("numpy-2.0.2")) == 1, log.matching("numpy-2.0.2")
    assert log.matching("bytecode.bin"), "the package's bytecode was not fetched"
    assert not page.errors


def test_the_pad_works_at_once_after_ready_while_pillow_loads(fresh_page, server_url) -> None:
    page, _ = fresh_page
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(server_url)
    page.wait_for_function("() => Boolean(window.digitlab && window.digitlab.ready)")
    assert call(page, "window.digitlab.ready") is True
    draw_one(page)
    # No model yet: the drawing is still preprocessed (Pillow's resize), then null.
    assert call(page, "window.digitlab.predictPad()") is None
    assert call(page, "window.digitlab.examples()")[0]["index"] == 55000
    assert not page.errors

