"""Whether a results folder passed its audit, read from its audit.json.

Why every reader needs it: `fedsim run` writes the result tables before the audit, so a
folder whose audit failed still holds a summary.json with numbers that are wrong; and
`fedsim run --no-audit` (or an older fedsim) writes no audit.json at all. A consumer of a
results folder (compare, report, sweep aggregation) says which of the three it is, so a
wrong number is never shown as if it were checked.

Two more ways an audit.json stops vouching: it is `void` when a file it holds a digest of
changed since (fedsim.record.audit_files), and `incomplete` when it lists fewer invariants
than the fedsim that wrote it had (entries deleted, by hand or by a cut-short write). A
deployment's audit.json names the invariants that do not apply to it (`not_applicable`,
each with why: they need what only a simulation records); they count as accounted for,
and only a folder whose summary.json says `fidelity: deployment` may leave any out.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedsim.record.audit_files import changed_files, unvouched_files
from fedsim.record.invariant_names import DEPLOYMENT_INVARIANTS, KNOWN_INVARIANTS

__all__ = [
    "FAILED",
    "INCOMPLETE",
    "NOT_AUDITED",
    "NO_AUDIT_JSON",
    "PASSED",
    "UNAUDITED",
    "VOID",
    "AuditStatus",
    "read_audit_status",
]

PASSED, FAILED, NOT_AUDITED = "passed", "failed", "not audited"
VOID, INCOMPLETE = "void", "incomplete"
ROUNDS_COMPLETED = "rounds-completed"
"""The invariant a run with no round fails (fedsim.audit.rounds): nothing was measured,
yet nothing it recorded is wrong."""


@dataclass(frozen=True)
class AuditStatus:
    """A run's audit: `passed`, `failed` (with its violations), `void` (a file changed
    since: its numbers are not the audited ones), `incomplete` (invariants missing from
    its list) or `not audited` (why). A void audit counts as failed wherever runs are
    left out or flagged; an incomplete one as not audited."""

    state: str
    invariants: int = 0
    violations: tuple[str, ...] = ()
    """`invariant: detail` lines, as audit.json lists them."""
    note: str = ""
    """Why the run is not audited (no audit.json, or one that cannot be read)."""
    unsettled: tuple[tuple[str, int], ...] = ()
    """audit.json's `unsettled` (a live pilot's selections not yet settled when it was
    audited; none at a run's end), as (client, count) pairs."""

    @property
    def passed(self) -> bool:
        return self.state == PASSED

    @property
    def failed(self) -> bool:
        """Its numbers are wrong (a violation) or not the ones audited (void)."""
        return self.state in (FAILED, VOID)

    @property
    def measured_nothing(self) -> bool:
        """Failed only because no round completed (`rounds-completed`): its numbers are
        an empty run's (the initial model, registration traffic), right but no result."""
        return self.state == FAILED and all(
            v.startswith(f"{ROUNDS_COMPLETED}:") for v in self.violations
        )

    def verdict(self) -> str:
        """What a failed audit means for its numbers, in a few words."""
        if self.measured_nothing:
            return "it completed no round: its numbers measure nothing (an empty run's)"
        if self.state == VOID:
            return "its numbers are not the audited ones"
        return "its numbers are wrong"

    def short(self) -> str:
        """A table cell: `passed (20)`, `FAILED (1 violation)`, `AUDIT VOID`,
        `INCOMPLETE (3 of 28)`, `NOT AUDITED`."""
        if self.passed:
            return f"passed ({self.invariants})"
        if self.state == VOID:
            return "AUDIT VOID"
        if self.state == INCOMPLETE:
            return f"INCOMPLETE ({self.note.removeprefix('incomplete audit: ')})"
        if self.failed:
            n = len(self.violations)
            return f"FAILED ({n} violation{'s' if n != 1 else ''})"
        return "NOT AUDITED"

    def mark(self) -> str:
        """What a run's label carries wherever it is named (a compare column, a plot's
        legend) when its audit did not pass: `` ✗ AUDIT FAILED``, `` (not audited)``."""
        if self.state == VOID:
            return " ✗ AUDIT VOID"
        if self.failed:
            return " ✗ AUDIT FAILED"
        if self.state == INCOMPLETE:
            return " (incomplete audit)"
        return "" if self.passed else " (not audited)"

    def line(self) -> str:
        """One sentence: what the audit said, the first violation when it failed."""
        if self.passed:
            return f"audit passed: {self.invariants} invariants{self.note}"
        if self.state == VOID:
            return f"{self.violations[0]}; its numbers are not the audited ones"
        if self.state == INCOMPLETE:
            return f"{self.note}; its numbers were not all checked"
        if self.failed:
            more = len(self.violations) - 1
            extra = f" (+{more} more)" if more else ""
            if self.measured_nothing:
                return f"audit FAILED: {self.violations[0]}{extra}; {self.verdict()}"
            return f"audit FAILED: {self.violations[0]}{extra}; its numbers are not trustworthy"
        return f"not audited: {self.note}; its numbers were never checked"


NO_AUDIT_JSON = "no audit.json (run with --no-audit, or by a fedsim older than the audit)"
UNAUDITED = AuditStatus(NOT_AUDITED, note=NO_AUDIT_JSON)
"""A folder without audit.json; also what a `RunData` built in memory says."""


DEPLOYMENT = (
    "a deployment run (fidelity deployment) by a fedsim older than the deployment's audit, "
    "or whose audit.json was deleted"
)


def read_audit_status(run_dir: str | Path, fidelity: str | None = None) -> AuditStatus:
    """The audit of the run in `run_dir` (a malformed audit.json vouches for nothing);
    `fidelity` (summary.json's) says why a run without audit.json has none."""
    path = Path(run_dir) / "audit.json"
    if not path.is_file():
        fidelity = fidelity or _recorded_fidelity(Path(run_dir))
        return AuditStatus(
            NOT_AUDITED, note=DEPLOYMENT if fidelity == "deployment" else NO_AUDIT_JSON
        )
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return AuditStatus(NOT_AUDITED, note=f"audit.json cannot be read ({exc})")
    invariants = data.get("invariants") if isinstance(data, dict) else None
    violations = data.get("violations") if isinstance(data, dict) else None
    if not isinstance(invariants, list) or not isinstance(violations, list):
        return AuditStatus(
            NOT_AUDITED, note="audit.json lacks its `invariants` and `violations` lists"
        )
    not_applicable = data.get("not_applicable", {})
    unsettled = data.get("unsettled", {})
    invalid = (
        _invalid(invariants, violations)
        or _invalid_not_applicable(
            not_applicable, invariants, lambda: fidelity or _recorded_fidelity(Path(run_dir))
        )
        or _invalid_unsettled(unsettled)
    )
    if invalid is not None:
        return AuditStatus(NOT_AUDITED, note=f"audit.json is invalid ({invalid})")
    lines = tuple(_violation_line(v) for v in violations)
    if lines:  # failed: nothing below can make it pass
        status = AuditStatus(FAILED, len(invariants), lines)
    else:
        status = _vouched(Path(run_dir), data, invariants)
    return dataclasses.replace(status, unsettled=tuple(sorted(unsettled.items())))


def _vouched(run_dir: Path, data: dict[str, Any], invariants: list[str]) -> AuditStatus:
    """A clean audit.json passes only if the files it checked are unchanged (their
    digests: else void) and it lists every invariant the fedsim that wrote it had (else
    incomplete)."""
    files = data.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        files = None
    changed = changed_files(run_dir, files) if files is not None else []
    if changed:
        more = f" (+{len(changed) - 1} more)" if len(changed) > 1 else ""
        return AuditStatus(
            VOID, len(invariants), (f"AUDIT VOID: {changed[0]} since the audit{more}",)
        )
    not_applicable = data.get("not_applicable", {})
    incomplete = _incomplete(data, [*invariants, *not_applicable], len(not_applicable))
    if incomplete is not None:
        return AuditStatus(INCOMPLETE, len(invariants), note=incomplete)
    if files is None:
        return AuditStatus(
            NOT_AUDITED,
            note="audit.json records no digests of the files it checked (an older fedsim, "
            "or edited): whether they changed since cannot be told; run it again",
        )
    unvouched = unvouched_files(run_dir, files)
    if unvouched:
        return AuditStatus(
            NOT_AUDITED,
            note=f"audit.json holds no digest of {', '.join(unvouched)}: it does not vouch for it",
        )
    if KNOWN_INVARIANTS - set(invariants) - set(not_applicable):  # another fedsim, had fewer
        return AuditStatus(
            PASSED,
            len(invariants),
            note=f" (by fedsim code {data.get('code')}; this fedsim has {len(KNOWN_INVARIANTS)})",
        )
    if not_applicable:
        return AuditStatus(
            PASSED,
            len(invariants),
            note=f" that apply to a deployment ({len(not_applicable)} more need what only a "
            "simulation records)",
        )
    return AuditStatus(PASSED, len(invariants))


def _incomplete(data: dict[str, Any], invariants: list[str], left_out: int = 0) -> str | None:
    """`incomplete audit: 3 of 28 invariants` when entries are missing from the list:
    fewer than its `registered` count, or fewer than this fedsim has unless audit.json
    says another fedsim (`code`, `registered`) wrote it. A deployment's `left_out` (not
    applicable) invariants are in `invariants` and out of the count it says."""
    registered = data.get("registered")
    if not isinstance(registered, int) or isinstance(registered, bool):
        registered = None
    if len(invariants) >= max(registered or 0, len(KNOWN_INVARIANTS)):
        return None  # complete whichever fedsim wrote it: no need to hash our own source
    code = data.get("code")
    other_code = isinstance(code, str) and code != _running_code() and registered is not None
    expected = registered if other_code else max(registered or 0, len(KNOWN_INVARIANTS))
    if len(invariants) < expected:
        if left_out:  # a deployment's: both lists count
            return (
                f"incomplete audit: {len(invariants) - left_out} checked + {left_out} not "
                f"applicable = {len(invariants)} of {expected} invariants"
            )
        return f"incomplete audit: {len(invariants)} of {expected} invariants"
    return None


def _running_code() -> str:
    from fedsim.record.fingerprint import code_fingerprint

    return code_fingerprint()


def _invalid(invariants: list[Any], violations: list[Any]) -> str | None:
    """Why an audit.json cannot vouch for its run (None: it can). An audit that checked
    nothing (`{"invariants": [], ...}`, hand-written or cut short) must never read as
    passed: fedsim's audit always lists the invariants it checked."""
    if not invariants:
        return "it lists no invariants: nothing was checked; hand-written or cut short?"
    if not all(isinstance(name, str) and name for name in invariants):
        return "its `invariants` are not all invariant names"
    if len(set(invariants)) != len(invariants):
        return "its `invariants` name one invariant twice"
    unknown = sorted(set(invariants) - KNOWN_INVARIANTS)
    if unknown:
        more = f" (+{len(unknown) - 1} more)" if len(unknown) > 1 else ""
        return (
            f"it names an invariant fedsim does not have: {unknown[0]!r}{more}; written by "
            "hand, or by another fedsim version"
        )
    for v in violations:
        ok = isinstance(v, str) or (
            isinstance(v, dict)
            and isinstance(v.get("invariant"), str)
            and isinstance(v.get("detail"), str)
        )
        if not ok:
            return f"a violation is not {{invariant, detail}}: {v!r:.80}"
    return None


def _invalid_not_applicable(
    not_applicable: Any, invariants: list[Any], fidelity: Callable[[], str | None]
) -> str | None:
    """Why audit.json's `not_applicable` cannot stand: only a deployment's audit leaves
    invariants out, each a known one it did not also check, each with its reason."""
    if not isinstance(not_applicable, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in not_applicable.items()
    ):
        return "its `not_applicable` is not {invariant: reason}"
    if not not_applicable:
        return None
    if fidelity() != "deployment":
        return (
            "it leaves invariants out as not applicable, but only a deployment's audit may "
            "(summary.json fidelity is not `deployment`)"
        )
    unknown = sorted(set(not_applicable) - KNOWN_INVARIANTS)
    if unknown:
        return f"its `not_applicable` names an invariant fedsim does not have: {unknown[0]!r}"
    both = sorted(set(not_applicable) & set(invariants))
    if both:
        return f"it names {both[0]!r} both checked and not applicable"
    owed = sorted(set(not_applicable) & DEPLOYMENT_INVARIANTS)
    if owed:
        return f"it calls {owed[0]!r} not applicable, but a deployment's audit checks it"
    return None


def _invalid_unsettled(unsettled: Any) -> str | None:
    """Why audit.json's `unsettled` cannot stand: it is {client: count >= 0}."""
    if not isinstance(unsettled, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in unsettled.items()
    ):
        return "its `unsettled` is not {client: count}"
    return None


def _recorded_fidelity(run_dir: Path) -> str | None:
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return summary.get("fidelity") if isinstance(summary, dict) else None


def _violation_line(v: Any) -> str:
    if isinstance(v, dict):
        return f"{v.get('invariant', '?')}: {v.get('detail', '')}"
    return str(v)
