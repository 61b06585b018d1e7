"""Why a run ended: one vocabulary for both round engines and the results.

A sweep runs unattended, so a run that stops before its rounds are done must say
why, in summary.json (`end_reason`, `end_note`) and on stderr. Two reasons are the
run finishing its job; the others end it early.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EARLY", "END_REASONS", "RunEnd"]

END_REASONS: dict[str, str] = {
    "rounds": "every round of `fl.rounds` was run",
    "target": "the deployed model reached `fl.target`",
    "time_limit": "`fl.time_limit` ran out (a round still open then was closed at the limit; "
    "who had not reported by then is a `time_limit` dropout)",
    "devices_lost": "fewer devices can ever be online again than a round needs "
    "(`fl.min_available`; async: one), and nothing scheduled brings one back",
    "stall_limit": "no round closed for `fl.stall_limit` of simulated time",
    "no_events": "nothing was left to happen: no event scheduled, no work pending",
}
"""`end_reason` values and what each means (docs/results.md)."""

EARLY = frozenset(END_REASONS) - {"rounds", "target"}
"""Reasons that end a run before its job is done: each is warned about."""


@dataclass(frozen=True)
class RunEnd:
    """How and when a run ended; `note` says it in a sentence (None: nothing to add)."""

    reason: str
    at_s: float
    note: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in END_REASONS:
            raise ValueError(f"unknown end reason {self.reason!r}")

    @property
    def early(self) -> bool:
        return self.reason in EARLY
