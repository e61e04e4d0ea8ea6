"""Shared fixtures: the real MNIST files (build.py's cache) and small synthetic stand-ins."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlab.data.mnist import LABELS_FILE, NUM_IMAGES, SPRITE_FILE, MnistData

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("DIGITLAB_DATA", REPO / ".cache" / "data"))


def require_real_data() -> Path:
    """The MNIST files build.py downloads; a test that needs them fails without them (a skip
    would let a machine without the data report green)."""
    if not ((DATA_DIR / SPRITE_FILE).is_file() and (DATA_DIR / LABELS_FILE).is_file()):
        pytest.fail(
            f"MNIST files missing in {DATA_DIR}: run `python3 build.py` first (it downloads and "
            "verifies them into .cache/data), or set DIGITLAB_DATA to a folder that holds them",
            pytrace=False,
        )
    return DATA_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require_real_data()


@pytest.fixture(scope="session")
def mnist(data_dir) -> MnistData:
    return MnistData.from_dir(data_dir)


def row_ids() -> np.ndarray:
    """Synthetic sprite pixels [65000,784]: pixels 0 and 1 encode the row number."""
    pixels = np.zeros((NUM_IMAGES, 784), dtype=np.uint8)
    rows = np.arange(NUM_IMAGES)
    pixels[:, 0], pixels[:, 1] = rows // 256, rows % 256
    return pixels


def png_bytes(pixels: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def synthetic_labels(labels: np.ndarray | None = None) -> bytes:
    """One-hot label bytes; by default the label of row r is r % 10."""
    labels = np.arange(NUM_IMAGES) % 10 if labels is None else labels
    return np.eye(10, dtype=np.uint8)[labels].tobytes()


@pytest.fixture(scope="session")
def synthetic_sprite() -> bytes:
    return png_bytes(row_ids())


@pytest.fixture(scope="session")
def synthetic(synthetic_sprite) -> MnistData:
    return MnistData.from_bytes(synthetic_sprite, synthetic_labels())
