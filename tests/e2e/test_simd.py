"""The WebAssembly SIMD backend (GEMM and the layers' other kernels) in the real page (Chromium).

Drives the page's hooks on window.digitlab: simdInfo(), simdVerify({cases, seed}) and
setGemmBackend(name) (each a call into the worker: digitlab.backend.wasm's info() and
verify(...), digitlab.backend's set_backend(name) then info()), and the `?simd=relaxed` page
parameter that asks for the relaxed-SIMD variant. A page without those hooks fails these tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import call, wait_phase

HOOKS = ("simdInfo", "simdVerify", "setGemmBackend")
BAD_WASM = b"\0asm\x01\0\0\0\x01\x05\x01\x60\xff\xff\xff"  # a truncated type section
TRAIN = {"model": "tutorial", "trainSize": 1024, "validationSize": 256, "epochs": 2,
         "batchSize": 256, "seed": 0}


def require_hooks(page: Page) -> None:
    kinds = {h: page.evaluate(f"() => typeof window.digitlab.{h}") for h in HOOKS}
    missing = [h for h, kind in kinds.items() if kind != "function"]
    assert not missing, f"SIMD hooks missing on window.digitlab: {missing}"


@pytest.fixture()
def lab(ready_page) -> Iterator[Page]:
    page, _ = ready_page
    require_hooks(page)
    yield page
    call(page, "window.digitlab.setGemmBackend('simd')")


def test_the_site_ships_the_kernel_and_uses_the_plain_variant(ready_page) -> None:
    page, log = ready_page
    require_hooks(page)
    assert log.matching("gemm_plain"), "the worker never fetched gemm_plain.wasm"
    assert call(page, "window.digitlab.simdInfo()") == {"backend": "simd", "variant": "plain",
                                                        "errors": []}


def test_the_kernel_matches_float64_and_refuses_misuse(lab: Page) -> None:
    report = call(lab, "window.digitlab.simdVerify({cases: 4000, seed: 1})")
    assert "error" not in report, report
    assert report["cases"] == 4000 and report["variant"] == "plain"
    assert report["maxRelErr"] < 1e-5, report
    assert report["refused"] and all(report["refused"].values()), report["refused"]
    # The layers' other kernels (im2col, col2im, pooling, bias/ReLU) against their NumPy versions.
    layer_kernels = report["ops"]
    assert layer_kernels["cases"] == 1000 and layer_kernels["exact"], layer_kernels
    assert layer_kernels["maxRelErr"] < 1e-5, layer_kernels
    assert all(count >= 100 for count in layer_kernels["kernelCalls"].values()), layer_kernels
    assert all(layer_kernels["refused"].values()), layer_kernels["refused"]


def train(page: Page, backend: str) -> dict:
    wait_phase(page, "ready")  # the previous run may still be winding down
    chosen = call(page, f"window.digitlab.setGemmBackend('{backend}')")
    assert chosen.get("backend") == backend, chosen
    history = call(page, "window.digitlab.train(arg)", TRAIN)
    assert "error" not in history, history
    return history


def test_training_with_simd_follows_the_numpy_loss_curve(lab: Page) -> None:
    numpy_run = train(lab, "matmul-contiguous")
    simd_run = train(lab, "simd")
    again = train(lab, "simd")
    numpy_loss = np.array([b["loss"] for b in numpy_run["batches"]])
    simd_loss = np.array([b["loss"] for b in simd_run["batches"]])
    assert len(simd_loss) == len(numpy_loss) == 8
    np.testing.assert_allclose(simd_loss, numpy_loss, rtol=1e-4)
    np.testing.assert_allclose(simd_run["val_loss"], numpy_run["val_loss"], rtol=1e-4)
    assert [b["loss"] for b in again["batches"]] == list(simd_loss)  # plain: reproducible


def open_with_relaxed(browser, server_url: str, broken: bool):
    context, page, log = open_page(browser)
    if broken:  # as a browser without relaxed SIMD would see it: the module fails validation
        context.route("**/gemm_relaxed*", lambda route: route.fulfill(
            status=200, body=BAD_WASM, headers={"Content-Type": "application/wasm"}))
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(server_url + "?simd=relaxed")
    wait_ready(page)
    require_hooks(page)
    return context, page, log


def test_relaxed_variant_when_asked(browser, server_url) -> None:
    context, page, _ = open_with_relaxed(browser, server_url, broken=False)
    try:
        assert call(page, "window.digitlab.simdInfo()")["variant"] == "relaxed"
        report = call(page, "window.digitlab.simdVerify({cases: 1000, seed: 2})")
        assert report["maxRelErr"] < 1e-5, report
    finally:
        context.close()


def test_a_rejected_relaxed_module_falls_back_to_plain(browser, server_url) -> None:
    context, page, log = open_with_relaxed(browser, server_url, broken=True)
    try:
        assert log.matching("gemm_relaxed"), "the page never tried the relaxed module"
        info = call(page, "window.digitlab.simdInfo()")
        assert (info["backend"], info["variant"]) == ("simd", "plain"), info
        # Not silent: the rejected module is kept in info(), with the dynamic linker's reason.
        assert [error["variant"] for error in info["errors"]] == ["relaxed"], info
        assert info["errors"][0]["reason"], info
        assert not page.errors, page.errors
        history = call(page, "window.digitlab.train(arg)", {**TRAIN, "epochs": 1})
        assert "error" not in history and np.isfinite(history["loss"]).all()
    finally:
        context.close()
