"""Photographed-style pictures of MNIST test digits, for the upload tests (unit and e2e).

Each is made from one test digit the way a phone photo of a digit written on paper looks:
scaled up smoothly, dark ink on light paper whose brightness falls off across the picture
(uneven light), placed off-centre in a larger frame, rotated a few degrees, with Gaussian
sensor noise, saved as JPEG or PNG. The tests make them when they run (`photos`, the same
bytes every time); `python3 tests/photo_fixtures.py` writes them to test-artifacts/photos/ to
look at.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "test-artifacts" / "photos"
# Test images (file order): one of each digit, 0 to 9, then two more. Each is the first of its
# digit in file order, except the 3 and the 5: the first ones (18 and 8) are scrawls that
# even read clean look like a 6, so the next ones (30, 15) stand in for them.
INDICES = (3, 2, 1, 30, 4, 15, 11, 0, 61, 7, 10, 5)


def photo(digit: np.ndarray, seed: int, fmt: str) -> bytes:
    """A photographed-style picture of `digit` (uint8 28x28, white ink on black)."""
    rng = np.random.default_rng(seed)
    big = Image.fromarray(digit).resize((196, 196), Image.Resampling.BICUBIC)
    angle = float(rng.choice([-1, 1]) * rng.uniform(5, 10))
    big = big.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    width, height = 400, 320
    ink = np.zeros((height, width))
    x = int(rng.integers(20, width - big.width - 20))  # off-centre, anywhere but the edge
    y = int(rng.integers(10, height - big.height - 10))
    ink[y:y + big.height, x:x + big.width] = np.asarray(big, dtype=np.float64) / 255
    # Paper: bright, with light falling off towards one corner; pencil/pen: dark grey.
    ys, xs = np.mgrid[0:height, 0:width]
    paper = 0.92 - 0.25 * (xs / width) * (ys / height) - 0.05 * (ys / height)
    pen = 0.18
    grey = paper * (1 - ink) + pen * ink
    grey += rng.normal(0, 0.04, grey.shape)
    rgb = np.stack([grey * 1.0, grey * 0.97, grey * 0.9], axis=-1)  # warm paper
    image = Image.fromarray(np.clip(rgb * 255, 0, 255).astype(np.uint8), "RGB")
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=80)
    else:
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def photos(data) -> list[dict]:
    """{name, bytes, index, label, mime} for each of INDICES, from `data` (an MnistData):
    JPEG and PNG in turn."""
    made = []
    for n, index in enumerate(INDICES):
        image, label = data.test_image(index)
        fmt = "jpeg" if n % 2 == 0 else "png"
        made.append({"name": f"test{index}.{'jpg' if fmt == 'jpeg' else 'png'}",
                     "bytes": photo(image.reshape(28, 28), seed=index, fmt=fmt),
                     "index": index, "label": int(label), "mime": f"image/{fmt}"})
    return made


def main() -> None:
    sys.path.insert(0, str(ROOT / "py"))
    from digitlab.data.mnist import MnistData

    OUT.mkdir(parents=True, exist_ok=True)
    made = photos(MnistData.from_dir(ROOT / ".cache" / "data"))
    for item in made:
        (OUT / item["name"]).write_bytes(item["bytes"])
    labels = {item["name"]: {"index": item["index"], "label": item["label"]} for item in made}
    (OUT / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    print(f"wrote {len(made)} photos to {OUT}")


if __name__ == "__main__":
    main()
