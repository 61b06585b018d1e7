"""Write a run's folder: config.yaml, rounds.csv, links.csv, timeline.csv, clients.csv,
ledger.csv, topology.json, model.npy, summary.json (format: docs/results.md, generated from
`fedsim.record.schema`). Every table is written from its typed rows, so a column cannot
be misspelt or forgotten."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fedsim.record.deployed_model import MODEL_FILE, write_model
from fedsim.record.fingerprint import code_fingerprint
from fedsim.record.schema import ClientRow, LedgerRow, LinkRow, RoundRow, Summary, TimelineRow
from fedsim.record.tables import write_json, write_summary, write_table
from fedsim.run_folder import config_text

__all__ = ["write_json", "write_run"]


def write_run(
    out: Path,
    *,
    config: Mapping[str, Any],
    rounds: Sequence[RoundRow],
    links: Sequence[LinkRow],
    timeline: Sequence[TimelineRow],
    clients: Sequence[ClientRow],
    topology: Mapping[str, Any],
    summary: Summary,
    ledger: Sequence[LedgerRow] = (),
    model: np.ndarray | None = None,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    if model is not None:
        write_model(out / MODEL_FILE, model)
    (out / "config.yaml").write_text(config_text(config), "utf-8")
    write_table(out / "rounds.csv", RoundRow, rounds)
    write_table(out / "links.csv", LinkRow, links)
    write_table(out / "timeline.csv", TimelineRow, timeline)
    write_table(out / "clients.csv", ClientRow, clients)
    write_table(out / "ledger.csv", LedgerRow, ledger)
    write_json(out / "topology.json", topology)
    # summary.json last: its presence marks a finished run (fedsim sweep resumes on it).
    # It records the code that wrote it, whatever the caller put there.
    write_summary(out / "summary.json", replace(summary, code=code_fingerprint()))
    return out
