"""MNIST sprite + labels -> uint8 images, the fixed split, seeded test batches.

Rows are images in file order: the last 10000 are the test set, the first 55000 the training
portion; validation is the end of the training portion, the training set its start. Images stay
uint8 and are normalised to float32 in [0, 1] one batch at a time.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from digitlab.data import png as png_decoder
from digitlab.encoding import normalize, one_hot
from digitlab.errors import ConfigError, DataError
from digitlab.schema import TRAINING

SPRITE_FILE = "mnist_images.png"
LABELS_FILE = "mnist_labels_uint8"
NUM_IMAGES = 65000
NUM_TEST = 10000
NUM_TRAIN_PORTION = NUM_IMAGES - NUM_TEST  # 55000
IMAGE_SIZE = 784
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
NUM_EXAMPLES = 20


def decode_labels(raw: bytes) -> np.ndarray:
    """65000 x 10 one-hot uint8 bytes -> int labels [65000]; DataError (DATA_LABELS) names the
    problem."""
    expected = NUM_IMAGES * NUM_CLASSES
    if len(raw) != expected:
        raise DataError("size", code="DATA_LABELS", file=LABELS_FILE, expected=expected,
                        got=len(raw))
    table = np.frombuffer(raw, dtype=np.uint8).reshape(NUM_IMAGES, NUM_CLASSES)
    bad = np.flatnonzero((table > 1).any(axis=1) | (table.sum(axis=1, dtype=np.intp) != 1))
    if bad.size:
        raise DataError("not_one_hot", code="DATA_LABELS", file=LABELS_FILE, row=int(bad[0]),
                        values=table[bad[0]].tolist(), count=int(bad.size))
    return table.argmax(axis=1).astype(np.uint8)


def decode_sprite(png: bytes, inflated: png_decoder.Inflated | None = None) -> np.ndarray:
    """The 784 x 65000 grayscale PNG -> uint8 [65000, 784]; DataError (DATA_SPRITE) names the
    problem. `inflated`: its image data, inflated already (see png.decode_gray8)."""
    if not png:
        raise DataError("empty", file=SPRITE_FILE)
    try:
        pixels = png_decoder.decode_gray8(png, inflated)
    except png_decoder.PngError as e:
        raise DataError("not_png", file=SPRITE_FILE, cause=e) from None
    if pixels is None:  # a PNG of another kind: Pillow reads it and names its mode
        return _decode_with_pillow(png)
    if pixels.shape != (NUM_IMAGES, IMAGE_SIZE):
        raise _size_error(pixels.shape[1], pixels.shape[0])
    return pixels


def _size_error(width: int, height: int) -> DataError:
    return DataError("size", file=SPRITE_FILE, width=IMAGE_SIZE, height=NUM_IMAGES,
                     got_width=width, got_height=height)


def _decode_with_pillow(png: bytes) -> np.ndarray:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(png))
        mode, size = image.mode, image.size
        if mode == "L" and size == (IMAGE_SIZE, NUM_IMAGES):
            image.load()
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, bomb errors...
        raise DataError("not_png", file=SPRITE_FILE, cause=str(e)) from None
    if mode != "L":
        raise DataError("mode", file=SPRITE_FILE, mode=mode)
    if size != (IMAGE_SIZE, NUM_IMAGES):
        raise _size_error(size[0], size[1])
    return np.asarray(image, dtype=np.uint8).reshape(NUM_IMAGES, IMAGE_SIZE)


class MnistData:
    """The 65000 MNIST images and labels with the fixed split and a seeded test batch order."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        train_size: int = 5500,
        validation_size: int = 1000,
        seed: int = 0,
    ) -> None:
        self.images = images  # uint8 [65000, 784]
        self.labels = labels.astype(np.intp)  # int [65000]
        self.split(train_size, validation_size, seed)

    @classmethod
    def from_bytes(cls, sprite_png: bytes, labels: bytes,
                   inflated: png_decoder.Inflated | None = None, **split) -> MnistData:
        """From the raw file contents (the browser fetches them as bytes, and inflates the
        sprite's image data while Python starts: `inflated`)."""
        label_values = decode_labels(bytes(labels))
        return cls(decode_sprite(bytes(sprite_png), inflated), label_values, **split)

    @classmethod
    def from_files(cls, sprite_path: str | Path, labels_path: str | Path, **split) -> MnistData:
        sprite, labels = Path(sprite_path).read_bytes(), Path(labels_path).read_bytes()
        return cls.from_bytes(sprite, labels, **split)

    @classmethod
    def from_dir(cls, directory: str | Path, **split) -> MnistData:
        """From a folder holding mnist_images.png and mnist_labels_uint8."""
        directory = Path(directory)
        return cls.from_files(directory / SPRITE_FILE, directory / LABELS_FILE, **split)

    def split(self, train_size: int = 5500, validation_size: int = 1000, seed: int = 0) -> None:
        """Choose the training/validation sizes and the seed; resets the test batch order."""
        for field, value in (("trainSize", train_size), ("validationSize", validation_size)):
            low, high = TRAINING[field]["min"], TRAINING[field]["max"]
            if not isinstance(value, int | np.integer) or not low <= value <= high:
                raise ConfigError("range", field=field, value=value, limits=[low, high])
        if train_size + validation_size > NUM_TRAIN_PORTION:
            raise ConfigError("total", field="trainSize", other="validationSize",
                              value=train_size, other_value=validation_size,
                              limits=[None, NUM_TRAIN_PORTION])
        self.train_size, self.validation_size = int(train_size), int(validation_size)
        self.seed = seed
        # Its own stream of the seed ([seed, 2]), so nothing else drawn from it moves this order.
        self._test_rng = np.random.default_rng([seed, 2])
        self._test_order, self._test_pos = self._test_rng.permutation(NUM_TEST), 0

    # ---- whole splits: uint8 views + int labels -----------------------------------------
    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The first train_size images of the training portion: (uint8 [n,784], labels [n])."""
        return self.images[: self.train_size], self.labels[: self.train_size]

    def validation_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The last validation_size images of the training portion (never trained on)."""
        start = NUM_TRAIN_PORTION - self.validation_size
        return self.images[start:NUM_TRAIN_PORTION], self.labels[start:NUM_TRAIN_PORTION]

    def test_set(self, size: int = NUM_TEST) -> tuple[np.ndarray, np.ndarray]:
        """The first `size` test images in file order (rows 55000...)."""
        if not 0 <= size <= NUM_TEST:
            raise ConfigError("range", field="size", value=size, limits=[0, NUM_TEST])
        end = NUM_TRAIN_PORTION + size
        return self.images[NUM_TRAIN_PORTION:end], self.labels[NUM_TRAIN_PORTION:end]

    def test_image(self, i: int) -> tuple[np.ndarray, int]:
        """Test image i in file order: (uint8 [784], label)."""
        if not 0 <= i < NUM_TEST:
            raise ConfigError("range", field="index", value=i, limits=[0, NUM_TEST - 1])
        return self.images[NUM_TRAIN_PORTION + i], int(self.labels[NUM_TRAIN_PORTION + i])

    def examples(self, count: int = NUM_EXAMPLES) -> tuple[np.ndarray, np.ndarray]:
        """The example panel, the first test images in file order: (sprite row indices [count],
        labels [count]); the pixels are self.images[indices]."""
        index = np.arange(NUM_TRAIN_PORTION, NUM_TRAIN_PORTION + count)
        return index, self.labels[index]

    # ---- seeded test batches (float32 images [n,28,28,1], one-hot float32 [n,10]) -------
    # Training batches are drawn by Sequential.train_steps, from train_set().
    def next_test_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n test images in a seeded shuffled order (like the codelab)."""
        index, self._test_order, self._test_pos = _take(
            self._test_order, self._test_pos, n, self._test_rng
        )
        index = index + NUM_TRAIN_PORTION
        return normalize(self.images[index]), one_hot(self.labels[index])

    # ---- counts ------------------------------------------------------------------------
    def class_counts(self, which: str = "train") -> np.ndarray:
        """Images per class [10] in 'train', 'validation', 'test' or 'all'."""
        sets = {"train": self.train_set, "validation": self.validation_set, "test": self.test_set}
        labels = self.labels if which == "all" else sets[which]()[1]
        return np.bincount(labels.astype(np.intp), minlength=NUM_CLASSES)


def _take(order: np.ndarray, pos: int, n: int, rng: np.random.Generator):
    """n indices from a cyclic order starting at pos, drawing a fresh permutation at the end."""
    parts, size = [], len(order)
    while n > 0:
        if pos == size:
            order, pos = rng.permutation(size), 0
        step = min(n, size - pos)
        parts.append(order[pos : pos + step])
        pos, n = pos + step, n - step
    index = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    return index, order, pos
