"""Per-packet (or per-message) extra one-way delay, implementing `Jitter`.

Jitter here never reorders a byte stream: a TCP connection is one ordered stream,
so both fidelities deliver in order per direction (delivery = max(own time,
previous delivery)), which is what a receiver's reassembly does. Jittered
packets of *different* connections may overtake each other. Samples are
non-negative: the link's latency is the floor, jitter only adds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NormalJitter", "ParetoJitter", "UniformJitter"]


class UniformJitter:
    """Extra delay uniform on [low, high] seconds."""

    __slots__ = ("high", "low")

    def __init__(self, high: float, low: float = 0.0) -> None:
        if not 0.0 <= low <= high:
            raise ValueError(f"uniform jitter needs 0 <= low <= high, got {low!r}, {high!r}")
        self.low, self.high = float(low), float(high)

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


class NormalJitter:
    """Extra delay N(mean, std) truncated at 0 (negative draws become 0, as netem clips)."""

    __slots__ = ("mean_s", "std")

    def __init__(self, std: float, mean: float = 0.0) -> None:
        if std < 0.0:
            raise ValueError(f"jitter std must be >= 0, got {std!r}")
        self.mean_s, self.std = float(mean), float(std)

    def sample(self, rng: np.random.Generator) -> float:
        return max(0.0, float(rng.normal(self.mean_s, self.std)))


class ParetoJitter:
    """Heavy-tailed extra delay: Pareto (Lomax) with shape `alpha` and scale `scale` s.

    Mean is scale / (alpha - 1) for alpha > 1; rare large delays model bufferbloat
    and radio retries.
    """

    __slots__ = ("alpha", "scale")

    def __init__(self, scale: float, alpha: float = 2.5) -> None:
        if scale < 0.0 or alpha <= 0.0:
            raise ValueError(f"Pareto jitter needs scale >= 0, alpha > 0; got {scale}, {alpha}")
        self.scale, self.alpha = float(scale), float(alpha)

    @property
    def mean(self) -> float:
        return self.scale / (self.alpha - 1.0) if self.alpha > 1.0 else float("inf")

    def sample(self, rng: np.random.Generator) -> float:
        return self.scale * float(rng.pareto(self.alpha))
