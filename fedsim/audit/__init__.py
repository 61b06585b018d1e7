"""The run auditor: invariants checked on what a run recorded, after every run.

A simulator's worst failure is a wrong number nobody notices. Each invariant is a
plain function over a finished run (`fedsim.run.RunResult`) that yields the
`Violation`s it finds; `audit` runs every registered one. `fedsim run` fails with
one line naming the invariant and the offending row unless `--no-audit` is given.
Invariants live in the modules of this package, one concern each, and register
themselves with `@invariant`, declaring the sources they read (`SOURCES`): a simulation
has them all; a deployment (fedsim.deployment.audit) has its tables only, and runs
exactly the invariants whose sources it has (`applicable`), the others named as not
applicable with the sources they lack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fedsim.errors import FedsimError

__all__ = [
    "INVARIANTS",
    "SOURCES",
    "AuditError",
    "NotRecorded",
    "Violation",
    "applicable",
    "audit",
    "invariant",
]

SOURCES: dict[str, str] = {
    "summary": "summary.json",
    "rounds": "rounds.csv",
    "clients": "clients.csv",
    "bytes_after_rounds": "the bytes counted after the last round's row (a count apart "
    "from the tables: the simulator's evidence, a deployment's socket counters)",
    "scenario": "the scenario the run was made from",
    "unsettled": "each client's selections not yet reported, a dropout or surplus (none "
    "once a run has ended; a live pilot's tasks out and updates awaiting aggregation)",
    "client_requests": "each client's own count of the exchanges it abandoned (a request "
    "timeout, a CoAP give-up), which also names its dropouts' causes: the simulator's "
    "in-process clients; a deployment's clients are remote and its server counts none",
    "links": "links.csv (a deployment's server cannot see links)",
    "timeline": "timeline.csv (a deployment's server cannot see device states)",
    "ledger": "ledger.csv (a deployment writes none)",
    "transmitters": "each transmitter's busy time (the simulator's radio model)",
    "model": "model.npy and the task's evaluator (a pilot writes its deployed model too)",
    "evidence": "the simulator's evidence (fedsim.net.evidence: every message, outage and "
    "accepted update with its times)",
}
"""What an invariant may read of the audited run: each is an attribute of it (a
`fedsim.run.RunResult`, or a deployment's `fedsim.deployment.audit.DeploymentRecord`),
and each invariant declares the ones it reads (`@invariant(..., needs=...)`)."""


class NotRecorded(Exception):  # noqa: N818 (a condition, not a bug of the caller)
    """An invariant read a source the audited run does not have: its declaration is
    wrong. Not an AttributeError, so `getattr(result, "evidence", None)` cannot turn it
    into a check that passes on nothing."""


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
    needs: frozenset[str]
    """The `SOURCES` it reads."""


INVARIANTS: dict[str, Invariant] = {}


def invariant(name: str, doc: str, *, needs: Iterable[str]) -> Callable[[Check], Check]:
    """Register a check under `name`; `doc` is the one line the docs list, `needs` the
    `SOURCES` it reads (required: what a run lacks decides whether the check applies)."""
    wanted = frozenset(needs)
    unknown = sorted(wanted - SOURCES.keys())
    if not wanted or unknown:
        raise ValueError(f"invariant {name!r}: needs {sorted(wanted)} (unknown: {unknown})")

    def register(check: Check) -> Check:
        if name in INVARIANTS:
            raise ValueError(f"invariant {name!r} registered twice")
        INVARIANTS[name] = Invariant(name, doc, check, wanted)
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


def applicable(has: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """For a run that has the sources `has`: the invariants that apply (all they need is
    there) and, for each other one, why not (the sources it lacks)."""
    _load()
    have = frozenset(has)
    if unknown := sorted(have - SOURCES.keys()):
        raise ValueError(f"not a source an invariant may read: {unknown[0]!r}")
    ran: list[str] = []
    not_applicable: dict[str, str] = {}
    for inv in INVARIANTS.values():
        missing = [SOURCES[s] for s in SOURCES if s in inv.needs - have]
        if missing:
            not_applicable[inv.name] = "needs " + "; ".join(missing)
        else:
            ran.append(inv.name)
    return ran, not_applicable


def audit(
    result: Any, *, has: Iterable[str] | None = None, contain: bool = False
) -> list[Violation]:
    """Every violation of every registered invariant, in registration order; with `has`,
    of those that apply to a run with only those sources (`applicable`). `contain`: a
    check that raises is a violation of it (a server must go on), not an exception."""
    _load()
    names = set(INVARIANTS) if has is None else set(applicable(has)[0])
    found: list[Violation] = []
    MEMO.clear()
    try:
        for inv in INVARIANTS.values():
            if inv.name not in names:
                continue
            try:
                mine = list(inv.check(result))
            except Exception as exc:
                if not contain:
                    raise
                mine = [Violation(inv.name, f"the check could not run: {exc!r}")]
            if len(mine) > MAX_PER_INVARIANT:
                extra = len(mine) - MAX_PER_INVARIANT
                mine = [*mine[:MAX_PER_INVARIANT], Violation(inv.name, f"... and {extra} more")]
            found.extend(mine)
    finally:
        MEMO.clear()
    return found
