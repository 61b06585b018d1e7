"""A round's energy is what the devices had spent by its end, never more.

The ledger charges some energy ahead of the time it pays for (a booked window's or a
duty-cycle queue's airtime, a wait for the medium, a training at its start); a cut
and the run's end take back what had not been spent by then. A round that counted it
anyway showed energy the run never spent: energy to target above the run's total, and
an `after` row below zero (an outside audit's finding on lora_farm). So: no round row
and no `after` row is negative, the rounds' running total never exceeds the run's, and
when the last round closed at the run's end, the rounds add up to the run (`after` is
zero): the ledger closed at that instant to what the round counted
(`fedsim.net.spent_by`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, number

__all__ = ["round_energy_spent"]

NAME = "round-energy-spent"
_ABS_J = 1e-6
"""Joules of rounding a row may carry (ledger.csv writes nine decimals)."""
_REL = 1e-9


@invariant(
    NAME,
    "ledger.csv round energy is what the devices had spent by the round's end: no round "
    "or `after` row is negative, the rounds' running total never exceeds the run row, and "
    "when the last round closed at the run's end, `after` is zero",
    needs=("ledger", "rounds", "summary"),
)
def round_energy_spent(result: Any) -> Iterator[Violation]:
    ledger = list(getattr(result, "ledger", []) or [])
    run = [r for r in ledger if cell(r, "scope") == "run" and cell(r, "energy_j") is not None]
    rows = [r for r in ledger if cell(r, "scope") == "round" and cell(r, "direction") == "up"]
    if not run or not rows:
        return
    total = number(run[0], "energy_j")
    tol = _ABS_J * (len(rows) + 1) + _REL * abs(total)
    running = 0.0
    after = None
    over = False
    for row in rows:
        key, joules = str(cell(row, "key")), number(row, "energy_j")
        if key == "after":
            after = joules
        running += joules
        if joules < -tol:
            yield Violation(NAME, f"ledger.csv round {key!r}: energy_j {joules:.9g} is negative")
        if running > total + tol and not over:  # (the first round past it says it)
            over = True
            yield Violation(
                NAME,
                f"ledger.csv rounds through {key!r}: {running:.9g} J, more than the run's "
                f"{total:.9g} J (energy counted before it was spent)",
            )
    last = list(getattr(result, "rounds", []) or [])
    end = cell(result.summary, "sim_time_s")
    if after is None or not last or end is None:
        return
    if number(last[-1], "sim_time_s") == float(end) and abs(after) > tol:
        yield Violation(
            NAME,
            f"ledger.csv `after` energy_j {after:.9g}: the last round closed at the run's end "
            f"(t={float(end):g} s), so the rounds should add up to the run",
        )
