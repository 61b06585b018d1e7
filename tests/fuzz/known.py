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
    matches: Callable[[str], bool] = lambda _detail: True
    """Whether a problem's detail line is this bug (and not another of the same check)."""


KNOWN_BUGS: tuple[KnownBug, ...] = (
    # FedBuff hands a device a second task on the version its stored update was trained
    # on; a full-batch retraining gives the same bytes, which the server takes for a
    # resend (`Engine.repeat`) and takes the task back: the device trained once more than
    # it was selected. An upload needs an identity of its own on the wire (a training
    # counter in its meta) to tell the two apart.
    KnownBug(
        "same_bytes_retrained_selection",
        "model-bytes-match-updates",
        applies=lambda sc: sc.fl.engine == "async",
        matches=lambda detail: "trained" in detail and "selected" in detail,
    ),
)


def is_known(check: str, detail: str, scenario: Any) -> bool:
    return any(b.check == check and b.applies(scenario) and b.matches(detail) for b in KNOWN_BUGS)
