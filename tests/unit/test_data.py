import io
import struct
import zlib

import numpy as np
import pytest

from digitlab.data import png
from digitlab.data.mnist import MnistData, decode_labels
from digitlab.encoding import normalize, one_hot
from tests.unit.conftest import png_bytes, row_ids, synthetic_labels


def rows_of(images: np.ndarray) -> np.ndarray:
    return images[:, 0].astype(int) * 256 + images[:, 1]


def test_split_is_in_file_order(synthetic):
    data = MnistData(synthetic.images, synthetic.labels, train_size=5500, validation_size=1000)
    assert rows_of(data.test_set()[0]).tolist() == list(range(55000, 65000))
    assert rows_of(data.train_set()[0]).tolist() == list(range(5500))
    assert rows_of(data.validation_set()[0]).tolist() == list(range(54000, 55000))
    assert rows_of(data.test_set(size=3)[0]).tolist() == [55000, 55001, 55002]
    assert data.train_set()[1][:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_split_sizes_are_validated(synthetic):
    with pytest.raises(ValueError, match="trainSize"):
        MnistData(synthetic.images, synthetic.labels, train_size=54500, validation_size=1000)
    with pytest.raises(ValueError, match="validationSize"):
        MnistData(synthetic.images, synthetic.labels, validation_size=-1)
    full = MnistData(synthetic.images, synthetic.labels, train_size=55000, validation_size=0)
    assert len(full.train_set()[0]) == 55000 and len(full.validation_set()[0]) == 0


def test_whole_splits_are_uint8_views(synthetic):
    images, labels = synthetic.train_set()
    assert images.dtype == np.uint8 and images.shape == (5500, 784)
    assert np.shares_memory(images, synthetic.images)
    assert labels.dtype.kind == "i"


def test_examples_are_first_twenty_test_images(synthetic):
    indices, labels = synthetic.examples()
    assert indices.tolist() == list(range(55000, 55020))
    assert labels.tolist() == [i % 10 for i in range(55000, 55020)]
    pixels, label = synthetic.test_image(3)
    assert rows_of(pixels[None])[0] == 55003 and label == 55003 % 10


def test_test_batches_are_a_seeded_shuffle_of_the_test_set(synthetic):
    data = MnistData(synthetic.images, synthetic.labels, seed=7)
    xs, ys = data.next_test_batch(6000)
    assert xs.shape == (6000, 28, 28, 1) and xs.dtype == np.float32
    assert ys.shape == (6000, 10) and ys.dtype == np.float32 and (ys.sum(axis=1) == 1).all()
    first = rows_of(np.rint(xs.reshape(6000, 784) * 255).astype(int))
    rest = rows_of(np.rint(data.next_test_batch(4000)[0].reshape(4000, 784) * 255).astype(int))
    assert sorted([*first, *rest]) == list(range(55000, 65000)), "one pass covers the test set"
    assert first.tolist() != sorted(first.tolist()), "the order is shuffled"
    assert (ys.argmax(axis=1) == first % 10).all(), "labels travel with their images"
    again = MnistData(synthetic.images, synthetic.labels, seed=7)
    assert np.array_equal(again.next_test_batch(6000)[0], xs)


def test_class_counts(synthetic):
    assert synthetic.class_counts("train").tolist() == [550] * 10
    assert synthetic.class_counts("test").tolist() == [1000] * 10
    assert synthetic.class_counts("all").sum() == 65000


def test_normalize_and_one_hot():
    images = np.array([[0, 255] * 392], dtype=np.uint8)
    x = normalize(images)
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert one_hot(np.array([3])).tolist()[0] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_real_files_split_and_labels(mnist):
    assert mnist.images.shape == (65000, 784) and mnist.images.dtype == np.uint8
    # The last 10000 rows are the official MNIST test set, whose class counts are well known.
    official = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.class_counts("test").tolist() == official
    assert mnist.class_counts("all").sum() == 65000
    assert 0 < mnist.images.mean() < 60  # mostly dark background, white digits


# ---- bad files -------------------------------------------------------------------------


def test_wrong_sprite_size_is_named(synthetic_sprite):
    small = png_bytes(np.zeros((100, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"mnist_images\.png.*784 x 65000.*784 x 100"):
        MnistData.from_bytes(small, synthetic_labels())


def test_wrong_sprite_mode_is_named():
    rgb = png_bytes(np.zeros((65000, 784), dtype=np.uint8), mode="RGB")
    with pytest.raises(ValueError, match=r"mnist_images\.png.*mode L.*RGB"):
        MnistData.from_bytes(rgb, synthetic_labels())


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_corrupt_sprite_is_named(synthetic_sprite, damage):
    bad = {
        "truncated": synthetic_sprite[: len(synthetic_sprite) // 2],
        "random": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "empty": b"",
    }[damage]
    with pytest.raises(ValueError, match=r"mnist_images\.png"):
        MnistData.from_bytes(bad, synthetic_labels())


def test_labels_of_wrong_length_are_named(synthetic_sprite):
    with pytest.raises(ValueError, match=r"mnist_labels_uint8.*650000 bytes.*got 649990"):
        MnistData.from_bytes(synthetic_sprite, synthetic_labels()[:-10])


@pytest.mark.parametrize("row, values", [(17, [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
                                         (64999, [0] * 10), (3, [0, 2, 0, 0, 0, 0, 0, 0, 0, 0])])
def test_labels_not_one_hot_are_named(row, values):
    table = np.frombuffer(synthetic_labels(), dtype=np.uint8).reshape(65000, 10).copy()
    table[row] = values
    with pytest.raises(ValueError, match=rf"mnist_labels_uint8: row {row} is not one-hot"):
        decode_labels(table.tobytes())


def test_row_ids_fixture_is_distinct():
    assert len(np.unique(rows_of(row_ids()))) == 65000


# ---- the PNG decoder -------------------------------------------------------------------


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def encode_gray8(pixels: np.ndarray, filters: list[int]) -> bytes:
    """A PNG with the given filter on each row, by the spec's formulas (independent of the
    decoder and of Pillow, whose encoder rarely picks Average)."""
    height, width = pixels.shape
    img = pixels.astype(int)
    rows = []
    for y, kind in enumerate(filters):
        out = [kind]
        for x in range(width):
            a = img[y, x - 1] if x else 0
            b = img[y - 1, x] if y else 0
            c = img[y - 1, x - 1] if x and y else 0
            predicted = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            out.append((img[y, x] - predicted) % 256)
        rows.append(bytes(out))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(body, zlib.crc32(kind)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (png.SIGNATURE + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def test_png_decoder_undoes_every_row_filter():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 23)).astype(np.uint8)
    pixels[10:20] = np.cumsum(rng.integers(0, 5, (10, 23)), axis=1)  # smooth rows too
    filters = [int(f) for f in rng.integers(0, 5, 40)]
    filters[:5] = [0, 1, 2, 3, 4]  # every filter, and each of them on the first row below
    for first in range(5):
        data = encode_gray8(pixels, [first, *filters[1:]])
        np.testing.assert_array_equal(png.decode_gray8(data), pixels)


def test_png_decoder_matches_pillow_on_pillows_own_files():
    from PIL import Image

    rng = np.random.default_rng(1)
    ramps = np.cumsum(rng.integers(0, 9, (200, 61)), axis=1)
    stripes = np.tile(rng.integers(0, 256, 61), (200, 1))
    pixels = (np.vstack([ramps, rng.integers(0, 256, (200, 61)), stripes]) % 256)
    pixels = pixels.astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", optimize=True)
    np.testing.assert_array_equal(png.decode_gray8(buffer.getvalue()), pixels)


def test_png_decoder_leaves_other_kinds_to_pillow_and_refuses_broken_files(synthetic_sprite):
    assert png.decode_gray8(png_bytes(np.zeros((4, 4), np.uint8), mode="RGB")) is None
    flipped = bytearray(synthetic_sprite)
    flipped[60] ^= 0xFF
    with pytest.raises(png.PngError, match="CRC mismatch"):
        png.decode_gray8(bytes(flipped))
    with pytest.raises(png.PngError, match="signature"):
        png.decode_gray8(b"GIF89a" + bytes(100))
    with pytest.raises(png.PngError, match="truncated"):
        png.decode_gray8(synthetic_sprite[:-20])


def test_the_codelab_sprite_decodes_like_pillow(data_dir):
    from PIL import Image

    data = (data_dir / "mnist_images.png").read_bytes()
    ours = png.decode_gray8(data)
    np.testing.assert_array_equal(ours, np.asarray(Image.open(io.BytesIO(data))))
