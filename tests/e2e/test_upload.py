"""For readers who cannot draw: a photo of a digit uploaded with the `upload-digit` control,
and a test digit put on the pad by its number, take the pad's place, so predictPad() and the
pad's probabilities, filters and feature maps describe them.

The photos are the photographed-style pictures of tests/photo_fixtures.py (MNIST test digits
as dark ink on unevenly lit paper, off-centre, rotated 5-10 degrees, with noise; JPEG and PNG).
The rule, as in the unit test: with the tutorial CNN trained for 3 epochs on 5500 images, at
least 11 of the 12 photos are predicted as their source digit's label."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from digitlab.data.mnist import MnistData
from tests.e2e.conftest import READY_TIMEOUT_MS, open_page, wait_ready
from tests.e2e.pages import alert_text, call, canvas_rgba
from tests.photo_fixtures import photos
from tests.unit.conftest import require_real_data

TRAINING = {"model": "tutorial", "trainSize": 5500, "validationSize": 0, "epochs": 3,
            "batchSize": 128}


@pytest.fixture(scope="module")
def pictures() -> list[dict]:
    return photos(MnistData.from_dir(require_real_data()))


@pytest.fixture(scope="module")
def trained(browser: Browser, server_url: str):
    context, page, _ = open_page(browser)
    page.set_default_timeout(READY_TIMEOUT_MS)
    page.goto(f"{server_url}?lang=en")
    wait_ready(page)
    history = call(page, f"window.digitlab.train({TRAINING})".replace("'", '"'))
    assert "error" not in history, history
    yield page
    context.close()


def upload(page: Page, picture: dict) -> None:
    page.get_by_test_id("upload-digit").set_input_files(files=[{
        "name": picture["name"], "mimeType": picture["mime"], "buffer": picture["bytes"]}])
    page.wait_for_function(
        "(name) => { const text = document.getElementById('upload-status').textContent;"
        " return text.includes(name) && !text.startsWith('Reading'); }", arg=picture["name"])


def argmax(values: list[float]) -> int:
    return int(np.argmax(values))


def test_uploaded_photos_are_read_as_their_digits(trained: Page, pictures: list[dict]) -> None:
    page = trained
    hits = []
    for picture in pictures:
        upload(page, picture)
        status = page.get_by_test_id("upload-status").inner_text()
        assert status == f"“{picture['name']}” is on the pad."
        ink = canvas_rgba(page, "pad")[..., 3]
        assert (ink > 128).mean() > 0.01, picture["name"]  # the photo is the pad's ink now
        probabilities = call(page, "window.digitlab.predictPad()")
        predicted = argmax(probabilities)
        hits.append(predicted == picture["label"])
        # The pad's views describe the upload: its probabilities, in words.
        page.wait_for_function(
            "(top) => document.getElementById('pad-probs-alt').textContent"
            ".includes('Most likely: ' + top)", arg=predicted)
    print(f"upload: {sum(hits)} of {len(hits)} photos read as their digit")
    assert sum(hits) >= 11, [(p["name"], hit) for p, hit in zip(pictures, hits, strict=True)]
    # The feature maps are the upload's too (no test image is chosen for them).
    assert "your drawing" in page.locator("#feature-maps-alt").text_content()


def test_a_picked_test_digit_is_predicted_like_the_model_predicts_it(trained: Page) -> None:
    page = trained
    page.get_by_test_id("pick-index").fill("4")
    page.get_by_test_id("pick-digit").click()
    page.wait_for_function("() => document.getElementById('upload-status').textContent"
                           ".startsWith('Test digit 4 (a 4)')")
    from_pad = call(page, "window.digitlab.predictPad()")
    image = call(page, "window.digitlab.testImage(4)")
    direct = call(page, "window.digitlab.predict(pixels)".replace("pixels", str(image["pixels"])))
    assert argmax(from_pad) == argmax(direct) == image["label"]


def test_an_unusable_file_is_refused_in_words(trained: Page) -> None:
    page = trained
    before = canvas_rgba(page, "pad")
    upload(page, {"name": "notes.txt", "mime": "text/plain", "bytes": b"not a picture"})
    assert page.get_by_test_id("upload-status").inner_text().startswith("“notes.txt” could not")
    assert alert_text(page).startswith("This image could not be used: it is not an image")
    assert np.array_equal(canvas_rgba(page, "pad"), before)  # the pad keeps what it had
    blank = call(page, "window.digitlab.uploadDigit(new Uint8Array(0))")
    assert blank["code"] == "BAD_IMAGE"
    page.get_by_test_id("alert-dismiss").click()
