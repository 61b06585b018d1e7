"""FedAvgM (Hsu et al., 2019): server momentum on the FedAvg pseudo-gradient.

Momentum damps the oscillation that non-IID clients cause. The effective server
step is server_lr / (1 - momentum); the defaults keep it at 1, the plain FedAvg
step, so switching from FedAvg does not change the scale of a round's move.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedsim.fl.messages import Failure, RoundUpdates
from fedsim.fl.strategy import Strategy
from fedsim.kernels.aggregate import momentum_step, weighted_mean

__all__ = ["FedAvgM"]


class FedAvgM(Strategy):
    name = "fedavgm"

    def __init__(self, server_lr: float = 0.1, momentum: float = 0.9, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not server_lr > 0.0:
            raise ValueError(f"server_lr must be positive, got {server_lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.server_lr = float(server_lr)
        self.momentum = float(momentum)
        self.velocity: np.ndarray | None = None

    def aggregate(
        self,
        server_round: int,
        params: np.ndarray,
        updates: RoundUpdates,
        failures: Sequence[Failure],
    ) -> tuple[np.ndarray | None, dict[str, float]]:
        if len(updates) == 0:
            return None, {}
        avg = np.empty_like(params)
        weighted_mean(updates.matrix, updates.weights, avg)
        delta = avg - params
        if self.velocity is None or self.velocity.shape != params.shape:
            self.velocity = np.zeros_like(params)
        new = params.copy()
        momentum_step(new, delta, self.velocity, self.server_lr, self.momentum)
        return new, {}  # the engine records the step's norm (rounds.csv update_norm)
