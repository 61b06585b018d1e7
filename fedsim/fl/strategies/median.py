"""Coordinate-wise median (Yin et al., 2018): robust to a minority of arbitrary updates.

Unweighted by design: weighting by claimed example counts would let a Byzantine
client buy influence by lying about its data size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedsim.fl.messages import Failure, RoundUpdates
from fedsim.fl.strategy import Strategy
from fedsim.kernels.aggregate import coordinate_median

__all__ = ["Median"]


class Median(Strategy):
    name = "median"

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
        coordinate_median(updates.matrix, out)
        return out, {}
