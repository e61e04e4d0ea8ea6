"""Keras 3 optimisers over the engine's (`digitlab.nn.optim`): Adam and SGD.

Keras's names and defaults (`beta_1`, SGD's `momentum=0.0`, ...); the update itself is the
engine's, the one the page's `train()` uses (Adam as tfjs computes it). The engine optimiser
is made on first use and kept, so its state (Adam's moments) carries over from one `fit` to
the next, as in Keras. Arguments the engine has no counterpart for (weight decay, clipping,
EMA, amsgrad, nesterov) are refused by name.
"""

from __future__ import annotations

import math
from typing import Any

from digitlab.errors import ConfigError
from digitlab.keras._checks import CONFIG, one_of, only_default
from digitlab.nn import optim


def _rate(call: str, learning_rate: Any) -> float:
    number = isinstance(learning_rate, int | float) and not isinstance(learning_rate, bool)
    if not (number and math.isfinite(learning_rate) and learning_rate > 0):
        raise ConfigError("positive", field="learning_rate", value=learning_rate,
                          limits=[0, None], call=call)
    return float(learning_rate)


class Optimizer:
    """What Adam and SGD share: the learning rate, the refusals, the engine optimiser."""

    def __init__(self, learning_rate: float, name: str, weight_decay: Any = None,
                 clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None) -> None:
        call = type(self).__name__
        for field, value, default in (
                ("weight_decay", weight_decay, None), ("clipnorm", clipnorm, None),
                ("clipvalue", clipvalue, None), ("global_clipnorm", global_clipnorm, None),
                ("use_ema", use_ema, False), ("ema_momentum", ema_momentum, 0.99),
                ("ema_overwrite_frequency", ema_overwrite_frequency, None),
                ("loss_scale_factor", loss_scale_factor, None),
                ("gradient_accumulation_steps", gradient_accumulation_steps, None)):
            only_default(call, field, value, default, code=CONFIG)
        self._learning_rate = _rate(call, learning_rate)
        self.name = name
        self._engine: optim.Optimizer | None = None

    @property
    def engine(self) -> optim.Optimizer:
        """The engine optimiser that does the updates (made on first use, then kept)."""
        if self._engine is None:
            self._engine = self._make()
        return self._engine

    def _make(self) -> optim.Optimizer:
        raise NotImplementedError

    @property
    def learning_rate(self) -> float:
        return self._engine.learning_rate if self._engine is not None else self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = _rate(type(self).__name__, value)
        if self._engine is not None:
            self._engine.learning_rate = self._learning_rate

    @property
    def iterations(self) -> int:
        """Update steps taken so far."""
        return self._engine.step_count if self._engine is not None else 0

    @property
    def built(self) -> bool:
        """Whether it has state yet (Keras builds an optimiser on the first training step)."""
        return self.iterations > 0

    def variable_count(self) -> int:
        """Numbers in its variables, as Keras's summary counts them: the iteration counter, the
        learning rate and every slot (Adam's m and v, SGD's momentum)."""
        if not self.built:
            return 0
        return 2 + sum(slot.size for slot in self.engine.slots.values())

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate}

    @classmethod
    def wrap(cls, engine: optim.Optimizer) -> Optimizer:
        """A Keras-style front for an existing engine optimiser (the page's model's)."""
        if isinstance(engine, optim.SGD):
            front: Optimizer = SGD(engine.learning_rate, momentum=engine.momentum)
        else:
            front = Adam(engine.learning_rate, engine.beta1, engine.beta2, engine.epsilon)
        front._engine = engine
        return front


class Adam(Optimizer):
    """keras.optimizers.Adam."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, weight_decay: Any = None,
                 clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: str | None = None) -> None:
        super().__init__(learning_rate, name or "adam", weight_decay, clipnorm, clipvalue,
                         global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
                         loss_scale_factor, gradient_accumulation_steps)
        only_default("Adam", "amsgrad", amsgrad, False, code=CONFIG)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _make(self):
        return optim.Adam(self._learning_rate, self.beta_1, self.beta_2, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": False}


class SGD(Optimizer):
    """keras.optimizers.SGD (Keras's defaults: learning_rate 0.01, no momentum)."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: Any = None, clipnorm: Any = None,
                 clipvalue: Any = None, global_clipnorm: Any = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None,
                 name: str | None = None) -> None:
        super().__init__(learning_rate, name or "SGD", weight_decay, clipnorm, clipvalue,
                         global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
                         loss_scale_factor, gradient_accumulation_steps)
        only_default("SGD", "nesterov", nesterov, False, code=CONFIG)
        number = isinstance(momentum, int | float) and not isinstance(momentum, bool)
        if not (number and 0 <= momentum <= 1):
            raise ConfigError("fraction", field="momentum", value=momentum, limits=[0, 1],
                              call="SGD")
        self.momentum = float(momentum)

    def _make(self):
        # The engine's v = momentum * v + g; w -= lr * v is Keras's update for a fixed rate.
        return optim.SGD(self._learning_rate, self.momentum)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": False}


def get(identifier: str | Optimizer) -> Optimizer:
    """An optimiser instance or its Keras name ('adam', 'sgd'; 'Adam', 'SGD')."""
    if isinstance(identifier, Optimizer):
        return identifier
    names = {"adam": Adam, "sgd": SGD}
    key = identifier.lower() if isinstance(identifier, str) else identifier
    if key not in names:
        one_of("compile", "optimizer", identifier, [], code=CONFIG, shown=["adam", "sgd"])
    return names[key]()


__all__ = ["SGD", "Adam", "Optimizer", "get"]
