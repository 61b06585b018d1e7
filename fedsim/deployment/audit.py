"""A deployment's audit: the invariants a pilot's tables support, on what it wrote.

A wrong number from a pilot is as bad as one from a simulation, so every
`DeploymentResults.write` (after each round and at the end) reads the folder back and
runs each invariant whose declared sources (`fedsim.audit.SOURCES`) a deployment has:
its tables (rounds.csv, clients.csv, summary.json), the server's byte counters (the
bytes after the last round) and the scenario. The others need what only the simulator
records (links, device states, the evidence of every message) and are listed in
audit.json as not applicable, with the sources they lack. Which invariant runs follows
from its declaration (`fedsim.audit.applicable`), not from a list kept here; and the
record the checks read has nothing else (`DeploymentRecord`), so a declaration that
leaves out a source a check reads fails that check loudly instead of passing on nothing.

A violation does not stop the server (the federation and every update it acknowledged go
on): it is one line on stderr per violation and in audit.json, so the folder reads
`failed` in compare and report.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fedsim.audit import SOURCES, NotRecorded, Violation, applicable, audit
from fedsim.record.audit_files import AUDIT_JSON, write_audit_json
from fedsim.record.deployed_model import MODEL_FILE, DeployedModel, read_model
from fedsim.record.schema import ClientRow, RoundRow, Summary
from fedsim.record.tables import read_summary, read_table
from fedsim.rng import Streams
from fedsim.scenario import Scenario
from fedsim.tasks.registry import build_task

__all__ = ["DEPLOYMENT_SOURCES", "DeploymentAudit", "DeploymentRecord"]

DEPLOYMENT_SOURCES = frozenset(
    {"summary", "rounds", "clients", "bytes_after_rounds", "scenario", "unsettled", "model"}
)
"""What a deployment has of `fedsim.audit.SOURCES`: the server sees its own tables,
sockets and model; links, device states, transmitters and the simulator's evidence it
cannot."""

FIDELITY = "deployment"
SHOWN = 20
"""Violation lines printed per write; audit.json holds them all."""


class DeploymentRecord:
    """What the auditor reads of a deployment: its tables and model.npy as written on
    disk, the server's count of the bytes after the last round, the scenario. Any other source
    raises `NotRecorded` (not AttributeError: `getattr(r, "evidence", None)` must not
    pass a check on nothing)."""

    def __init__(
        self,
        folder: Path,
        scenario: Scenario,
        bytes_after_rounds: Mapping[str, int],
        unsettled: Mapping[str, int],
        evaluator: Any,
    ) -> None:
        self.summary: Summary = read_summary(folder / "summary.json")
        self.rounds: list[RoundRow] = read_table(folder / "rounds.csv", RoundRow)
        self.clients: list[ClientRow] = read_table(folder / "clients.csv", ClientRow)
        self.bytes_after_rounds = dict(bytes_after_rounds)
        self.unsettled = dict(unsettled)
        self.scenario = scenario
        self.model = DeployedModel(read_model(folder / MODEL_FILE), evaluator)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        what = SOURCES.get(name, name)
        raise NotRecorded(f"a deployment has no {what}: a check that reads it does not apply")


class DeploymentAudit:
    """Audits a deployment's folder on each write; says each new violation once."""

    def __init__(self, scenario: Scenario, say: Callable[[str], None] | None = None) -> None:
        self.scenario = scenario
        self.say = say or _stderr
        self.said: set[str] = set()
        self._evaluator: Any = None

    def evaluator(self) -> Any:
        """The task's evaluator, built afresh from the scenario as the server builds its
        own (so the audit scores the model on disk apart from the server's objects)."""
        if self._evaluator is None:
            sc = self.scenario
            task = build_task(sc.task, len(sc.device_nodes), Streams(sc.seed))
            self._evaluator = task.evaluator()
        return self._evaluator

    def __call__(
        self, folder: Path, bytes_after_rounds: Mapping[str, int], unsettled: Mapping[str, int]
    ) -> list[Violation]:
        """Audit the tables now in `folder`, write its audit.json, print what is new.
        Nothing it does may stop the server (it runs where an update was just taken): a
        failure to audit or to write audit.json is said on stderr, and a folder left
        without audit.json reads `not audited`."""
        try:
            return self._audit(folder, bytes_after_rounds, unsettled)
        except Exception as exc:  # the server goes on; stderr says why
            with contextlib.suppress(Exception):
                (folder / AUDIT_JSON).unlink(missing_ok=True)  # a stale one must not vouch
                self.say(f"audit not written: {exc!r} (in {folder}: its numbers are not audited)")
            return [Violation("audit-written", repr(exc))]

    def _audit(
        self, folder: Path, bytes_after_rounds: Mapping[str, int], unsettled: Mapping[str, int]
    ) -> list[Violation]:
        ran, not_applicable = applicable(DEPLOYMENT_SOURCES)
        try:
            record = DeploymentRecord(
                folder, self.scenario, bytes_after_rounds, unsettled, self.evaluator()
            )
        except Exception as exc:  # a server goes on; the folder says so
            found = [Violation("results-readable", f"the results cannot be read back: {exc}")]
        else:
            found = audit(record, has=DEPLOYMENT_SOURCES, contain=True)
        write_audit_json(
            folder,
            ran,
            [{"invariant": v.invariant, "detail": v.detail} for v in found],
            not_applicable=not_applicable,
            extra={
                "fidelity": FIDELITY,
                "bytes_after_rounds": dict(bytes_after_rounds),
                "unsettled": dict(unsettled),
            },
        )
        self._say(folder, found)
        return found

    def _say(self, folder: Path, found: list[Violation]) -> None:
        new = [v for v in found if v.line() not in self.said]
        for v in new[:SHOWN]:
            self.say(f"audit FAILED: {v.line()} (in {folder}: its numbers are wrong)")
        if len(new) > SHOWN:
            self.say(f"audit FAILED: {len(new) - SHOWN} more violations (in {folder}/audit.json)")
        self.said.update(v.line() for v in new)


def _stderr(line: str) -> None:
    print(f"fedsim serve: {line}", file=sys.stderr, flush=True)
