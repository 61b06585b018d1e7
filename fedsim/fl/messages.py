"""The dataclasses that are the contract between server, strategies and clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ClientInfo", "Failure", "RoundUpdates", "TrainIns", "TrainRes"]


@dataclass
class ClientInfo:
    """What the server knows of a registered client."""

    client_id: str
    num_examples: int
    device: str = ""
    polls: int = 0
    """Times the client asked for work (availability evidence)."""
    rounds_selected: int = 0
    """Tasks handed to the client (every selection, over-selected ones too)."""
    rounds_reported: int = 0
    """Of those, the accepted uploads that a round aggregated (async: counted when the
    buffer holding them is aggregated)."""
    rounds_failed: int = 0
    """Of those, the failures a round recorded (any cause). Over-selected leftovers of
    a round that filled up count as neither: the round did not need them, so their
    lateness says nothing against them (`reliability` selection)."""
    dropouts: dict[str, int] = field(default_factory=dict)
    """`rounds_failed` by cause: the failures the rounds recorded (results: clients.csv)."""
    rounds_surplus: int = 0
    """Selections that were neither reported nor failed: over-selected leftovers of a round
    that filled up, or (async) tasks, updates and failures after the last aggregation."""
    totals: dict[str, float] = field(default_factory=dict)
    """Sums of counted metrics over accepted uploads (RL `episodes`, `steps`)."""

    def add_failure(self, cause: str) -> None:
        """Count one failure a round recorded for this client."""
        self.rounds_failed += 1
        self.dropouts[cause] = self.dropouts.get(cause, 0) + 1

    def add_totals(self, metrics: dict[str, float]) -> None:
        for key in ("episodes", "steps"):
            if key in metrics:
                self.totals[key] = self.totals.get(key, 0.0) + metrics[key]


@dataclass(frozen=True)
class TrainIns:
    """Instructions for one client in one round."""

    server_round: int
    model_version: int
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainRes:
    """One accepted upload. `params` is the client's full new model (codecs decoded)."""

    client_id: str
    server_round: int
    base_version: int
    num_examples: int
    params: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A selected client that did not contribute, and why (`deadline`, `aborted`, ...)."""

    client_id: str
    server_round: int
    cause: str


@dataclass
class RoundUpdates:
    """The accepted uploads of a round, stacked for the kernels.

    Row i of `matrix` is `results[i].params`; `weights[i]` is its example count.
    The matrix is preallocated by the engine, so strategies never `np.stack`.
    """

    results: list[TrainRes]
    matrix: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.results)
