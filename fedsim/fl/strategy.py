"""The one abstract class users extend: a strategy makes pure decisions.

It chooses who trains with what instructions, and turns a round's results and
failures into a new global model. It never sends, awaits or sleeps; the round
engine owns time, deadlines and quorum (as Flower separates `Strategy` from its
server loop).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from fedsim.fl.messages import ClientInfo, Failure, RoundUpdates, TrainIns

__all__ = ["Strategy", "sample_clients"]


def sample_clients(
    clients: Sequence[ClientInfo], k: int, rng: np.random.Generator
) -> list[ClientInfo]:
    """Uniformly choose `k` clients (all of them if fewer), in a stable order."""
    ordered = sorted(clients, key=lambda c: c.client_id)
    if k >= len(ordered):
        return ordered
    idx = np.sort(rng.choice(len(ordered), size=k, replace=False))
    return [ordered[i] for i in idx]


class Strategy(ABC):
    """Configure a round; aggregate its updates. Subclasses hold only their own state."""

    name: str = "strategy"

    def __init__(
        self, clients_per_round: float = 1.0, over_selection: float = 0.0, **local: Any
    ) -> None:
        """`clients_per_round`: a count (>= 1) or a fraction of those online (< 1).

        `over_selection` asks that many more (0.3 = 30 %) so stragglers do not stall
        the round; the engine keeps the first `target_count` reports. `local` is the
        training configuration sent to clients (epochs, lr, batch_size, ...).
        """
        if clients_per_round <= 0:
            raise ValueError(f"clients_per_round must be positive, got {clients_per_round}")
        if over_selection < 0:
            raise ValueError(f"over_selection cannot be negative, got {over_selection}")
        self.clients_per_round = clients_per_round
        self.over_selection = over_selection
        self.local_config: dict[str, Any] = dict(local)

    def target_count(self, available: int) -> int:
        """How many reports the round wants."""
        if self.clients_per_round >= 1:
            return max(1, min(available, int(self.clients_per_round)))
        return max(1, min(available, round(self.clients_per_round * available)))

    def num_to_select(self, available: int) -> int:
        target = self.target_count(available)
        return min(available, math.ceil(target * (1.0 + self.over_selection)))

    def configure_round(
        self,
        server_round: int,
        model_version: int,
        clients: Sequence[ClientInfo],
        rng: np.random.Generator,
    ) -> list[tuple[ClientInfo, TrainIns]]:
        """Pick clients among `clients` (those online now) and give each its instructions."""
        chosen = sample_clients(clients, self.num_to_select(len(clients)), rng)
        ins = TrainIns(server_round, model_version, dict(self.local_config))
        return [(c, ins) for c in chosen]

    @abstractmethod
    def aggregate(
        self,
        server_round: int,
        params: np.ndarray,
        updates: RoundUpdates,
        failures: Sequence[Failure],
    ) -> tuple[np.ndarray | None, dict[str, float]]:
        """Return the candidate global model (or None to keep `params`) and metrics."""
