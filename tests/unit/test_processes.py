"""nn/processes.py: the frames replicas in other processes are driven with, and whole runs over
ProcessTransport (`python -m digitlab train --workers N`) against the in-process replicas."""

from __future__ import annotations

import io

import numpy as np
import pytest

from digitlab.nn.optim import make_optimizer
from digitlab.nn.parallel import DataParallel, LocalTransport, ReplicaLost, Step
from digitlab.nn.processes import ChannelClosed, ProcessTransport, read_frame, write_frame
from digitlab.nn.sequential import Checkpoint, Sequential, TrainingRun
from digitlab.nn.zoo import build_model

# Small and cheap, with a Dropout layer: its masks must stay in step across the processes.
SPEC = [
    {"type": "conv2d", "filters": 3, "kernelSize": 3, "strides": 3, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.3},
    {"type": "dense", "units": 10, "activation": "softmax"},
]  # fmt: skip


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 784), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.int64))


def train(transport, epochs: int = 2) -> tuple[Sequential, DataParallel, dict]:
    """A seeded run on 60 images in batches of 13 (the last 8) over the lead and `transport`;
    the learning rate halves every epoch, so the replicas must take the lead's."""
    pixels, labels = images(60, seed=7)
    model = build_model(SPEC, seed=1)
    model.compile(make_optimizer("adam", 0.01))
    parallel = model.parallel = DataParallel(model, transport)
    with TrainingRun(model, pixels, labels, batch_size=13, epochs=epochs, seed=2,
                     learning_rate_decay=0.5) as run:
        for _ in run:
            pass
    parallel.finish()
    return model, parallel, run.history


# ---- frames ------------------------------------------------------------------------------

def test_a_frame_carries_its_header_and_arrays_exactly():
    arrays = (np.arange(12, dtype=np.uint8).reshape(3, 4), np.array([-1, 7], dtype=np.int64),
              np.linspace(-1, 1, 5, dtype=np.float32), np.zeros((0, 784), dtype=np.uint8))
    stream = io.BytesIO()
    write_frame(stream, {"op": "shard", "start": 3}, arrays)
    write_frame(stream, {"op": "ping"})
    stream.seek(0)
    header, got = read_frame(stream)
    assert header == {"op": "shard", "start": 3}
    for expected, array in zip(arrays, got, strict=True):
        assert array.dtype == expected.dtype and array.shape == expected.shape
        np.testing.assert_array_equal(array, expected)
    assert read_frame(stream) == ({"op": "ping"}, [])
    with pytest.raises(ChannelClosed):  # the end of the stream
        read_frame(stream)


def frame(header: bytes, payload: bytes) -> io.BytesIO:
    return io.BytesIO(len(header).to_bytes(4, "little") + len(payload).to_bytes(4, "little")
                      + header + payload)


def test_a_frame_holds_raw_numbers_only():
    # An object array would be a pickle: refused by its dtype before anything is read from it.
    with pytest.raises(ValueError, match="dtype 'object'"):
        read_frame(frame(b'{"op": "step", "arrays": [["object", [1]]]}', b"\0" * 8))
    with pytest.raises(ValueError, match="hold 4 bytes of its 8"):
        read_frame(frame(b'{"op": "step", "arrays": [["float32", [1]]]}', b"\0" * 8))
    with pytest.raises(ChannelClosed):  # cut short: the writer went away mid-frame
        read_frame(io.BytesIO(frame(b'{"op": "ping", "arrays": []}', b"").getvalue()[:-3]))


# ---- runs --------------------------------------------------------------------------------

def test_replica_processes_train_as_the_in_process_replicas():
    with ProcessTransport(2) as transport:
        model, parallel, history = train(transport)
        # After finish every replica holds the lead's weights and optimiser slots, bit for
        # bit: they applied the same reduced steps with the same elementwise optimiser.
        assert transport.checksums() == [parallel.lead.checksum()] * 2
    local, _, local_history = train(LocalTransport(2))
    assert len(history["batches"]) == 2 * 5
    # The replica processes run BLAS on one thread, this process's replicas on as many as it
    # has: a product may sum in another order, so agree to float32 rounding (a few ulps per
    # step over 10 steps; a dropped shard or a wrong scale is off by far more).
    losses = [batch["loss"] for batch in history["batches"]]
    local_losses = [batch["loss"] for batch in local_history["batches"]]
    np.testing.assert_allclose(losses, local_losses, rtol=1e-5, atol=0)
    for key, value in local.parameters().items():
        scale = float(np.abs(value).max())
        np.testing.assert_allclose(model.parameters()[key], value, rtol=0, atol=2e-5 * scale,
                                   err_msg=key)


def test_replica_processes_rerun_is_bit_identical():
    runs = []
    for _ in range(2):
        with ProcessTransport(1) as transport:
            model, parallel, history = train(transport)
            runs.append((history, parallel.lead.checksum(), transport.checksums()))
    assert runs[0] == runs[1]


def test_a_killed_replica_process_ends_the_run_with_the_last_completed_step_kept():
    pixels, labels = images(39, seed=3)
    model = build_model(SPEC, seed=1)
    model.compile(make_optimizer("adam", 0.01))
    with ProcessTransport(2) as transport:
        model.parallel = DataParallel(model, transport)
        events = iter(TrainingRun(model, pixels, labels, batch_size=13, epochs=1, seed=2))
        next(events), next(events)
        kept = Checkpoint(model)
        transport.processes[1].kill()  # replica 2: out of memory, say
        transport.processes[1].wait()
        with pytest.raises(ReplicaLost) as info:
            next(events)
        assert info.value.replica == 2
        for key, value in model.parameters().items():
            np.testing.assert_array_equal(value, kept.params[key], err_msg=key)
        assert model.optimizer.step_count == 2
        # The other replica answered and is still there; finishing says who is gone, no hang.
        assert transport.processes[0].poll() is None
        with pytest.raises(ReplicaLost, match="replica 2 was lost"):
            transport.finish()


def test_a_replica_process_that_fails_is_lost_not_waited_for(capfd):
    with ProcessTransport(1) as transport:
        transport.apply(Step(np.zeros(3, np.float32), 0.1))  # before any sync: it raises
        with pytest.raises(ReplicaLost):
            transport.finish()
    assert "before this replica was synced" in capfd.readouterr().err
