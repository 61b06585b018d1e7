"""Bugs the fuzzer found that are not fixed yet. Each has a strict-xfail regression
under tests/fuzz/regressions/ (the tracking test); while it is listed here the
generated-scenario tests do not fail on it, so they keep hunting for new bugs.
Fixing one turns its regression into an XPASS, which fails: then drop the `# xfail:`
line and its entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KnownBug:
    regression: str
    """File stem under tests/fuzz/regressions/."""
    check: str
    """The audit invariant or fuzz property it breaks."""
    applies: Callable[[Any], bool] = lambda _scenario: True
    """Whether a scenario (fedsim Scenario) can show it: keeps the filter narrow."""


KNOWN_BUGS: tuple[KnownBug, ...] = (
    KnownBug(
        "round_interval_past_time_limit",
        "ends-in-time",
        lambda sc: sc.fl.engine == "sync" and sc.fl.round_interval_s > 0,
    ),
    KnownBug("battery_overspent", "energy-within-battery"),
)


def is_known(check: str, scenario: Any) -> bool:
    return any(b.check == check and b.applies(scenario) for b in KNOWN_BUGS)
