"""The contract between what is learned (a task) and the FL stack that federates it.

A task knows its data or environments and its model; the FL client only asks a
`LocalLearner` to train from given parameters, and the server only asks an
`Evaluator` to score parameters. Parameters are always one flat float32 vector.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["Evaluator", "LocalLearner", "Task"]


class LocalLearner(Protocol):
    """One device's local training, bound to that device's data or environment."""

    num_examples: int
    """Weight of this device's update (examples, episodes or steps)."""

    def work(self, config: dict[str, Any]) -> float:
        """Floating-point operations that `train(config)` will cost (charged to the device).

        A learner whose cost depends on what training did (RL episodes that end early)
        also has `work_done(config, metrics) -> float`, the FLOPs of the training that
        returned `metrics`: the client then trains first and charges that (`work` is
        then only an upper bound)."""
        ...

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Train from `params` (not modified); return new params and local metrics."""
        ...

    # Optional, not part of the protocol's required members: a learner that can score a
    # model on its own data has `evaluate(params) -> dict[str, float]` (it enables
    # `fl.local.federated_eval`) and then should have `evaluate_work() -> float`, the
    # FLOPs of one `evaluate`. With federated evaluation on, the client charges it before
    # each training, as device time and compute energy like training's `work`: scoring
    # is a forward pass over the device's data, not free. A learner without it is scored
    # for nothing (the run warns at its start, naming the task).


class Evaluator(Protocol):
    """Server-side scoring of a candidate global model."""

    metric_name: str
    higher_is_better: bool

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        """Return metrics; must contain `metric_name`."""
        ...


class Task(Protocol):
    """What the federation learns: initial model, per-device learners, an evaluator."""

    name: str
    metric_name: str

    def initial_params(self) -> np.ndarray: ...

    def learner(self, client_index: int) -> LocalLearner: ...

    def evaluator(self) -> Evaluator: ...
