"""Counts the rounds a robust strategy defended less than configured.

Krum lowers f when a round brings fewer than f + 3 updates, and the trimmed mean
trims floor(beta x k) per side, which is 0 for small k: both keep training rather
than stall, so the run must say so (summary.json `weakened_rounds`, one warning at
the run's end) instead of reporting a defence it did not have.
"""

from __future__ import annotations

from typing import Any

from fedsim.fl.strategy import Strategy

__all__ = ["DefenceTally"]


class DefenceTally:
    """Fed every round's metrics; `count` is None for strategies with no defence knob."""

    def __init__(self, strategy: Any) -> None:
        overrides = isinstance(strategy, Strategy) and (
            type(strategy).weakened is not Strategy.weakened
        )
        self.strategy: Strategy | None = strategy if overrides else None
        self.count: int | None = 0 if overrides else None
        self.first: str | None = None

    def see(self, metrics: dict[str, float]) -> None:
        if self.strategy is None or self.count is None:
            return
        why = self.strategy.weakened(metrics)
        if why is not None:
            self.count += 1
            self.first = self.first or why

    def line(self, rounds: int) -> str:
        """The run's end warning (call only when `count` > 0)."""
        return (
            f"fl.strategy: {self.count} of {rounds} rounds ran with a weaker defence than "
            f"configured, e.g. {self.first} (rounds.csv krum_f / trimmed_per_side)"
        )
