"""Whether compare may set one run's totals against another's: how many clients each
round asks.

Why: the totals only the asked clients make (model bytes, dropouts) grow with the clients
a round asks, not with the devices registered. Two runs with `fl.clients_per_round: 2`
over 3 and 2 devices ask 2 clients a round each, so those totals compare as they are
(redteam8, finding 4). Every other total (payload, wire, protocol and transport bytes,
energy to target) also holds what the devices never asked spend: long polls, keep-alives,
listening; it follows the device count and gets a per-device row (redteam9, finding 1).
Two runs that ask every device, or a share of them, over different device counts ask
different numbers: all their totals get no ratio and per-device rows compare them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fedsim.record.run_settings import ABSENT, RunSettings

__all__ = ["asked_per_round", "asked_text", "same_asked"]


def asked_per_round(settings: RunSettings, devices: int | None) -> tuple[Any, ...] | None:
    """What a round asks of the run's devices: `("count", n, over_selection)` for a
    fixed count (at most the devices there are; `100%` is every device), `("share", f,
    devices, over_selection)` for a share of the online ones, `("all", devices)` for the
    async engine (every polling client gets a task); None where the run's settings or
    device count are not known."""
    if not isinstance(devices, int) or devices < 1:
        return None
    engine = settings.get("fl.engine").value
    if engine in ("async", "fedbuff"):
        return ("all", devices)
    per_round = settings.get("fl.clients_per_round").value
    over = settings.get("fl.over_selection").value
    over = 0.0 if over is ABSENT or over is None else over
    if isinstance(per_round, bool) or not isinstance(per_round, int | float):
        return None
    if isinstance(per_round, int):
        return ("count", min(per_round, devices), over)
    if per_round >= 1.0:  # 100%: every online device, as a count of all of them
        return ("count", devices, over)
    return ("share", per_round, devices, over)


def same_asked(asked: Sequence[tuple[Any, ...] | None]) -> bool:
    """Every run asks the same clients a round (all known)."""
    return all(a is not None for a in asked) and len(set(asked)) == 1


def asked_text(asked: tuple[Any, ...]) -> str:
    """`2 clients a round (fl.clients_per_round)`: what `asked_per_round` says, in words."""
    if asked[0] == "all":
        return f"all {asked[1]} devices (fl.engine async)"
    over = asked[-1]
    more = f", over-selecting {over:.0%}" if over else ""
    if asked[0] == "count":
        n = asked[1]
        return f"{n} client{'' if n == 1 else 's'} a round (fl.clients_per_round{more})"
    return f"{asked[1]:.0%} of {asked[2]} devices a round (fl.clients_per_round{more})"
