"""The controller's side of data-parallel training: how many workers a run uses, the state
that says so, the replicas' checksums, and a worker lost mid-run (WORKER_LOST, the last
completed batch kept). The team here holds its replicas in this process (LocalTransport), so
every figure is exact: the same arithmetic a page's workers do."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.nn.parallel import LocalTransport, ReplicaLost, ShardResult
from digitlab.nn.zoo import TUTORIAL_SPEC
from digitlab.schema import MAX_WORKERS
from digitlab.web import controller as controller_module
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot

# 240 images in batches of 60: 4 batches; two epochs.
RUN = {"trainSize": 240, "validationSize": 40, "epochs": 2, "batchSize": 60, "seed": 5}


class LosingTransport(LocalTransport):
    """LocalTransport whose replica `replica` is lost at the `at`-th gather (from 1)."""

    def __init__(self, size: int, replica: int | None, at: int) -> None:
        super().__init__(size)
        self.replica, self.at, self.gathers = replica, at, 0

    def gather(self) -> list[ShardResult]:
        self.gathers += 1
        if self.replica is not None and self.gathers == self.at:
            self.queue, self.results = [], {}
            raise ReplicaLost(self.replica)
        return super().gather()


class LocalTeam:
    """A Team (web/team.py) of in-process replicas; `booting_fails` replicas never boot."""

    supported = parallel = True

    def __init__(self, booting_fails: int = 0) -> None:
        self.booting_fails = booting_fails
        self.lose: tuple[int, int] | None = None  # (replica, at which gather) for the next run
        self.current: LocalTransport | None = None
        self.lost = 0

    async def ready(self, count: int) -> int:
        return max(0, count - self.booting_fails)

    def transport(self, size: int) -> LocalTransport:
        replica, at = self.lose or (None, 0)
        self.lose = None
        self.current = LosingTransport(size, replica, at)
        return self.current

    def info(self) -> dict:
        ready = len(self.current.replicas) if self.current else 0
        return {"ready": ready, "booting": 0, "lost": self.lost, "exchange": "messages"}

    async def replicas(self) -> list[dict]:
        replicas = self.current.replicas if self.current else []
        return [{"checksum": r.checksum(), "wasmHeapBytes": None} for r in replicas]


def booted(synthetic_sprite: bytes, team: LocalTeam | None = None, cores: int = 2) -> Lab:
    lab = Lab({"cores": cores}, team)
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    return lab


def weights_of(lab: Lab) -> dict[str, np.ndarray]:
    return {key: value.copy() for key, value in lab.controller.model.parameters().items()}


def workers_state(lab: Lab) -> dict:
    return [m for m in lab.posted if m["type"] == "state"][-1]["state"]["workers"]


def test_without_a_team_every_run_uses_one_worker(synthetic_sprite: bytes) -> None:
    lab = booted(synthetic_sprite)
    assert lab.call("train", {**RUN, "workers": 2})["ok"]
    assert workers_state(lab) == {"requested": 2, "active": 1, "ready": 1, "booting": 0,
                                  "lost": 0, "cores": 2, "parallel": False, "exchange": None}


def test_auto_uses_the_cores_while_each_shard_is_worth_it(synthetic_sprite: bytes,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lab = booted(synthetic_sprite, LocalTeam(), cores=8)
    model = controller_module.model_from("tutorial")
    workers_for = lab.controller.workers_for
    flops = model.flops_per_image()
    assert workers_for("auto", model, 8192) == controller_module.AUTO_WORKERS  # never all 8
    assert workers_for("auto", model, 1) == 1
    assert workers_for(3, model, 1) == 3  # a count asked for is a count given
    # Just at the threshold: 2 shards are worth it, 3 are not.
    monkeypatch.setattr(controller_module, "MIN_SHARD_FLOPS", 100 * flops)
    assert workers_for("auto", model, 200) == 2
    assert workers_for("auto", model, 199) == 1
    lab.controller.settings["cores"] = 1
    assert workers_for("auto", model, 8192) == 1
    assert controller_module.AUTO_WORKERS <= MAX_WORKERS


def test_two_workers_train_identical_replicas(synthetic_sprite: bytes) -> None:
    lab = booted(synthetic_sprite, LocalTeam())
    assert lab.call("train", {**RUN, "workers": 2})["ok"]
    state = workers_state(lab)
    assert (state["active"], state["ready"], state["parallel"]) == (2, 2, True)
    replicas = lab.call("replicas")["value"]
    assert [r["worker"] for r in replicas] == [1, 2]
    assert replicas[0]["checksum"] == replicas[1]["checksum"]
    assert lab.controller.model.parallel is None  # the run is over: the lead trains alone


def test_a_replica_that_fails_to_boot_leaves_fewer_workers(synthetic_sprite: bytes) -> None:
    lab = booted(synthetic_sprite, LocalTeam(booting_fails=1))
    assert lab.call("train", {**RUN, "workers": 3})["ok"]
    assert workers_state(lab)["active"] == 2


# With Dropout the lost batch's masks must be undrawn too, or Continue would draw others.
WITH_DROPOUT = [*TUTORIAL_SPEC[:-1], {"type": "dropout", "rate": 0.25}, TUTORIAL_SPEC[-1]]


@pytest.mark.parametrize("model", ["tutorial", WITH_DROPOUT], ids=["tutorial", "dropout"])
def test_a_lost_worker_stops_the_run_at_its_last_completed_batch(synthetic_sprite: bytes,
                                                                 model: str | list) -> None:
    reference = booted(synthetic_sprite, LocalTeam())
    assert reference.call("train", {**RUN, "model": model, "workers": 2})["ok"]
    team = LocalTeam()
    lab = booted(synthetic_sprite, team)
    team.lose = (1, 3)  # replica 1 (worker 2) lost in the third batch
    lost = lab.call("train", {**RUN, "model": model, "workers": 2})
    assert (lost["ok"], lost["code"], lost["reason"]) == (False, "WORKER_LOST", "lost")
    assert (lost["worker"], lost["workers"], lost["epoch"], lost["batch"]) == (2, 2, 1, 3)
    assert "worker 2 of 2" in lost["message"] and "Continue" in lost["message"]
    run = lab.call("state")["value"]["run"]
    assert run["stopped"] and (run["epoch"], run["batch"]) == (1, 2)
    assert lab.controller.model.parallel is None and not lab.controller.training
    # Continue ends exactly where the uninterrupted run did: the lead kept batch 2's weights.
    assert lab.call("train", {"continue": True, "workers": 2})["ok"]
    for key, value in weights_of(reference).items():
        np.testing.assert_array_equal(weights_of(lab)[key], value, err_msg=key)


# ---------------------------------------------------------------- web/team.py's transport

class Typed:
    """A JS typed array as Pyodide shows one: a length, and a copy out into an array."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array.copy()
        self.length = array.size

    def assign_to(self, out: np.ndarray) -> None:
        out[...] = self.array


class Answer:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


class FakeJsTeam:
    """js/team.js's methods, answering at once (wait() is then the identity)."""

    def __init__(self, lost_at_gather: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.lost_at_gather = lost_at_gather

    def sync(self, *args: object) -> list:
        self.calls.append(("sync", *args))
        return []

    def send(self, *args: object) -> None:
        self.calls.append(("send", *args))

    def gather(self) -> object:
        if self.lost_at_gather is not None:
            return Answer(lost=self.lost_at_gather)
        pixels = self.calls[-1][2].array
        return [Answer(gradient=Typed(np.full(3, pixels.sum(), np.float32)), loss=0.5,
                       correct=2)]

    def apply(self, *args: object) -> None:
        self.calls.append(("apply", *args))

    def finish(self) -> list:
        self.calls.append(("finish",))
        return []


def test_the_browser_transport_sends_shards_as_bytes_and_reads_gradients() -> None:
    from digitlab.nn.parallel import Step
    from digitlab.web.team import BrowserTransport

    team = FakeJsTeam()
    transport = BrowserTransport(team, 1, lambda answer: answer, Typed)
    transport.sync({"weights": b"\x01\x02", "dropout": "{}", "backend": "numpy"})
    assert team.calls[0][0:2] == ("sync", 1) and team.calls[0][2].array.tolist() == [1, 2]
    pixels = np.arange(6, dtype=np.uint8).reshape(2, 3)
    transport.send(1, pixels, np.array([4, 9]), 2, 4)
    _, replica, sent_pixels, sent_labels, start, total = team.calls[1]
    assert (replica, start, total) == (1, 2, 4)
    assert sent_pixels.array.tolist() == list(range(6)) and sent_labels.array.tolist() == [4, 9]
    (result,) = transport.gather()
    assert result.gradient.tolist() == [15, 15, 15] and (result.loss, result.correct) == (0.5, 2)
    transport.apply(Step(np.array([1, 2, 3], np.float32), 0.01))
    _, gradient, rate = team.calls[2]
    assert gradient.array.dtype == np.float32 and gradient.array.tolist() == [1, 2, 3]
    assert rate == 0.01
    transport.finish()
    assert team.calls[3] == ("finish",)


def test_the_browser_transport_turns_a_lost_answer_into_replica_lost() -> None:
    from digitlab.web.team import BrowserTransport

    transport = BrowserTransport(FakeJsTeam(lost_at_gather=1), 1, lambda answer: answer, Typed)
    with pytest.raises(ReplicaLost) as lost:
        transport.gather()
    assert lost.value.replica == 1
