"""The photo pipeline (data/photo.py) and the controller's upload: photographed-style pictures
of MNIST test digits become MNIST-style digits a trained model reads as the source digit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from digitlab.data import photo
from digitlab.data.preprocess import MNIST_SIDE, mnist_preprocess
from digitlab.nn.optim import make_optimizer
from digitlab.nn.sequential import TrainingRun
from digitlab.nn.zoo import build_model
from tests.photo_fixtures import photos
from tests.unit.fakes import Lab


@pytest.fixture(scope="module")
def pictures(mnist) -> list[dict]:
    return photos(mnist)


@pytest.fixture(scope="module")
def model(mnist):
    """The tutorial CNN after 3 epochs on 5500 images (about 90 % on the test set)."""
    mnist.split(5500, 0, 0)
    x, y = mnist.train_set()
    model = build_model("tutorial", seed=0)
    model.compile(make_optimizer("adam", 0.001))
    for _ in TrainingRun(model, x, y, batch_size=128, epochs=3, validation_data=None, seed=0):
        pass
    return model


def encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format=fmt)
    return buffer.getvalue()


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0:MNIST_SIDE, 0:MNIST_SIDE]
    return float((digit * ys).sum() / digit.sum()), float((digit * xs).sum() / digit.sum())


def test_a_photo_becomes_an_mnist_style_digit(pictures) -> None:
    for picture in pictures:
        digit = photo.photo_to_mnist(picture["bytes"])
        assert digit.shape == (28, 28) and digit.dtype == np.float32
        assert digit.min() >= 0.0 and digit.max() == pytest.approx(1.0)
        rows = np.flatnonzero(digit.max(axis=1) > 0.05)
        cols = np.flatnonzero(digit.max(axis=0) > 0.05)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fitted into 20 x 20
        cy, cx = centre_of_mass(digit)
        assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1, picture["name"]  # centred by mass
        # The paper is black again: most of the frame is empty, as in MNIST.
        assert (digit < 0.05).mean() > 0.6, picture["name"]


def prepared(mnist, index: int) -> np.ndarray:
    """Test image `index` through the pad's preprocessing: what a perfect photo of it gives
    (MNIST centres by mass a pixel away from the pad's 13.5, so the raw digit would not do)."""
    return mnist_preprocess(mnist.test_image(index)[0].reshape(28, 28) / 255.0)


def test_the_photo_resembles_its_source_digit(pictures, mnist) -> None:
    """Despite rotation, uneven light, noise and JPEG, the digit looks like its source."""
    for picture in pictures:
        source = prepared(mnist, picture["index"])
        digit = photo.photo_to_mnist(picture["bytes"])
        assert np.corrcoef(source.ravel(), digit.ravel())[0, 1] > 0.55, picture["name"]


def test_a_trained_model_reads_the_photos_as_their_digits(pictures, mnist, model) -> None:
    """The rule: of the 12 photos, at least 11 are predicted as their source digit's label, and
    at least 11 as the model predicts the clean source digit (the pipeline, not the model, is
    what is tested)."""
    digits = np.stack([photo.photo_to_mnist(p["bytes"]) for p in pictures]).reshape(-1, 784)
    sources = np.stack([prepared(mnist, p["index"]).ravel() for p in pictures])
    labels = np.array([p["label"] for p in pictures])
    from_photos = model.predict(digits.astype(np.float32)).argmax(axis=1)
    from_sources = model.predict(sources.astype(np.float32)).argmax(axis=1)
    assert (from_photos == labels).sum() >= 11, (from_photos, labels)
    assert (from_photos == from_sources).sum() >= 11, (from_photos, from_sources)


def test_light_ink_on_dark_paper_is_not_inverted(mnist) -> None:
    """MNIST's own polarity (a scan of the pad's ink, a chalkboard): read as it is, and the
    same digit as the dark-on-light photo of it."""
    source = mnist.test_image(0)[0].reshape(28, 28)
    big = np.asarray(Image.fromarray(source).resize((140, 140), Image.Resampling.BICUBIC))
    light_on_dark = photo.photo_to_mnist(encode(big))
    dark_on_light = photo.photo_to_mnist(encode(255 - big))
    assert np.abs(light_on_dark - dark_on_light).max() < 0.1
    assert np.corrcoef(light_on_dark.ravel(), prepared(mnist, 0).ravel())[0, 1] > 0.85


def test_a_transparent_png_is_ink_on_white_paper(mnist) -> None:
    """A drawing saved with transparency (black ink, alpha = coverage): transparent is paper."""
    source = mnist.test_image(1)[0].reshape(28, 28)
    alpha = np.asarray(Image.fromarray(source).resize((200, 200), Image.Resampling.BICUBIC))
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., 3] = alpha
    digit = photo.photo_to_mnist(encode(rgba, mode="RGBA"))
    assert np.corrcoef(digit.ravel(), prepared(mnist, 1).ravel())[0, 1] > 0.85


def test_a_speck_of_noise_far_away_does_not_shift_the_crop(mnist) -> None:
    source = mnist.test_image(2)[0].reshape(28, 28)
    paper = np.full((300, 300), 230, np.uint8)
    paper[60:200, 60:200] = 255 - np.asarray(Image.fromarray(source).resize((140, 140)))
    clean = photo.photo_to_mnist(encode(paper))
    paper[285:289, 290:294] = 20  # a crumb in the corner
    assert np.abs(photo.photo_to_mnist(encode(paper)) - clean).max() < 0.05


def test_the_pad_ink_fills_the_pad_like_a_drawing(pictures) -> None:
    ink = photo.pad_ink(pictures[0]["bytes"], 280, 280)
    assert ink.shape == (280, 280) and ink.dtype == np.uint8
    rows = np.flatnonzero(ink.max(axis=1) > 12)
    cols = np.flatnonzero(ink.max(axis=0) > 12)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == pytest.approx(196, abs=2)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"not an image at all", "unreadable"),
    (encode(np.full((64, 64), 200, np.uint8)), "blank"),
    (encode(np.full((64, 64), 200, np.uint8) + np.random.default_rng(0).integers(
        0, 3, (64, 64)).astype(np.uint8), fmt="JPEG"), "blank"),
])
def test_unusable_images_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(photo.ImageError) as caught:
        photo.photo_to_mnist(data)
    assert (caught.value.code, caught.value.reason) == ("BAD_IMAGE", reason)


def test_huge_images_are_refused_before_decoding(monkeypatch) -> None:
    header_only = encode(np.zeros((40, 30), np.uint8))
    monkeypatch.setattr(photo, "MAX_PIXELS", 1000)
    with pytest.raises(photo.ImageError) as caught:
        photo.read_grey(header_only)
    assert caught.value.reason == "too_many_pixels" and caught.value.params["width"] == 30
    monkeypatch.setattr(photo, "MAX_BYTES", 10)
    with pytest.raises(photo.ImageError) as caught:
        photo.read_grey(header_only)
    assert caught.value.reason == "too_large"


def test_the_controller_puts_an_upload_on_the_pad_in_both_languages(pictures) -> None:
    lab = Lab()
    reply = lab.call("uploadDigit", {"width": 280, "height": 280}, pictures[1]["bytes"])
    assert reply["ok"] and reply["bytes"] is not None
    alpha = np.frombuffer(lab.controller.take_bytes(reply["bytes"]), np.uint8)
    assert alpha.size == 280 * 280 and alpha.max() > 200
    for lang, words in (("en", "This image could not be used"), ("zh-CN", "这张图片无法使用")):
        lab.controller.lang = lang
        refused = lab.call("uploadDigit", {}, b"\x89PNG broken")
        assert (refused["ok"], refused["code"], refused["reason"]) == (False, "BAD_IMAGE",
                                                                        "unreadable")
        assert refused["message"].startswith(words)
    assert lab.call("uploadDigit", {"width": 0}, pictures[1]["bytes"])["code"] == "BAD_CONFIG"
