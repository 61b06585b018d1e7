"""FedAvg (McMahan et al., 2017): the example-weighted mean of client models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedsim.fl.messages import Failure, RoundUpdates
from fedsim.fl.strategy import Strategy
from fedsim.kernels.aggregate import weighted_mean

__all__ = ["FedAvg"]


class FedAvg(Strategy):
    name = "fedavg"

    def aggregate(
        self,
        server_round: int,
        params: np.ndarray,
        updates: RoundUpdates,
        failures: Sequence[Failure],
    ) -> tuple[np.ndarray | None, dict[str, float]]:
        if len(updates) == 0:
            return None, {}
        out = np.empty_like(params)
        weighted_mean(updates.matrix, updates.weights, out)
        return out, {}
