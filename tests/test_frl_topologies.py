"""The federated-RL topologies run through the whole FL stack, deterministically."""

from __future__ import annotations

from pathlib import Path

import pytest
from topo import assert_same_run, rows

from fedsim.run import run_scenario

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["fl.rounds=2"]


@pytest.mark.parametrize(
    ("topology", "metric", "lo", "hi"),
    [
        ("frl_cartpole_lte.yaml", "mean_return", 1.0, 500.0),
        ("frl_energy_lora.yaml", "fraction_of_optimal", 0.0, 1.0),
        ("frl_multichannel_nbiot.yaml", "fraction_of_optimal", 0.0, 1.0),
    ],
)
def test_frl_topology_runs_deterministically(
    tmp_path: Path, topology: str, metric: str, lo: float, hi: float
) -> None:
    path = ROOT / "topologies" / topology
    a = run_scenario(path, overrides=SHORT, out_root=tmp_path / "a")
    b = run_scenario(path, overrides=SHORT, out_root=tmp_path / "b")
    sa = assert_same_run(a, b)
    assert sa["metric_name"] == metric
    assert sa["rounds"] == 2
    rounds = rows(a / "rounds.csv")
    assert all(r["accepted"] == "1" for r in rounds)
    assert all(lo <= float(r["metric"]) <= hi for r in rounds)
