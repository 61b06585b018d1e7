"""Whole runs: results folder, determinism, dropouts with their cause."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from topo import assert_same_run, rows, tiny_topology

from fedsim.run import run_scenario

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["fl.rounds=4", "fl.target=null"]


def test_default_topology_is_deterministic(tmp_path: Path) -> None:
    a = run_scenario(ROOT / "topologies/default.yaml", overrides=SHORT, out_root=tmp_path / "a")
    b = run_scenario(ROOT / "topologies/default.yaml", overrides=SHORT, out_root=tmp_path / "b")
    sa = assert_same_run(a, b)
    assert sa["rounds"] == 4
    assert set(rows(a / "rounds.csv")[0]) >= {
        "round", "sim_time_s", "selected", "reported", "failed", "bytes_up", "bytes_down", "metric",
    }  # fmt: skip


def test_a_different_seed_changes_the_run(tmp_path: Path) -> None:
    a = run_scenario(ROOT / "topologies/default.yaml", overrides=SHORT, out_root=tmp_path, seed=1)
    b = run_scenario(ROOT / "topologies/default.yaml", overrides=SHORT, out_root=tmp_path, seed=2)
    assert json.loads((a / "summary.json").read_text())["seed"] == 1
    assert json.loads((b / "summary.json").read_text())["seed"] == 2
    assert (a / "rounds.csv").read_text() != (b / "rounds.csv").read_text()


def test_gateway_outage_mid_round_records_dropouts_with_cause(tmp_path: Path) -> None:
    """The gateway dies while the selected devices train: the round records a
    dropout per selected device with cause gateway_down, and the model is kept.
    (What the hour of outage costs in wall time is a ratio in bench/run_all.py.)"""
    topo = tiny_topology(fl__rounds=3, fl__round_interval="10s")
    # rpi4s train in ~1 ms: slow devices (~5 s per round) put the outage mid-round.
    topo["devices"] = {"slow": {"like": "esp32", "compute": "280kFLOPS"}}
    topo["nodes"][2]["device"] = "slow"
    topo["failures"] = [{"node": "gw", "at": "12s", "duration": "1h"}]
    path = tmp_path / "outage.yaml"
    path.write_text(yaml.safe_dump(topo))
    out = run_scenario(path, out_root=tmp_path)
    rounds = rows(out / "rounds.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert rounds[0]["accepted"] == "1"
    second = rounds[1]
    assert second["reported"] == "0"
    assert second["failed"] == "4"
    assert second["failed_causes"] == "gateway_down:4"
    assert second["accepted"] == "0"
    assert second["deployed_version"] == rounds[0]["deployed_version"]
    assert summary["dropouts"] == {"gateway_down": 4}
    # Round 3 waits for the gateway: it starts only after the hour-long outage.
    assert float(rounds[2]["sim_time_s"]) > 12 + 3600
    timeline = rows(out / "timeline.csv")
    offline = [r for r in timeline if r["state"] == "offline"]
    assert {r["client"] for r in offline} == {"dev-1", "dev-2", "dev-3", "dev-4"}
    assert all(abs(float(r["start_s"]) - 12.0) < 1e-9 for r in offline)
    links = {(r["link"], r["direction"]): r for r in rows(out / "links.csv")}
    assert float(links[("gw-server", "up")]["down_time_s"]) > 3000
    assert float(links[("dev-1-gw", "up")]["down_time_s"]) > 3000


def test_federated_evaluation_is_recorded(tmp_path: Path) -> None:
    out = run_scenario(
        ROOT / "topologies/default.yaml",
        overrides=[*SHORT, "fl.local.federated_eval=true"],
        out_root=tmp_path,
    )
    table = rows(out / "rounds.csv")
    fed = [float(r["federated_metric"]) for r in table]
    assert all(0.0 <= f <= 1.0 for f in fed)
    # Clients score the model they received, i.e. the one deployed before the round.
    assert fed[-1] > fed[0]
    assert float(table[0]["candidate_metric"]) == float(table[0]["metric"])


def test_no_cyclic_collection_from_set_up_to_results() -> None:
    """The collector stays off for a whole run, set-up included (it only rescanned
    live objects), and is back on afterwards."""
    import gc
    import sys

    from fedsim.run import _simulate, simulate
    from fedsim.scenario import parse_scenario

    sc = parse_scenario(tiny_topology(fl__rounds=2))
    collections: list[str] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        frame = sys._getframe(1)
        while phase == "start" and frame is not None:  # a collection inside the run?
            if frame.f_code is _simulate.__code__:
                collections.append(f"generation {info['generation']}")
                break
            frame = frame.f_back

    gc.collect()
    threshold = gc.get_threshold()
    gc.set_threshold(1)  # any allocation would set one off if the collector were on
    gc.callbacks.append(seen)
    try:
        simulate(sc, audit=False)
    finally:
        gc.callbacks.remove(seen)
        gc.set_threshold(*threshold)
    assert collections == []
    assert gc.isenabled()
