"""Client selection: uniform and reliability-weighted (fedsim.fl.selection)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from topo import assert_same_run, rows, tiny_topology

from fedsim.errors import ScenarioError
from fedsim.fl.messages import ClientInfo
from fedsim.fl.selection import Selection, reliability, reliability_weights, sample_clients
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.fl.strategies.fedprox import FedProx
from fedsim.fl.strategies.registry import build_strategy
from fedsim.run import run_scenario
from fedsim.scenario import parse_scenario
from fedsim.schema import topology_schema


def info(cid: str, selected: int = 0, reported: int = 0) -> ClientInfo:
    """A client needed `selected` times that reported `reported` of them."""
    return ClientInfo(cid, 10, rounds_selected=selected, rounds_reported=reported,
                      rounds_failed=selected - reported)  # fmt: skip


# -- weights and sampling ---------------------------------------------------------------
def test_weights_are_the_beta_posterior_mean_with_a_floor() -> None:
    clients = [info("new"), info("good", 5, 5), info("half", 4, 2), info("bad", 50, 0)]
    w = reliability_weights(clients, floor=0.1)
    np.testing.assert_allclose(w, [1 / 2, 6 / 7, 3 / 6, 0.1])  # bad: 1/52 -> the floor
    np.testing.assert_allclose(reliability_weights(clients, floor=1.0), 1.0)


@pytest.mark.parametrize("policy", ["uniform", "reliability"])
def test_never_picks_more_than_available_nor_twice(policy: str) -> None:
    sel = Selection(policy)
    clients = [info(f"c{i}", 3, i % 4) for i in range(7)]
    rng = np.random.default_rng(0)
    for k in range(1, 10):
        chosen = sel.choose(clients, k, rng)
        ids = [c.client_id for c in chosen]
        assert len(ids) == min(k, len(clients))
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids)  # a stable order, whatever the draw


def test_the_draw_is_deterministic_for_a_seed() -> None:
    clients = [info(f"c{i:02d}", 5, i % 6) for i in range(20)]
    sel = Selection("reliability")

    def draws(seed: int) -> list[list[str]]:
        rng = np.random.default_rng(seed)
        return [[c.client_id for c in sel.choose(clients, 5, rng)] for _ in range(20)]

    assert draws(4) == draws(4)
    assert draws(4) != draws(5)


def test_unreliable_clients_are_picked_far_less_but_still_picked() -> None:
    good = [info(f"good{i}", 5, 5) for i in range(5)]
    bad = [info(f"bad{i}", 5, 0) for i in range(5)]
    sel = Selection("reliability", floor=0.1)
    rng = np.random.default_rng(1)
    picks: Counter[str] = Counter()
    for _ in range(2000):
        for c in sel.choose(bad + good, 2, rng):
            picks[c.client_id[:-1]] += 1
    # weights 6/7 vs 1/7: a bad client is picked about 1/5 as often as a good one
    assert picks["bad"] < 0.3 * picks["good"]
    assert picks["bad"] > 0.05 * 2 * 2000

    # 0 reports in 50 selections: 1/52 alone would starve it; the floor keeps it explored
    starved = [info("bad", 50, 0), info("good", 50, 50)]
    hits = sum(sel.choose(starved, 1, rng)[0].client_id == "bad" for _ in range(2000))
    assert 0.06 * 2000 < hits < 0.13 * 2000  # 0.1 / (0.1 + 51/52) = 9 %


def test_uniform_is_the_legacy_draw() -> None:
    """`uniform` consumes the rng exactly as before, so existing runs stay identical."""
    clients = [info(f"c{i}") for i in (3, 1, 4, 0, 2, 5)]
    got = sample_clients(clients, 3, np.random.default_rng(9))
    ordered = sorted(clients, key=lambda c: c.client_id)
    idx = np.sort(np.random.default_rng(9).choice(len(ordered), size=3, replace=False))
    assert got == [ordered[i] for i in idx]
    plan = FedAvg(clients_per_round=3).configure_round(1, 0, clients, np.random.default_rng(9))
    assert [c for c, _ in plan] == got


def test_strategies_take_the_policy_and_subclasses_keep_configure_round() -> None:
    s = build_strategy("fedprox", {"mu": 0.2}, clients_per_round=1, selection="reliability")
    assert isinstance(s, FedProx)
    assert s.selection == Selection("reliability", 0.1)
    clients = [info("a", 9, 9), info("b", 9, 0)]
    plan = s.configure_round(1, 0, clients, np.random.default_rng(0))
    assert len(plan) == 1
    assert plan[0][1].config["mu"] == 0.2
    with pytest.raises(ValueError, match="unknown selection 'best'"):
        FedAvg(selection="best")
    for floor in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"floor must lie in \(0, 1\]"):
            FedAvg(selection="reliability", selection_floor=floor)


# -- the topology keys --------------------------------------------------------------------
def test_the_keys_default_to_uniform() -> None:
    fl = parse_scenario(tiny_topology()).fl
    assert (fl.selection, fl.selection_floor) == ("uniform", 0.1)
    fl = parse_scenario(tiny_topology(fl__selection="reliability", fl__selection_floor=0.25)).fl
    assert (fl.selection, fl.selection_floor) == ("reliability", 0.25)
    props = topology_schema()["properties"]["fl"]["properties"]
    assert props["selection"]["enum"] == ["uniform", "reliability"]
    assert props["selection_floor"]["exclusiveMinimum"] == 0


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"fl__selection": "best"}, "fl.selection", "'best' is not one of uniform, reliability"),
        ({"fl__selection": 3}, "fl.selection", "expected a name"),
        ({"fl__selection_floor": 0}, "fl.selection_floor", r"must lie in \(0, 1\]"),
        ({"fl__selection_floor": 1.5}, "fl.selection_floor", r"must lie in \(0, 1\]"),
        ({"fl__selection_floor": "high"}, "fl.selection_floor", "expected a number"),
        (
            {"fl__selection": "reliability", "fl__engine": "async"},
            "fl.selection",
            "needs the sync engine",
        ),
    ],
)
def test_bad_values_name_the_key(changes: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ScenarioError, match=words) as err:
        parse_scenario(tiny_topology(**changes))
    assert err.value.path == path
    assert "\n" not in str(err.value)


# -- whole runs ---------------------------------------------------------------------------
def _flaky(tmp_path: Path, selection: str) -> Path:
    """4 fast devices and 4 that always miss the 10 s deadline; 2 of 8 per round, a
    round a minute (the slow ones are back polling by then)."""
    topo = tiny_topology(
        fl__rounds=20,
        fl__clients_per_round=2,
        fl__min_available=6,
        fl__deadline="10s",
        fl__round_interval="60s",
        fl__selection=selection,
    )
    topo["devices"] = {"slow": {"like": "esp32", "compute": "20kFLOPS"}}
    topo["nodes"][2]["count"] = 4
    topo["nodes"].append({"name": "lag", "kind": "device", "count": 4, "device": "slow",
                          "uplink": {"to": "gw", "link": "wifi"}})  # fmt: skip
    path = tmp_path / f"{selection}.yaml"
    path.write_text(yaml.safe_dump(topo))
    return path


def test_reliability_selection_drops_out_less_than_uniform(tmp_path: Path) -> None:
    dropouts = {}
    for selection in ("uniform", "reliability"):
        out = run_scenario(_flaky(tmp_path, selection), out_root=tmp_path / selection)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["rounds"] == 20
        dropouts[selection] = sum(summary["dropouts"].values())
        clients = {r["client"]: r for r in rows(out / "clients.csv")}
        # The engine counts every selection and only accepted reports: failures lower the rate.
        lag = [clients[f"lag-{i}"] for i in range(1, 5)]
        assert all(r["rounds_reported"] == "0" for r in lag)
        assert sum(int(r["rounds_selected"]) for r in lag) == dropouts[selection]
        if selection == "reliability":
            assert all(int(r["rounds_selected"]) >= 1 for r in lag)  # still explored
    assert dropouts["reliability"] < 0.75 * dropouts["uniform"]


def test_reliability_runs_are_deterministic(tmp_path: Path) -> None:
    path = _flaky(tmp_path, "reliability")
    a = run_scenario(path, out_root=tmp_path / "a", overrides=["fl.rounds=8"])
    b = run_scenario(path, out_root=tmp_path / "b", overrides=["fl.rounds=8"])
    assert_same_run(a, b)


def test_unneeded_over_selected_reports_do_not_count_against_a_client() -> None:
    """Selected 10 times, reported 2, failed 0 (the other 8 came after the round had
    filled up): its weight is that of a client with no evidence against it."""
    late = ClientInfo("late", 10, rounds_selected=10, rounds_reported=2, rounds_failed=0)
    assert reliability(late) == pytest.approx(3 / 4)
    assert reliability(info("bad", selected=10, reported=2)) == pytest.approx(3 / 12)
