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

    def __init__(
        self, violations: list[Violation], *, result: Any = None, folder: Any = None
    ) -> None:
        self.violations = violations
        self.result = result
        """The run (a `fedsim.run.RunResult`), to look at what broke."""
        self.folder = folder
        """The run folder when its results were written before the audit failed."""
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
    """Import every module of this package: each registers its invariants (so adding a
    concern is adding a file). Sorted, so the order of checks is fixed."""
    import importlib
    import pkgutil

    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{mod}")


MAX_PER_INVARIANT = 100
"""A broken run can break one invariant thousands of times; past this many, one line
says how many more there were."""


MEMO: dict[str, Any] = {}
"""Views of the run that several checks derive (e.g. the timeline grouped by client),
kept for one `audit` call only."""


def audit(result: Any) -> list[Violation]:
    """Every violation of every registered invariant, in registration order."""
    _load()
    found: list[Violation] = []
    MEMO.clear()
    try:
        for inv in INVARIANTS.values():
            mine = list(inv.check(result))
            if len(mine) > MAX_PER_INVARIANT:
                extra = len(mine) - MAX_PER_INVARIANT
                mine = [*mine[:MAX_PER_INVARIANT], Violation(inv.name, f"... and {extra} more")]
            found.extend(mine)
    finally:
        MEMO.clear()
    return found
