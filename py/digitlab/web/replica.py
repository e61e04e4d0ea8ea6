"""A training replica's Python, in one of the page's other workers (`js/replica.js`).

The lead worker's `web/team.py` drives it through `js/team.js`: `sync` makes it a copy of the
model being trained; then per batch `step` computes its shard's gradients and `apply` takes the
step the lead took with the reduced gradient (nn/parallel.py's Replica). It holds no data: each
shard's pixels come with it. Arrays cross as typed arrays (one copy each way), whether
js/team.js sends them in messages or through shared memory; everything else is plain.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from digitlab import backend
from digitlab.nn.parallel import Replica, Step
from digitlab.web.controller import load_kernels
from digitlab.web.worker import JsDownload


class ReplicaWorker:
    """What replica.js holds: at most one replica, replaced by every `sync`."""

    def __init__(self, float32_array: Any) -> None:
        """`float32_array(array)`: a Float32Array holding a copy of a 1-D float32 array."""
        self.float32_array = float32_array
        self.replica: Replica | None = None

    async def boot(self, settings_json: str, kernels: Any) -> None:
        """Load the kernels the page's settings choose, as the lead did (web/controller.py)."""
        settings = json.loads(settings_json)
        downloads = {name: JsDownload(promise) for name, promise in kernels.to_py(depth=1).items()}
        await load_kernels(settings.get("simd", "plain"), downloads)

    def sync(self, weights: Any, dropout: str, backend_name: str) -> int:
        """Become a copy of the lead's model: its weights file (optimiser state included),
        its Dropout streams (JSON) and the backend it computes with. Returns how many floats
        its gradients have (what a shared channel holds)."""
        backend.set_backend(backend_name)
        self.replica = Replica.from_state({"weights": weights.to_bytes(), "dropout": dropout})
        return self.replica.layout.size

    def step(self, pixels: Any, labels: Any, start: int, total: int) -> tuple[Any, float, int]:
        """The shard's gradients (`pixels`, `labels`: Uint8Arrays, rows start.. of a
        `total`-row batch): the gradient as a Float32Array, the loss share, the correct count."""
        rows = np.frombuffer(pixels.to_bytes(), dtype=np.uint8)
        shard_labels = np.frombuffer(labels.to_bytes(), dtype=np.uint8).astype(np.int64)
        shard = rows.reshape(len(shard_labels), -1) if len(shard_labels) else rows.reshape(0, 0)
        result = self._replica().gradients(shard, shard_labels, start, total)
        return self.float32_array(result.gradient), result.loss, result.correct

    def apply(self, gradient: Any, learning_rate: float) -> None:
        """The step the lead took (`gradient`: a Float32Array)."""
        replica = self._replica()
        flat = np.empty(replica.layout.size, dtype=np.float32)
        gradient.assign_to(flat)
        replica.apply(Step(flat, float(learning_rate)))

    def checksum(self) -> str:
        return self._replica().checksum()

    def _replica(self) -> Replica:
        if self.replica is None:
            raise RuntimeError("this replica was never synced with a model")
        return self.replica


def start() -> ReplicaWorker:
    """The replica's Python side (replica.js calls it once Pyodide and the package are up)."""
    import js

    def float32_array(array: np.ndarray) -> Any:
        typed = js.Float32Array.new(array.size)
        typed.assign(array)
        return typed

    return ReplicaWorker(float32_array)
