"""Write a run's folder: config.yaml, rounds.csv, links.csv, timeline.csv, clients.csv,
topology.json, summary.json (format: docs/results.md). summary.json also records which code
made the run (`"code"`, fedsim.record.fingerprint)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fedsim.record.fingerprint import code_fingerprint

__all__ = ["ROUND_COLUMNS", "write_csv", "write_json", "write_run"]

ROUND_COLUMNS = (
    "round", "sim_time_s", "selected", "reported", "failed", "accepted", "deployed_version",
    "bytes_up", "bytes_down", "wire_bytes_up", "wire_bytes_down", "metric", "failed_causes",
    "candidate_metric", "federated_metric",
)  # fmt: skip
LINK_COLUMNS = (
    "link", "a", "b", "kind", "direction", "payload_bytes", "wire_bytes", "packets",
    "retransmissions", "drops", "busy_fraction", "down_time_s",
)  # fmt: skip
TIMELINE_COLUMNS = ("client", "state", "start_s", "end_s", "cause")
CLIENT_COLUMNS = (
    "client", "device", "gateway", "rounds_selected", "rounds_reported", "bytes_up",
    "bytes_down", "energy_compute_j", "energy_radio_j", "dropouts", "env_episodes", "env_steps",
)  # fmt: skip


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 9)) if math.isfinite(v) else ""
    return v


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([_cell(row[c]) for c in columns])


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 9) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(_clean(dict(data)), indent=2, sort_keys=True) + "\n", "utf-8")


def write_run(
    out: Path,
    *,
    config: Mapping[str, Any],
    rounds: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    timeline: Iterable[Mapping[str, Any]],
    clients: Iterable[Mapping[str, Any]],
    topology: Mapping[str, Any],
    summary: Mapping[str, Any],
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(
        yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), "utf-8"
    )
    write_csv(out / "rounds.csv", ROUND_COLUMNS, rounds)
    write_csv(out / "links.csv", LINK_COLUMNS, links)
    write_csv(out / "timeline.csv", TIMELINE_COLUMNS, timeline)
    write_csv(out / "clients.csv", CLIENT_COLUMNS, clients)
    write_json(out / "topology.json", topology)
    # summary.json last: its presence marks a finished run (fedsim sweep resumes on it).
    write_json(out / "summary.json", {"code": code_fingerprint(), **summary})
    return out
