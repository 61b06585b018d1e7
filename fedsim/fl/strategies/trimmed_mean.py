"""Coordinate-wise trimmed mean (Yin et al., 2018): drop the beta tails, average the rest.

Unweighted, like the median, so example counts cannot be used to gain influence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedsim.fl.messages import Failure, RoundUpdates
from fedsim.fl.strategy import Strategy
from fedsim.kernels.aggregate import trimmed_mean

__all__ = ["TrimmedMean"]


class TrimmedMean(Strategy):
    """`beta`: fraction trimmed from each side per coordinate; set it >= the Byzantine fraction."""

    name = "trimmed_mean"

    def __init__(self, beta: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= beta < 0.5:
            raise ValueError(f"beta must be in [0, 0.5), got {beta}")
        self.beta = float(beta)

    def aggregate(
        self,
        server_round: int,
        params: np.ndarray,
        updates: RoundUpdates,
        failures: Sequence[Failure],
    ) -> tuple[np.ndarray | None, dict[str, float]]:
        k = len(updates)
        if k == 0:
            return None, {}
        out = np.empty_like(params)
        trimmed_mean(updates.matrix, self.beta, out)
        return out, {"trimmed_per_side": float(int(np.floor(self.beta * k)))}

    def weakened(self, metrics: dict[str, float]) -> str | None:
        trimmed = metrics.get("trimmed_per_side")
        if trimmed is None or trimmed > 0 or self.beta == 0:
            return None
        return f"trimmed_mean trimmed nothing (floor(beta={self.beta:g} x reported) = 0)"
