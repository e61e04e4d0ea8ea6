"""The lead worker's training replicas: the other Pyodide workers a run shares its batches with.

The controller sees a `Team`: how many replicas are up, how to wait for more, and a Transport
(nn/parallel.py) over them for one run. `SoloTeam` is a lab of one worker (CPython, a browser
that cannot wait for another worker inside a batch); `BrowserTeam` drives `js/team.js`.

A batch step is synchronous Python (Sequential.train_steps), so the lead waits for the
replicas' gradients inside it: `wait` suspends Python until a promise settles, letting the
worker's event loop run meanwhile (Pyodide's run_sync, on WebAssembly JS Promise Integration).
Where the browser has no JSPI, runs use one worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from digitlab.nn.parallel import ReplicaLost, ShardResult, Step, Transport


class Team(Protocol):
    """The replicas beside the lead, as the controller uses them."""

    supported: bool  # False: this browser runs every training on the lead alone
    parallel: bool  # whether a run starting now can use replicas

    async def ready(self, count: int) -> int:
        """Boot replicas until `count` are up (or fail to boot); how many are up."""

    def transport(self, size: int) -> Transport:
        """The first `size` replicas, for one run."""

    def info(self) -> dict:
        """{ready, booting, lost, exchange}: replicas in each state (lost: since the page
        opened), and how batches reach them: 'shared' memory, 'messages', or None (no
        replicas can be had)."""

    async def replicas(self) -> list[dict]:
        """Each ready replica's {checksum (Replica.checksum), wasmHeapBytes}; ReplicaLost if
        one is lost meanwhile."""


class SoloTeam:
    """No replicas: the lead trains alone."""

    supported = parallel = False

    async def ready(self, count: int) -> int:
        return 0

    def transport(self, size: int) -> Transport:
        raise RuntimeError("a solo team has no replicas")

    def info(self) -> dict:
        return {"ready": 0, "booting": 0, "lost": 0, "exchange": None}

    async def replicas(self) -> list[dict]:
        return []


class BrowserTransport:
    """nn/parallel's Transport over js/team.js: arrays cross as typed arrays, one copy each
    (js/team.js then moves them as messages, or through memory shared with the replica).

    js/team.js resolves a step whose replica was lost with {lost: its number}, after every
    other replica answered; that becomes ReplicaLost here."""

    def __init__(self, team: Any, size: int, wait: Callable[[Any], Any],
                 typed: Callable[[np.ndarray], Any]) -> None:
        """`typed(array)`: a JS typed array holding a copy of a 1-D uint8 or float32 array."""
        self.team, self.size, self.wait, self.typed = team, size, wait, typed

    def sync(self, state: dict) -> None:
        weights = self.typed(np.frombuffer(state["weights"], dtype=np.uint8))
        self._checked(self.wait(self.team.sync(self.size, weights, state["dropout"],
                                               state["backend"])))

    def send(self, replica: int, pixels: np.ndarray, labels: np.ndarray, start: int,
             total: int) -> None:
        self.team.send(replica,
                       self.typed(np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1)),
                       self.typed(labels.astype(np.uint8)), start, total)

    def gather(self) -> list[ShardResult]:
        answers = self._checked(self.wait(self.team.gather()))
        results = []
        for answer in answers:
            gradient = np.empty(answer.gradient.length, dtype=np.float32)
            answer.gradient.assign_to(gradient)
            results.append(ShardResult(gradient, float(answer.loss), int(answer.correct)))
        return results

    def apply(self, step: Step) -> None:
        self.team.apply(self.typed(step.gradient), step.learning_rate)

    def finish(self) -> None:
        self._checked(self.wait(self.team.finish()))

    @staticmethod
    def _checked(answer: Any) -> Any:
        lost = getattr(answer, "lost", None)
        if lost is not None:
            raise ReplicaLost(int(lost))
        return answer


class BrowserTeam:
    """The replicas js/team.js runs: nested workers of the lead, booted from cached files."""

    def __init__(self, team: Any, supported: bool, can_wait: Callable[[], bool],
                 wait: Callable[[Any], Any], typed: Callable[[np.ndarray], Any]) -> None:
        """`supported`: the browser can suspend Python for a promise (JSPI); `can_wait()`:
        Python can be suspended here and now (inside a call from the page), by `wait`."""
        self.team, self.supported, self.can_wait = team, supported, can_wait
        self.wait, self.typed = wait, typed

    @property
    def parallel(self) -> bool:
        return self.supported and self.can_wait()

    async def ready(self, count: int) -> int:
        return int(await self.team.ready(count)) if self.parallel else 0

    def transport(self, size: int) -> Transport:
        return BrowserTransport(self.team, size, self.wait, self.typed)

    def info(self) -> dict:
        info = self.team.info()
        return {"ready": int(info.ready), "booting": int(info.booting), "lost": int(info.lost),
                "exchange": str(info.exchange) if self.supported else None}

    async def replicas(self) -> list[dict]:
        answer = BrowserTransport._checked(await self.team.replicas())
        return [{"checksum": str(replica.checksum), "wasmHeapBytes": replica.wasmHeapBytes}
                for replica in answer]
