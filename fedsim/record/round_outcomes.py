"""What became of a round's uploads: deployed, refused by the gate, never aggregated, or
none came.

Why: `accepted = 0` in rounds.csv covers four different events, and a figure that marks
them alike says "the gate rejected an update" for a round in which no update existed.
"""

from __future__ import annotations

from fedsim.record.schema import RoundRow

__all__ = ["OUTCOMES", "aggregated_uploads", "discarded_uploads", "round_outcome"]

OUTCOMES = {
    "deployed": "the gate deployed the aggregate",
    "gate_rejected": "rejected by the gate",
    "no_aggregate": "no aggregate (quorum missed or aggregation error)",
    "no_update": "no update (nothing reported)",
}
"""Each outcome and how a figure's legend names it."""


def aggregated_uploads(row: RoundRow) -> int:
    """Uploads aggregated; an older rounds.csv without the column: all reported ones if
    the round made a candidate model (it has a candidate metric or was deployed)."""
    if row.aggregated is not None:
        return int(row.aggregated)
    made = row.accepted or row.candidate_metric is not None
    return int(row.reported or 0) if made else 0


def discarded_uploads(row: RoundRow) -> int:
    """Uploads the server stored for the round but did not aggregate."""
    return max(0, int(row.reported or 0) - aggregated_uploads(row))


def round_outcome(row: RoundRow) -> str:
    """One key of `OUTCOMES`."""
    if row.accepted:
        return "deployed"
    if aggregated_uploads(row) > 0:
        return "gate_rejected"
    if (row.reported or 0) > 0:
        return "no_aggregate"
    return "no_update"
