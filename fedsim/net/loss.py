"""Packet loss models: Bernoulli and Gilbert-Elliott (netem's parameters).

Both implement the `LossModel` protocol of `fedsim.net.link` (`drop(rng)`,
`mean_rate`) and add a vectorised `draw(rng, n)` that the flow fidelity uses to
decide the fate of a whole window of segments in one call.

Gilbert-Elliott is a two-state Markov chain evaluated once per packet, exactly as
Linux netem's `loss gemodel p r 1-h 1-k`: first the state moves (good->bad with
probability p, bad->good with r), then the packet is lost with probability
`one_minus_h` in the bad state or `one_minus_k` in the good state. The state is
kept in the object, so a model instance belongs to one direction of one link.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Bernoulli", "GilbertElliott"]


class Bernoulli:
    """Each packet is lost independently with probability `p`."""

    __slots__ = ("p",)

    def __init__(self, p: float) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"loss probability must lie in [0, 1], got {p!r}")
        self.p = float(p)

    @property
    def mean_rate(self) -> float:
        return self.p

    def mean_burst_length(self) -> float:
        """Mean run of consecutive losses: 1 / (1 - p)."""
        return float("inf") if self.p >= 1.0 else 1.0 / (1.0 - self.p)

    def drop(self, rng: np.random.Generator) -> bool:
        return self.p > 0.0 and bool(rng.random() < self.p)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Fates of the next `n` packets (True = lost)."""
        if self.p <= 0.0:
            return np.zeros(n, dtype=bool)
        return rng.random(n) < self.p

    def __repr__(self) -> str:
        return f"Bernoulli(p={self.p})"


class GilbertElliott:
    """Bursty loss: a good/bad Markov chain (netem `gemodel p r 1-h 1-k`)."""

    __slots__ = ("bad", "one_minus_h", "one_minus_k", "p", "r")

    def __init__(
        self,
        p: float,
        r: float,
        one_minus_h: float = 1.0,
        one_minus_k: float = 0.0,
        *,
        bad: bool = False,
    ) -> None:
        for name, v in (("p", p), ("r", r), ("1-h", one_minus_h), ("1-k", one_minus_k)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"Gilbert-Elliott {name} must lie in [0, 1], got {v!r}")
        if p + r <= 0.0:
            raise ValueError("Gilbert-Elliott needs p + r > 0 (the chain must move)")
        self.p, self.r = float(p), float(r)
        self.one_minus_h, self.one_minus_k = float(one_minus_h), float(one_minus_k)
        self.bad = bad

    @property
    def stationary_bad(self) -> float:
        """Long-run fraction of packets seen in the bad state: p / (p + r)."""
        return self.p / (self.p + self.r)

    @property
    def mean_rate(self) -> float:
        """Stationary loss rate: pi_bad (1-h) + pi_good (1-k)."""
        pb = self.stationary_bad
        return pb * self.one_minus_h + (1.0 - pb) * self.one_minus_k

    def mean_burst_length(self) -> float:
        """Mean run of consecutive losses.

        For the classic Gilbert model (1-h = 1, 1-k = 0) this is 1/r, the mean stay in
        the bad state. In general it is 1 / P(next packet kept | this one lost), from
        the two-step chain: the loss run ends when the next packet survives.
        """
        pb = self.stationary_bad
        lb, lg = self.one_minus_h, self.one_minus_k
        lost = pb * lb + (1 - pb) * lg
        if lost <= 0.0:
            return 0.0
        # P(state after a loss), then P(next lost | that state).
        post_b = pb * lb / lost
        nxt_b = post_b * (1 - self.r) + (1 - post_b) * self.p
        p_next_lost = nxt_b * lb + (1 - nxt_b) * lg
        return float("inf") if p_next_lost >= 1.0 else 1.0 / (1.0 - p_next_lost)

    def drop(self, rng: np.random.Generator) -> bool:
        u = rng.random(2)
        if self.bad:
            self.bad = not (u[0] < self.r)
        else:
            self.bad = bool(u[0] < self.p)
        return bool(u[1] < (self.one_minus_h if self.bad else self.one_minus_k))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Fates of the next `n` packets (True = lost), advancing the chain.

        Vectorised by sojourns: state runs are geometric, so the chain is built from
        run lengths rather than one transition per packet.
        """
        if n <= 0:
            return np.zeros(0, dtype=bool)
        states = np.empty(n, dtype=bool)
        cur = self.bad
        stay = self._run(rng, cur) - 1  # packets left in the current state
        i = 0
        while True:
            k = min(stay, n - i)
            states[i : i + k] = cur
            i += k
            if i >= n:
                break
            cur = not cur
            stay = self._run(rng, cur)  # a fresh run in the new state, >= 1 packet
        self.bad = bool(states[-1])
        u = rng.random(n)
        thresh = np.where(states, self.one_minus_h, self.one_minus_k)
        return u < thresh

    def _run(self, rng: np.random.Generator, bad: bool) -> int:
        """Length of a run in a state: geometric in the probability of leaving it."""
        leave = self.r if bad else self.p
        if leave <= 0.0:
            return 1 << 62
        return int(rng.geometric(leave))

    def __repr__(self) -> str:
        return (
            f"GilbertElliott(p={self.p}, r={self.r}, 1-h={self.one_minus_h}, "
            f"1-k={self.one_minus_k})"
        )
