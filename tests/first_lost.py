"""A loss model for tests that loses one chosen packet: the first that crosses it."""

from __future__ import annotations

import numpy as np


class FirstLost:
    """Loses the first packet that crosses it, then nothing."""

    mean_rate = 0.5  # (lossy: the fidelities draw fates)

    def __init__(self) -> None:
        self.seen = 0

    def drop(self, rng: np.random.Generator) -> bool:
        self.seen += 1
        return self.seen == 1

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        fates = np.zeros(n, dtype=bool)
        if self.seen == 0 and n:
            fates[0] = True
        self.seen += n
        return fates
