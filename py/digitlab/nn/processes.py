"""Replicas in other processes, for CPython: nn/parallel.py's Transport over pipes.

`python -m digitlab train --workers N` trains on the lead (this process) and N - 1 replica
processes, each `python -m digitlab.nn.processes` reading what it is sent on stdin and answering
on stdout. NumPy's BLAS runs one thread in each (OPENBLAS_NUM_THREADS and the like are set
before it loads): with one process per core, more threads would only contend for the cores.

A message is a frame: two little-endian uint32 lengths (header, payload), a JSON header, and
the payload, the raw bytes of the arrays the header lists by dtype and shape. Nothing is
pickled, so a replica runs no code it is sent, only arithmetic on bytes.

lead -> replica: `sync` (a weights file, the Dropout streams, the backend), `shard` (pixels,
labels, start, total), `step` (a gradient, the learning rate), `ping` (answered with `pong`
once everything before it is taken), `checksum`. replica -> lead: `result` (gradient, loss,
correct), `pong`, `checksum`. A replica that fails prints its traceback to stderr and exits;
the lead sees the pipe close and raises ReplicaLost.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitlab import backend
from digitlab.nn.parallel import Replica, ReplicaLost, ShardResult, Step

FRAME = struct.Struct("<II")  # header bytes, payload bytes
# The dtypes a frame's arrays may have: all a shard, a gradient or a weights file needs.
DTYPES = {"uint8", "int64", "float32", "float64"}
# One BLAS thread per process: the replicas and the lead share the cores between them.
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                     "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """This process's BLAS on one thread while inside: the lead's, beside its replica
    processes. Its library is loaded already (NumPy is), so its thread count is set through
    threadpoolctl, not the environment. Measured on 2 cores, codelab run on 2 processes:
    2.6 s with it, 4.4 s with the lead's BLAS on both cores beside the replica."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


class ChannelClosed(Exception):  # noqa: N818 - the other end went away: not an error of ours
    """The pipe ended (the other process exited or closed it)."""


def write_frame(stream: BinaryIO, header: dict, arrays: tuple[np.ndarray, ...] = ()) -> None:
    """One message: `header` (JSON) and `arrays`, their dtypes and shapes added to it."""
    header = {**header, "arrays": [[str(a.dtype), list(a.shape)] for a in arrays]}
    head = json.dumps(header).encode()
    payload = [np.ascontiguousarray(a).data for a in arrays]
    try:
        stream.write(FRAME.pack(len(head), sum(part.nbytes for part in payload)))
        stream.write(head)
        for part in payload:
            stream.write(part)
        stream.flush()
    except (OSError, ValueError) as e:  # a broken pipe; ValueError: closed on our side
        raise ChannelClosed from e


def read_frame(stream: BinaryIO) -> tuple[dict, list[np.ndarray]]:
    """The next message: its header and its arrays (read-only views of the bytes read)."""
    lengths = _read_exactly(stream, FRAME.size)
    head_size, payload_size = FRAME.unpack(lengths)
    header = json.loads(_read_exactly(stream, head_size))
    payload = _read_exactly(stream, payload_size)
    arrays, at = [], 0
    for dtype, shape in header.pop("arrays"):
        if dtype not in DTYPES:
            raise ValueError(f"a frame's array has dtype {dtype!r}, not one of {sorted(DTYPES)}")
        count = int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(payload, dtype=dtype, count=count, offset=at).reshape(shape)
        arrays.append(array)
        at += array.nbytes
    if at != payload_size:
        raise ValueError(f"a frame's arrays hold {at} bytes of its {payload_size}")
    return header, arrays


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) < size:
        raise ChannelClosed
    return data


def serve(inbox: BinaryIO, outbox: BinaryIO) -> None:
    """A replica process's loop: take each message in order until the lead closes the pipe."""
    replica: Replica | None = None
    while True:
        try:
            header, arrays = read_frame(inbox)
        except ChannelClosed:
            return
        op = header["op"]
        if op == "sync":
            backend.set_backend(header["backend"])
            replica = Replica.from_state({"weights": arrays[0].tobytes(),
                                          "dropout": header["dropout"]})
        elif op == "ping":
            write_frame(outbox, {"op": "pong"})
        elif replica is None:
            raise RuntimeError(f"{op!r} before this replica was synced with a model")
        elif op == "shard":
            pixels, labels = arrays
            result = replica.gradients(pixels, labels, header["start"], header["total"])
            write_frame(outbox, {"op": "result", "loss": result.loss,
                                 "correct": result.correct}, (result.gradient,))
        elif op == "step":
            replica.apply(Step(arrays[0], header["learning_rate"]))
        elif op == "checksum":
            write_frame(outbox, {"op": "checksum", "checksum": replica.checksum()})
        else:
            raise ValueError(f"unknown message {op!r}")


class ProcessTransport:
    """`size` replica processes, started at once (they import NumPy while the lead loads its
    data). Close it (or use it as a context manager) to end them."""

    def __init__(self, size: int) -> None:
        self.size = size
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding digitlab
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, **ONE_THREAD,
               "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
        self.processes = [
            subprocess.Popen([sys.executable, "-m", "digitlab.nn.processes"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            for _ in range(size)]
        self.unanswered = [0] * size  # shards sent whose results are not read yet
        self.gone: list[int] = []  # replicas found gone (1..size), in the order seen

    def __enter__(self) -> ProcessTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End every replica process: each exits when its stdin closes."""
        for process in self.processes:
            with contextlib.suppress(OSError):  # a replica already gone: a broken pipe
                process.stdin.close()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()

    def sync(self, state: dict) -> None:
        weights = np.frombuffer(state["weights"], dtype=np.uint8)
        self._finish_all()  # what was sent before belongs to the model being replaced
        for replica in range(1, self.size + 1):
            self._send(replica, {"op": "sync", "dropout": state["dropout"],
                                 "backend": state["backend"]}, (weights,))
        self._raise_if_lost()

    def send(self, replica: int, pixels: np.ndarray, labels: np.ndarray, start: int,
             total: int) -> None:
        self._send(replica, {"op": "shard", "start": start, "total": total},
                   (pixels, np.asarray(labels, dtype=np.int64)))
        self.unanswered[replica - 1] += 1

    def gather(self) -> list[ShardResult]:
        results = []
        for replica in range(1, self.size + 1):
            header, arrays = self._answer(replica, "result")
            if header is not None:
                results.append(ShardResult(arrays[0], header["loss"], header["correct"]))
        self._raise_if_lost()
        return results

    def apply(self, step: Step) -> None:
        gradient = np.asarray(step.gradient, dtype=np.float32)
        for replica in range(1, self.size + 1):
            self._send(replica, {"op": "step", "learning_rate": step.learning_rate},
                       (gradient,))

    def finish(self) -> None:
        self._finish_all()
        self._raise_if_lost()

    def checksums(self) -> list[str]:
        """Each replica's Replica.checksum, in order (the lead's weights should match)."""
        for replica in range(1, self.size + 1):
            self._send(replica, {"op": "checksum"})
        sums = [self._answer(replica, "checksum")[0] for replica in range(1, self.size + 1)]
        self._raise_if_lost()
        return [header["checksum"] for header in sums if header is not None]

    def _finish_all(self) -> None:
        """Every replica took all it was sent: a `ping` is answered after it; the results of
        shards nobody gathered are read and dropped on the way."""
        for replica in range(1, self.size + 1):
            self._send(replica, {"op": "ping"})
        for replica in range(1, self.size + 1):
            while self.unanswered[replica - 1] and replica not in self.gone:
                self._answer(replica, "result")
            self._answer(replica, "pong")

    def _send(self, replica: int, header: dict, arrays: tuple[np.ndarray, ...] = ()) -> None:
        if replica in self.gone:
            return  # the run ends at the next gather or finish
        try:
            write_frame(self.processes[replica - 1].stdin, header, arrays)
        except ChannelClosed:
            self.gone.append(replica)

    def _answer(self, replica: int, op: str) -> tuple[dict | None, list[np.ndarray]]:
        """Replica `replica`'s next message, which must be an `op`; (None, []) if it is gone.
        """
        if replica in self.gone:
            return None, []
        try:
            header, arrays = read_frame(self.processes[replica - 1].stdout)
        except ChannelClosed:
            self.gone.append(replica)
            return None, []
        if header["op"] != op:
            raise RuntimeError(f"replica {replica} answered {header['op']!r}, not {op!r}")
        if op == "result":
            self.unanswered[replica - 1] -= 1
        return header, arrays

    def _raise_if_lost(self) -> None:
        """ReplicaLost for the first replica found gone, once the others answered."""
        if self.gone:
            raise ReplicaLost(self.gone[0])


if __name__ == "__main__":
    # The frames own the real stdout: anything printed goes to stderr instead.
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, frames)
