"""Dropouts, one meaning everywhere: a selected client that did not report, with a cause.

Why a module: the engines count failures per client and per cause, rounds.csv counts them
per round, summary.json in total; these helpers turn a {cause: count} into clients.csv's
fixed per-cause columns and flag clients that are selected again and again and never
contribute (e.g. always the over-selected loser), which totals alone hide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fedsim.record.schema import (
    DROPOUT_CAUSES,
    NEVER_CONTRIBUTED_MIN_SELECTED,
    ClientRow,
    cause_column,
)

__all__ = ["by_known_cause", "dropout_cells", "never_contributed", "run_dropouts"]


def by_known_cause(causes: Mapping[str, int]) -> dict[str, int]:
    """{cause: count} with causes outside `DROPOUT_CAUSES` folded into `other`."""
    out: dict[str, int] = {}
    for cause, n in causes.items():
        key = cause if cause in DROPOUT_CAUSES else "other"
        out[key] = out.get(key, 0) + n
    return out


def dropout_cells(causes: Mapping[str, int]) -> dict[str, int]:
    """clients.csv's `dropouts` and `dropouts_<cause>` cells for one client."""
    cells = {cause_column(c): 0 for c in DROPOUT_CAUSES}
    for cause, n in causes.items():
        cells[cause_column(cause)] += n
    return {"dropouts": sum(causes.values()), **cells}


def never_contributed(clients: Iterable[ClientRow]) -> list[str]:
    """Clients selected at least `NEVER_CONTRIBUTED_MIN_SELECTED` times, never accepted."""
    return sorted(
        c.client
        for c in clients
        if c.rounds_selected >= NEVER_CONTRIBUTED_MIN_SELECTED and c.rounds_reported == 0
    )


def run_dropouts(by_round: Mapping[str, int], after_rounds: Mapping[str, int]) -> dict[str, int]:
    """summary.json `dropouts`: rounds.csv's `failed_causes` summed (`by_round`) plus the
    async dropouts after the last aggregation, in no round (`dropouts_after_rounds`)."""
    out = dict(by_round)
    for cause, n in after_rounds.items():
        out[cause] = out.get(cause, 0) + n
    return dict(sorted(out.items()))
