"""The foundation: the page boots Pyodide from 127.0.0.1, loads the real MNIST files and draws
the example digits from Python."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from playwright.sync_api import Page, Route

from tests.e2e.conftest import READY_TIMEOUT_MS, ROOT
from tests.e2e.pages import alert_text, call, canvas_rgba

DATA = ROOT / ".cache" / "data"


def sprite_and_labels() -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    sprite = np.asarray(Image.open(DATA / "mnist_images.png"))
    labels = np.frombuffer((DATA / "mnist_labels_uint8").read_bytes(), np.uint8).reshape(-1, 10)
    return sprite, labels.argmax(axis=1)


def test_ready_loads_runtime_and_data_only_from_the_site(ready_page) -> None:
    page, log = ready_page
    assert page.evaluate("window.digitlab.state().phase") == "ready"
    assert log.matching("/data/mnist_images.png"), "the sprite was not requested"
    assert log.matching("/data/mnist_labels_uint8"), "the labels were not requested"
    assert log.matching("pyodide.asm.wasm"), "worker traffic was not seen"
    assert log.matching("numpy-2.0.2"), "the NumPy wheel was not requested"
    assert not log.foreign(), f"requests to other hosts: {log.foreign()}"


def test_examples_are_the_first_20_test_rows_with_their_labels(ready_page) -> None:
    page, _ = ready_page
    examples = call(page, "window.digitlab.examples()")
    _, labels = sprite_and_labels()
    assert [e["index"] for e in examples] == list(range(55000, 55020))
    assert [e["label"] for e in examples] == [int(v) for v in labels[55000:55020]]


def test_example_canvas_shows_those_sprite_rows_pixel_for_pixel(ready_page) -> None:
    page, _ = ready_page
    examples = call(page, "window.digitlab.examples()")
    sprite, _ = sprite_and_labels()
    pixels = canvas_rgba(page, "examples")
    for example in examples:
        scale, x, y = example["scale"], example["x"], example["y"]
        drawn = pixels[y: y + 28 * scale: scale, x: x + 28 * scale: scale, 0]
        expected = sprite[example["index"]].reshape(28, 28)
        assert drawn.shape == (28, 28)
        assert np.array_equal(drawn, expected), f"digit {example['index']} differs from the sprite"
    assert pixels[..., 0].std() > 50, "the example canvas is blank"


def test_corrupt_sprite_names_the_data_stage_and_retry_recovers(
        fresh_page: tuple[Page, object], server_url: str) -> None:
    page, _ = fresh_page
    page.set_default_timeout(READY_TIMEOUT_MS)

    def corrupt(route: Route) -> None:
        body = route.fetch().body()
        route.fulfill(status=200, body=body[: len(body) // 3],
                      headers={"content-type": "image/png"})

    page.route("**/data/mnist_images.png", corrupt)
    page.goto(server_url)
    error = call(page, "window.digitlab.ready")
    assert error["code"] == "DATA_SPRITE"
    banner = alert_text(page)
    assert "mnist_images.png" in banner and "MNIST images" in banner
    assert page.get_by_test_id("retry").is_visible()
    assert "failed" in page.locator('.boot-stages li[data-stage="data"]').get_attribute("class")

    page.unroute("**/data/mnist_images.png")
    page.get_by_test_id("retry").click()
    assert call(page, "window.digitlab.ready") is True
    assert page.evaluate("window.digitlab.state().phase") == "ready"
    assert not page.get_by_test_id("alert").is_visible()
    assert len(call(page, "window.digitlab.examples()")) == 20


def test_missing_labels_file_is_reported_by_name(fresh_page, server_url: str) -> None:
    page, _ = fresh_page
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.route("**/data/mnist_labels_uint8", lambda route: route.fulfill(status=404, body="no"))
    page.goto(server_url)
    error = call(page, "window.digitlab.ready")
    assert error["code"] == "DATA_LABELS"
    assert "mnist_labels_uint8" in alert_text(page) and "404" in alert_text(page)


def test_site_is_self_contained(server_url: str) -> None:
    html = (ROOT / "site" / "index.html").read_text()
    assert "http://" not in html.replace("http-equiv", "") and "https://" not in html
    assert Path(ROOT / "site" / "NOTICE.md").exists()
