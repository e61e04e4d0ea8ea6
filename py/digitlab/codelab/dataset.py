"""`data` in the code cells: the lab's MNIST images the way Keras code expects them.

The codelab's `MnistData` hands out tensors (`nextTrainBatch`, `nextTestBatch`); Keras code
wants NumPy arrays: images float32 [N, 28, 28, 1] in [0, 1] and labels one-hot float32
[N, 10] (what `categorical_crossentropy` compares with). This wraps the lab's own
`data.mnist.MnistData`, so a cell sees the same images, in the same split, as the page's
Train and Evaluate buttons: the training images are the start of the training portion, the
validation images its end, and the test images the 10,000 the network never trains on, in
file order. Nothing is shuffled here; `model.fit(shuffle=True)` shuffles, seeded.
"""

from __future__ import annotations

import numpy as np

from digitlab.data.mnist import NUM_TEST, NUM_TRAIN_PORTION, MnistData
from digitlab.encoding import normalize, one_hot

Arrays = tuple[np.ndarray, np.ndarray]


class CodelabData:
    """`training(n)`, `validation(n)`, `test(n)`: (images, one-hot labels) as float32 arrays.

    `mnist` is the wrapped MnistData (uint8 images, int labels) for anything else."""

    def __init__(self, mnist: MnistData) -> None:
        self.mnist = mnist

    def training(self, size: int | None = None) -> Arrays:
        """The first `size` training images (default: the page's training size)."""
        size = self.mnist.train_size if size is None else _count(size, NUM_TRAIN_PORTION)
        return self._arrays(0, size)

    def validation(self, size: int | None = None) -> Arrays:
        """The last `size` images of the training portion (default: the page's validation
        size): never trained on when training takes at most the rest."""
        size = self.mnist.validation_size if size is None else _count(size, NUM_TRAIN_PORTION)
        return self._arrays(NUM_TRAIN_PORTION - size, size)

    def test(self, size: int = NUM_TEST) -> Arrays:
        """The first `size` test images, in file order (the page's examples are the first 20)."""
        return self._arrays(NUM_TRAIN_PORTION, _count(size, NUM_TEST))

    def _arrays(self, start: int, size: int) -> Arrays:
        rows = slice(start, start + size)
        return normalize(self.mnist.images[rows]), one_hot(self.mnist.labels[rows])

    def __repr__(self) -> str:
        return (f"CodelabData(training={self.mnist.train_size}, "
                f"validation={self.mnist.validation_size}, test={NUM_TEST})")


def _count(size: object, most: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 0 <= size <= most:
        raise ValueError(f"the number of images must be a whole number from 0 to {most}, "
                         f"got {size!r}")
    return int(size)
