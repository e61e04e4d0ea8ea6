"""Optimisers that update parameters in place, with saveable state.

Both identify a parameter by "<layer name>/<param>", the same key the weights file uses, so the
state can be saved next to the weights and restored for `continue`.
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    kind = "optimizer"

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = float(learning_rate)
        self.step_count = 0
        self.slots: dict[str, np.ndarray] = {}  # "<param key>/<slot name>" -> array

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array in `params` in place from `grads` (same keys)."""
        self.step_count += 1
        for key, param in params.items():
            self._update(key, param, grads[key].astype(param.dtype, copy=False))

    def _slot(self, key: str, name: str, like: np.ndarray) -> np.ndarray:
        slot = self.slots.get(f"{key}/{name}")
        if slot is None or slot.shape != like.shape:
            slot = self.slots[f"{key}/{name}"] = np.zeros_like(like)
        return slot

    def _update(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        """A deep copy: {"type", "learning_rate", "step", "slots": {key: array}}."""
        return {
            "type": self.kind,
            "learning_rate": self.learning_rate,
            "step": self.step_count,
            "slots": {k: v.copy() for k, v in self.slots.items()},
        }

    def load_state(self, state: dict) -> None:
        self.learning_rate = float(state["learning_rate"])
        self.step_count = int(state["step"])
        self.slots = {k: np.array(v, dtype=np.float32) for k, v in state["slots"].items()}


class Adam(Optimizer):
    """tf.train.adam: lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7 added outside the sqrt."""

    kind = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def _update(self, key, param, grad):
        m = self._slot(key, "m", param)
        v = self._slot(key, "v", param)
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        # Bias corrections folded into one step size, as tfjs does with its accumulated betas.
        t = self.step_count
        m_hat_scale = 1.0 / (1.0 - self.beta1**t)
        v_hat_scale = 1.0 / (1.0 - self.beta2**t)
        param -= self.learning_rate * m_hat_scale * m / (np.sqrt(v * v_hat_scale) + self.epsilon)


class SGD(Optimizer):
    """SGD with classic momentum, tf.train.momentum style: v = momentum*v + g; w -= lr*v.

    Default momentum 0.9: plain SGD at lr 0.001 (the UI default) barely moves in 10 epochs;
    momentum 0.9 acts like a 10x larger step once it builds up. momentum=0 gives plain SGD.
    """

    kind = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.momentum = float(momentum)

    def _update(self, key, param, grad):
        if self.momentum == 0.0:
            param -= self.learning_rate * grad
            return
        velocity = self._slot(key, "velocity", param)
        velocity *= self.momentum
        velocity += grad
        param -= self.learning_rate * velocity

    def state(self):
        return {**super().state(), "momentum": self.momentum}

    def load_state(self, state):
        super().load_state(state)
        self.momentum = float(state.get("momentum", self.momentum))


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name: str, learning_rate: float = 0.001) -> Optimizer:
    """'adam' or 'sgd' with the given learning rate."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learningRate must be a positive number, got {learning_rate!r}")
    return OPTIMIZERS[name](learning_rate)


def optimizer_from_state(state: dict) -> Optimizer:
    """Rebuild an optimiser from `Optimizer.state()` (e.g. as read from a weights file)."""
    optimizer = make_optimizer(state["type"], state["learning_rate"])
    optimizer.load_state(state)
    return optimizer
