"""The federated-RL topologies run through the whole FL stack, deterministically."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fedsim.run import run_scenario

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["fl.rounds=2"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("topology", "metric", "lo", "hi"),
    [
        ("frl_cartpole_lte.yaml", "mean_return", 1.0, 500.0),
        ("frl_energy_lora.yaml", "fraction_of_optimal", 0.0, 1.0),
    ],
)
def test_frl_topology_runs_deterministically(
    tmp_path: Path, topology: str, metric: str, lo: float, hi: float
) -> None:
    path = ROOT / "topologies" / topology
    a = run_scenario(path, overrides=SHORT, out_root=tmp_path / "a")
    b = run_scenario(path, overrides=SHORT, out_root=tmp_path / "b")
    for name in ("rounds.csv", "clients.csv", "timeline.csv", "links.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    sa.pop("wall_time_s")
    sb.pop("wall_time_s")
    assert sa == sb
    assert sa["metric_name"] == metric
    assert sa["rounds"] == 2
    rounds = _rows(a / "rounds.csv")
    assert all(r["accepted"] == "1" for r in rounds)
    assert all(lo <= float(r["metric"]) <= hi for r in rounds)
