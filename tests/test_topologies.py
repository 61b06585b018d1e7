"""The topology library: every file validates and runs; the outage one shows its outage."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fedsim.run import run_scenario
from fedsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "topologies").glob("*.yaml"))
SHORT = ["fl.rounds=2", "fl.target=null"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_the_library_is_there() -> None:
    names = {p.stem for p in LIBRARY}
    assert names >= {
        "wifi_home", "lora_farm", "nbiot_city", "lte_vehicles", "factory",
        "gateway_partition", "flaky_backhaul",
    }  # fmt: skip


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_topology_validates_and_runs_short(path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    assert text.lstrip().startswith("#"), "a library topology starts with its documentation"
    scenario = load_scenario(path)
    assert scenario.device_nodes
    out = run_scenario(path, overrides=SHORT, out_root=tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    assert 1 <= summary["rounds"] <= 2
    assert summary["bytes_up"] > 0


def test_gateway_partition_drops_every_device_behind_the_failed_elements(tmp_path: Path) -> None:
    """gw-a dies at 10 min for 15 min, a partition cuts gw-b (and gw-c behind it) at
    40 min for 10 min: the rounds in flight lose exactly those devices, with causes."""
    out = run_scenario(ROOT / "topologies/gateway_partition.yaml", out_root=tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dropouts"] == {"gateway_down": 4, "partition": 8}
    rounds = _rows(out / "rounds.csv")
    causes = [r["failed_causes"] for r in rounds if r["failed_causes"]]
    assert causes == ["gateway_down:4", "partition:8"]
    # While gw-a is down only the 8 devices of buildings B and C are selected; while
    # B and C are cut off, only building A's 4.
    during_a = [r for r in rounds if 600 + 60 < float(r["sim_time_s"]) < 1500]
    during_bc = [r for r in rounds if 2400 + 60 < float(r["sim_time_s"]) < 3000]
    assert during_a
    assert during_bc
    assert all(r["selected"] == "8" for r in during_a)
    assert all(r["selected"] == "4" for r in during_bc)
    assert float(rounds[-1]["metric"]) > 0.9
    timeline = _rows(out / "timeline.csv")
    offline = {(r["client"], float(r["start_s"]), float(r["end_s"]))
               for r in timeline if r["state"] == "offline"}  # fmt: skip
    assert {(f"a-{i}", 600.0, 1500.0) for i in range(1, 5)} <= offline
    assert {(f"{b}-{i}", 2400.0, 3000.0) for b in "bc" for i in range(1, 5)} <= offline
    links = {(r["link"], r["direction"]): float(r["down_time_s"]) for r in _rows(out / "links.csv")}
    for i in range(1, 5):
        assert links[(f"a-{i}-gw-a", "up")] == pytest.approx(900)
        assert links[(f"b-{i}-gw-b", "up")] == 0  # the cut is upstream of the Wi-Fi
    assert links[("gw-a-server", "up")] == pytest.approx(900)
    assert links[("gw-b-server", "up")] == pytest.approx(600)
    assert links[("gw-c-gw-b", "up")] == 0
