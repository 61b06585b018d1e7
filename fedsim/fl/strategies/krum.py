"""Krum and Multi-Krum (Blanchard et al., 2017): keep the updates closest to their neighbours.

Each update is scored by the summed squared distance to its k-f-2 nearest
neighbours; m=1 returns the best update (Krum), m>1 the example-weighted mean of
the m best (Multi-Krum). Krum needs k >= f+3: when a round delivers fewer
updates, f is lowered to k-3 (rounds.csv `krum_f`; counted in summary.json
`weakened_rounds`, with a warning at the run's end) rather than stalling training,
and below 3 updates the plain weighted mean is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedsim.fl.messages import Failure, RoundUpdates
from fedsim.fl.strategy import Strategy
from fedsim.kernels.aggregate import krum_select, weighted_mean

__all__ = ["Krum"]


class Krum(Strategy):
    """`f`: Byzantine clients tolerated; `m`: updates averaged (1 = Krum)."""

    name = "krum"

    def __init__(self, f: int = 1, m: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(f) != f or f < 0:
            raise ValueError(f"f must be a non-negative integer, got {f}")
        if int(m) != m or m < 1:
            raise ValueError(f"m must be a positive integer, got {m}")
        self.f = int(f)
        self.m = int(m)

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
        weights = np.asarray(updates.weights, dtype=np.float64)
        if k < 3:
            weighted_mean(updates.matrix, weights, out)
            return out, {"krum_f": 0.0, "krum_selected": float(k)}
        f = min(self.f, k - 3)
        sel = krum_select(updates.matrix, f, min(self.m, k))
        if sel.shape[0] == 1:
            out[:] = updates.matrix[sel[0]]
        else:
            weighted_mean(np.ascontiguousarray(updates.matrix[sel]), weights[sel], out)
        metrics = {"krum_f": float(f), "krum_selected": float(sel.shape[0])}
        if sel.shape[0] == 1:
            metrics["krum_index"] = float(sel[0])
        return out, metrics

    def weakened(self, metrics: dict[str, float]) -> str | None:
        f = metrics.get("krum_f")
        if f is None or f >= self.f:
            return None
        return f"krum ran with f={int(f)} < fl.strategy.f={self.f} (needs reported >= f + 3)"
