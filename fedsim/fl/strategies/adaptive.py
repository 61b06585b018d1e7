"""FedOpt (Reddi et al., 2021): adaptive server optimizers on the FedAvg pseudo-gradient.

The base class for FedAdam, FedYogi and FedAdagrad, which differ only in the
second-moment rule (`variant`) and defaults. State (m, v) is created on the
first aggregate, when the model size is known: m = 0, v = tau^2 (the paper's
v_{-1} >= tau^2). State advances even if the engine later rejects the
candidate, as in the paper, where every round's pseudo-gradient is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from fedsim.fl.messages import Failure, RoundUpdates
from fedsim.fl.strategy import Strategy
from fedsim.kernels.aggregate import adaptive_step, weighted_mean

__all__ = ["AdaptiveServerOpt"]


class AdaptiveServerOpt(Strategy):
    """x += server_lr * m / (sqrt(v) + tau), with delta = weighted mean of clients - x."""

    name = "fedopt"
    variant: ClassVar[int] = 0

    def __init__(
        self,
        server_lr: float = 1e-2,
        beta1: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not server_lr > 0.0:
            raise ValueError(f"server_lr must be positive, got {server_lr}")
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"beta1 must be in [0, 1), got {beta1}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"beta2 must be in [0, 1), got {beta2}")
        if not tau > 0.0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.server_lr = float(server_lr)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.tau = float(tau)
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

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
        if self.m is None or self.v is None or self.m.shape != params.shape:
            self.m = np.zeros_like(params)
            self.v = np.full_like(params, self.tau * self.tau)
        new = params.copy()
        adaptive_step(
            new,
            delta,
            self.m,
            self.v,
            self.server_lr,
            self.beta1,
            self.beta2,
            self.tau,
            self.variant,
        )
        return new, {}  # the engine records the step's norm (rounds.csv update_norm)
