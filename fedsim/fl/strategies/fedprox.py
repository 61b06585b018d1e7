"""FedProx (Li et al., 2020): FedAvg aggregation; clients add (mu/2)||w - w_global||^2."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedsim.fl.messages import ClientInfo, TrainIns
from fedsim.fl.strategies.fedavg import FedAvg

__all__ = ["FedProx"]


class FedProx(FedAvg):
    """The server side differs from FedAvg only in telling clients `mu`."""

    name = "fedprox"

    def __init__(self, mu: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not mu >= 0.0:
            raise ValueError(f"mu must be non-negative, got {mu}")
        self.mu = float(mu)

    def configure_round(
        self,
        server_round: int,
        model_version: int,
        clients: Sequence[ClientInfo],
        rng: np.random.Generator,
    ) -> list[tuple[ClientInfo, TrainIns]]:
        chosen = super().configure_round(server_round, model_version, clients, rng)
        return [
            (c, TrainIns(ins.server_round, ins.model_version, {**ins.config, "mu": self.mu}))
            for c, ins in chosen
        ]
