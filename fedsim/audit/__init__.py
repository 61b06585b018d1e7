"""The run auditor: invariants checked on what a run recorded, after every run.

A simulator's worst failure is a wrong number nobody notices. Each invariant is a
plain function over a finished run (`fedsim.run.RunResult`) that yields the
`Violation`s it finds; `audit` runs every registered one. `fedsim run` fails with
one line naming the invariant and the offending row unless `--no-audit` is given.
Invariants live in the modules of this package, one concern each, and register
themselves with `@invariant`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fedsim.errors import FedsimError

__all__ = ["INVARIANTS", "AuditError", "Violation", "audit", "invariant"]


@dataclass(frozen=True)
class Violation:
    """One broken invariant: its name and the offending row, in words."""

    invariant: str
    detail: str

    def line(self) -> str:
        return f"{self.invariant}: {self.detail}"


class AuditError(FedsimError):
    """A run recorded numbers that do not reconcile; the first violation is the message."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(f"audit failed: {violations[0].line()}{more}")


Check = Callable[[Any], Iterable[Violation]]


@dataclass(frozen=True)
class Invariant:
    name: str
    doc: str
    check: Check


INVARIANTS: dict[str, Invariant] = {}


def invariant(name: str, doc: str) -> Callable[[Check], Check]:
    """Register a check under `name`; `doc` is the one line the docs list."""

    def register(check: Check) -> Check:
        if name in INVARIANTS:
            raise ValueError(f"invariant {name!r} registered twice")
        INVARIANTS[name] = Invariant(name, doc, check)
        return check

    return register


def _load() -> None:
    """Import the modules that register invariants (kept here so the list is one place)."""
    from fedsim.audit import dropouts  # noqa: F401


def audit(result: Any) -> list[Violation]:
    """Every violation of every registered invariant, in registration order."""
    _load()
    found: list[Violation] = []
    for inv in INVARIANTS.values():
        found.extend(inv.check(result))
    return found
