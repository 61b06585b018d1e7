"""Read a results folder back into memory: the one loader compare, plots, reports and
sweeps share.

The folder format is `fedsim.record.schema` (docs/results.md). Only `summary.json` is
required: the CSV tables and `topology.json` are optional so that a partial run still
compares; `audit.json` is read into `RunData.audit` (passed, failed, or not audited when
it is missing), which every reader shows. Every file present is parsed into its typed
rows; a malformed or older folder is one `FedsimError` line naming the file and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fedsim.errors import FedsimError
from fedsim.record.audit_status import UNAUDITED, VOID, AuditStatus, read_audit_status
from fedsim.record.schema import (
    ClientRow,
    LedgerRow,
    LinkRow,
    Record,
    RoundRow,
    Summary,
    TimelineRow,
)
from fedsim.record.tables import parse_causes, read_summary, read_table

__all__ = [
    "RunData",
    "VoidRunError",
    "folder_labels",
    "load_run",
    "load_runs",
    "parse_causes",
    "run_labels",
]

R = TypeVar("R", bound=Record)

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when present (config.yaml read ~7x faster), with PyYAML's safe
constructors: the same data as `yaml.safe_load`."""


@dataclass(frozen=True)
class RunData:
    """One finished run as written on disk, in the row types of `fedsim.record.schema`."""

    path: Path
    summary: Summary
    config: dict[str, Any] = field(default_factory=dict)
    rounds: list[RoundRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    clients: list[ClientRow] = field(default_factory=list)
    topology: dict[str, Any] = field(default_factory=dict)
    ledger: list[LedgerRow] = field(default_factory=list)
    audit: AuditStatus = UNAUDITED
    """Its audit.json: whether its numbers were checked (fedsim.record.audit_status)."""

    @property
    def name(self) -> str:
        """The folder name: what `run_name` was when the run was written."""
        return self.path.name

    @property
    def metric_name(self) -> str:
        return self.summary.metric_name

    @property
    def higher_is_better(self) -> bool:
        return self.summary.higher_is_better

    @property
    def unsettled(self) -> dict[str, int]:
        """Each client's selections not yet settled when the folder was written (an audit
        source, `fedsim.audit.SOURCES`): none at a run's end; a live pilot's, as its
        audit.json records them (read with it, `audit`)."""
        return dict(self.audit.unsettled)


def _table(path: Path, row_type: type[R]) -> list[R]:
    return read_table(path, row_type) if path.is_file() else []


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FedsimError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise FedsimError(f"{path}: expected a JSON object")
    return data


class VoidRunError(FedsimError):
    """A results folder that cannot be read and whose files are not the ones its audit
    checked (audit.json's digests differ): edited since, so AUDIT VOID, not a format
    error of fedsim's. A reader of several runs leaves it out and goes on."""

    def __init__(self, run_dir: Path, changed: str, unreadable: str) -> None:
        self.run_dir = run_dir
        self.detail = f"{changed} since the audit, and cannot be read ({unreadable})"
        """What changed and what cannot be read, without the folder."""
        super().__init__(f"{run_dir}: AUDIT VOID: {self.detail}")


def load_run(path: str | Path, *, timeline: bool = True) -> RunData:
    """Load a results folder; a missing folder or summary.json is a user mistake.
    `timeline=False` leaves out timeline.csv, the largest table, for a reader that does
    not draw it (a plot helper process drawing other figures). A file that cannot be
    read in a folder whose audit is void (edited since) is `VoidRunError`."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise FedsimError(f"no run folder at {run_dir}")
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise FedsimError(f"{run_dir} is not a finished run (no summary.json)")
    try:
        return _load(run_dir, timeline)
    except FedsimError as exc:
        audit = read_audit_status(run_dir)
        if audit.state != VOID:
            raise
        changed = audit.violations[0].removeprefix("AUDIT VOID: ").replace(" since the audit", "")
        raise VoidRunError(run_dir, changed, str(exc).replace(f"{run_dir}/", "")) from None


def _load(run_dir: Path, timeline: bool) -> RunData:
    summary_path = run_dir / "summary.json"
    config_path = run_dir / "config.yaml"
    config: Any = {}
    if config_path.is_file():
        try:
            config = yaml.load(config_path.read_text(encoding="utf-8"), _YAML_LOADER) or {}
        except yaml.YAMLError as exc:
            raise FedsimError(f"{config_path}: not valid YAML") from exc
    topo_path = run_dir / "topology.json"
    summary = read_summary(summary_path)
    return RunData(
        path=run_dir,
        summary=summary,
        config=config if isinstance(config, dict) else {},
        rounds=_table(run_dir / "rounds.csv", RoundRow),
        links=_table(run_dir / "links.csv", LinkRow),
        timeline=_table(run_dir / "timeline.csv", TimelineRow) if timeline else [],
        clients=_table(run_dir / "clients.csv", ClientRow),
        topology=_topology(topo_path) if topo_path.is_file() else {},
        ledger=_table(run_dir / "ledger.csv", LedgerRow),
        audit=read_audit_status(run_dir, summary.get("fidelity")),
    )


def _topology(path: Path) -> dict[str, Any]:
    """topology.json, in the shape fedsim writes: lists of node and link objects (every
    reader walks them), each node named."""
    data = _read_json(path)
    for key in ("nodes", "links"):
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise FedsimError(f"{path}: `{key}` is not a list of objects")
    if not all(isinstance(n.get("name"), str) for n in data.get("nodes", [])):
        raise FedsimError(f"{path}: a node without a `name`")
    return data


def load_runs(paths: list[str | Path] | tuple[str | Path, ...]) -> list[RunData]:
    """Load several runs in order; at least one is needed to say anything."""
    if not paths:
        raise FedsimError("no run folders given")
    return [load_run(p) for p in paths]


def folder_labels(runs: list[RunData]) -> list[str]:
    """Short unique folder labels: the name, or parent/name when two folders share it."""
    names = [r.name for r in runs]
    labels = []
    for r in runs:
        label = r.name if names.count(r.name) == 1 else f"{r.path.parent.name}/{r.name}"
        labels.append(label)
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique


def run_labels(runs: list[RunData]) -> list[str]:
    """What tells the runs apart (`codec=int8, strategy=fedprox`: the settings that differ,
    their `--set` keys first, fedsim.record.labels); folder labels when nothing differs."""
    from fedsim.record.labels import config_facts, labels_for, override_keys

    facts = [config_facts(r.config, r.summary) for r in runs]
    first = override_keys([r.summary.get("overrides") for r in runs])
    return labels_for(facts, folder_labels(runs), first)
