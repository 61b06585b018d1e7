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
from fedsim.fl.selection import DEFAULT_FLOOR, Selection, sample_clients

__all__ = ["Strategy", "sample_clients", "step_norm"]


def step_norm(candidate: np.ndarray, params: np.ndarray) -> float:
    """L2 norm of the step from `params` to `candidate` as the server deploys it (float32),
    summed in float64: rounds.csv `update_norm`, one meaning for every strategy and
    engine, computed by the engines from the models before and after, never reported by
    a strategy (whose pseudo-gradient, before server_lr, momentum or Adam, is no step)."""
    new = np.asarray(candidate, dtype=np.float32).astype(np.float64)
    return float(np.linalg.norm(new - np.asarray(params, dtype=np.float64)))


class Strategy(ABC):
    """Configure a round; aggregate its updates. Subclasses hold only their own state."""

    name: str = "strategy"

    def __init__(
        self,
        clients_per_round: float = 1.0,
        over_selection: float = 0.0,
        selection: str = "uniform",
        selection_floor: float = DEFAULT_FLOOR,
        **local: Any,
    ) -> None:
        """`clients_per_round`: a count (>= 1) or a fraction of those online (< 1).

        `over_selection` asks that many more (0.3 = 30 %) so stragglers do not stall
        the round; the engine keeps the first `target_count` reports. `selection`
        is how `configure_round` picks them: `uniform` or `reliability` (weighted by
        each client's report rate, at least `selection_floor`; fedsim.fl.selection).
        `local` is the training configuration sent to clients (epochs, lr, ...).
        """
        if clients_per_round <= 0:
            raise ValueError(f"clients_per_round must be positive, got {clients_per_round}")
        if over_selection < 0:
            raise ValueError(f"over_selection cannot be negative, got {over_selection}")
        self.clients_per_round = clients_per_round
        self.over_selection = over_selection
        self.selection = Selection(selection, float(selection_floor))
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
        chosen = self.selection.choose(clients, self.num_to_select(len(clients)), rng)
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

    def weakened(self, metrics: dict[str, float]) -> str | None:
        """Why a round's aggregation (its `metrics`) defended less than configured, or
        None; robust strategies override it so a silently weaker round is counted."""
        return None
