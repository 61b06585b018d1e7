"""Read a results folder back into memory, so compare, plots and reports share one loader.

The folder format is documented in docs/results.md. Only `summary.json` is required: the
CSV tables and `topology.json` are optional so that a partial or older run still compares.
CSV cells are typed by a per-file schema (ints stay ints, floats keep their exact value) so
derived figures never drift from what the run wrote.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fedsim.errors import FedsimError

__all__ = ["RunData", "load_run", "load_runs", "parse_causes", "run_labels"]

Row = dict[str, Any]

_INT, _FLOAT, _STR = int, float, str
_SCHEMAS: dict[str, dict[str, Callable[[str], Any]]] = {
    "rounds.csv": {
        "round": _INT, "sim_time_s": _FLOAT, "selected": _INT, "reported": _INT,
        "failed": _INT, "accepted": _INT, "deployed_version": _INT, "bytes_up": _INT,
        "bytes_down": _INT, "wire_bytes_up": _INT, "wire_bytes_down": _INT,
        "metric": _FLOAT, "failed_causes": _STR, "candidate_metric": _FLOAT,
        "federated_metric": _FLOAT,
    },
    "links.csv": {
        "link": _STR, "a": _STR, "b": _STR, "kind": _STR, "direction": _STR,
        "payload_bytes": _INT, "wire_bytes": _INT, "packets": _INT, "retransmissions": _INT,
        "drops": _INT, "busy_fraction": _FLOAT, "down_time_s": _FLOAT,
    },
    "timeline.csv": {"client": _STR, "state": _STR, "start_s": _FLOAT, "end_s": _FLOAT},
    "clients.csv": {
        "client": _STR, "device": _STR, "gateway": _STR, "rounds_selected": _INT,
        "rounds_reported": _INT, "bytes_up": _INT, "bytes_down": _INT,
        "energy_compute_j": _FLOAT, "energy_radio_j": _FLOAT, "dropouts": _INT,
        "env_episodes": _INT, "env_steps": _INT,
    },
}  # fmt: skip


@dataclass(frozen=True)
class RunData:
    """One finished run as written on disk; tables are lists of typed row dicts."""

    path: Path
    summary: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    rounds: list[Row] = field(default_factory=list)
    links: list[Row] = field(default_factory=list)
    timeline: list[Row] = field(default_factory=list)
    clients: list[Row] = field(default_factory=list)
    topology: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The folder name: what `run_name` was when the run was written."""
        return self.path.name

    @property
    def metric_name(self) -> str:
        return str(self.summary.get("metric_name", "metric"))

    @property
    def higher_is_better(self) -> bool:
        return bool(self.summary.get("higher_is_better", True))


def _cell(kind: Callable[[str], Any], text: str) -> Any:
    if kind is _STR:
        return text
    if text.strip() == "":
        return None
    try:
        return kind(text)
    except ValueError:
        return float(text) if kind is _INT else text  # "3.0" in an int column stays usable


def _read_csv(path: Path) -> list[Row]:
    if not path.is_file():
        return []
    schema = _SCHEMAS.get(path.name, {})
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            {k: _cell(schema.get(k, _STR), v if v is not None else "") for k, v in row.items()}
            for row in csv.DictReader(fh)
        ]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FedsimError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise FedsimError(f"{path}: expected a JSON object")
    return data


def load_run(path: str | Path) -> RunData:
    """Load a results folder; a missing folder or summary.json is a user mistake."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise FedsimError(f"no run folder at {run_dir}")
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise FedsimError(f"{run_dir} is not a finished run (no summary.json)")
    config_path = run_dir / "config.yaml"
    config: Any = {}
    if config_path.is_file():
        try:
            config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise FedsimError(f"{config_path}: not valid YAML") from exc
    topo_path = run_dir / "topology.json"
    return RunData(
        path=run_dir,
        summary=_read_json(summary_path),
        config=config if isinstance(config, dict) else {},
        rounds=_read_csv(run_dir / "rounds.csv"),
        links=_read_csv(run_dir / "links.csv"),
        timeline=_read_csv(run_dir / "timeline.csv"),
        clients=_read_csv(run_dir / "clients.csv"),
        topology=_read_json(topo_path) if topo_path.is_file() else {},
    )


def load_runs(paths: list[str | Path] | tuple[str | Path, ...]) -> list[RunData]:
    """Load several runs in order; at least one is needed to say anything."""
    if not paths:
        raise FedsimError("no run folders given")
    return [load_run(p) for p in paths]


def parse_causes(text: str | None) -> dict[str, int]:
    """`"deadline:3;link_down:2"` -> {"deadline": 3, "link_down": 2}; empty -> {}."""
    out: dict[str, int] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        cause, _, count = part.partition(":")
        try:
            n = int(count) if count.strip() else 1
        except ValueError:
            n = 1
        out[cause.strip()] = out.get(cause.strip(), 0) + n
    return out


def run_labels(runs: list[RunData]) -> list[str]:
    """Short unique labels: the folder name, or parent/name when two folders share it."""
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
