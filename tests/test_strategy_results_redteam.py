"""Red-team findings on strategies (round 2): what robust and async strategies computed
reaches rounds.csv; weakened defences, adversaries and ignored settings are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from topo import rows, tiny_topology

from fedsim.errors import ScenarioError
from fedsim.run import RunResult, run_scenario, simulate
from fedsim.scenario import parse_scenario

STRATEGY_COLUMNS = ("krum_f", "krum_selected", "trimmed_per_side")
ASYNC_COLUMNS = ("staleness_mean", "staleness_max", "staleness_discount")


def _simulate(topo: dict[str, Any]) -> tuple[RunResult, list[str]]:
    lines: list[str] = []
    return simulate(parse_scenario(topo), warn=lines.append), lines


def test_krum_rounds_and_adversaries_are_in_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topo = tiny_topology(fl__strategy="{name: krum, f: 2}")
    topo["adversaries"] = {"fraction": "25%", "kind": "sign_flip"}
    path = tmp_path / "krum.yaml"
    path.write_text(yaml.safe_dump(topo))
    out = run_scenario(path, out_root=tmp_path)
    stderr = capsys.readouterr().err
    assert "fedsim: warning: fl.strategy.f: krum tolerates f=2" in stderr
    assert "it runs with f=1" in stderr
    assert "fl.strategy: 3 of 3 rounds ran with a weaker defence than configured" in stderr

    table = rows(out / "rounds.csv")
    assert [(r["krum_f"], r["krum_selected"], r["trimmed_per_side"]) for r in table] == [
        ("1", "1", "")
    ] * 3
    assert all(r[c] == "" for r in table for c in ASYNC_COLUMNS)
    clients = rows(out / "clients.csv")
    byzantine = [c["client"] for c in clients if c["adversary"] == "sign_flip"]
    assert len(byzantine) == 1
    assert sum(c["adversary"] == "" for c in clients) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["adversaries"] == byzantine
    per_round = sum(int(r["adversarial_updates"]) for r in table)
    assert summary["adversarial_updates"] == per_round
    reported = next(c for c in clients if c["client"] == byzantine[0])["rounds_reported"]
    assert per_round == int(reported) > 0
    deployed = sum(int(r["adversarial_updates"]) for r in table if r["accepted"] == "1")
    assert summary["adversarial_updates_deployed"] == deployed
    assert summary["weakened_rounds"] == 3


def test_trimmed_mean_that_trims_nothing_is_warned_and_counted() -> None:
    topo = tiny_topology(fl__strategy="{name: trimmed_mean, beta: 0.1}")
    (load,) = parse_scenario(topo).warnings
    assert load.startswith("fl.strategy.beta: trimmed_mean trims floor(0.1 x 4) = 0")
    result, lines = _simulate(topo)
    assert [r.trimmed_per_side for r in result.rounds] == [0, 0, 0]
    assert result.summary.weakened_rounds == 3
    assert [ln for ln in lines if "weaker defence" in ln] == [
        "fl.strategy: 3 of 3 rounds ran with a weaker defence than configured, e.g. "
        "trimmed_mean trimmed nothing (floor(beta=0.1 x reported) = 0) "
        "(rounds.csv krum_f / trimmed_per_side)"
    ]


def test_trimmed_mean_that_trims_is_quiet() -> None:
    topo = tiny_topology(fl__strategy="{name: trimmed_mean, beta: 0.25}")
    assert parse_scenario(topo).warnings == ()
    result, lines = _simulate(topo)
    assert [r.trimmed_per_side for r in result.rounds] == [1, 1, 1]
    assert result.summary.weakened_rounds == 0
    assert not [ln for ln in lines if "weaker defence" in ln]


def test_fedavg_leaves_the_strategy_columns_blank_and_names_no_adversary() -> None:
    result, _ = _simulate(tiny_topology())
    assert all(r[c] is None for r in result.rounds for c in STRATEGY_COLUMNS + ASYNC_COLUMNS)
    assert all(r.update_norm is not None for r in result.rounds)  # every strategy's step
    assert all(r.adversarial_updates is None for r in result.rounds)
    assert all(c.adversary == "" for c in result.clients)
    s = result.summary
    assert (s.adversaries, s.adversarial_updates, s.weakened_rounds) == (None, None, None)


def test_server_momentum_reports_its_step_norm() -> None:
    result, _ = _simulate(tiny_topology(fl__strategy="fedavgm"))
    assert all((r.update_norm or 0) > 0 for r in result.rounds)
    assert all((r.krum_f, r.staleness_mean) == (None, None) for r in result.rounds)


def test_async_staleness_reaches_rounds_csv() -> None:
    topo = tiny_topology(fl__engine="async", fl__async__buffer=2, fl__rounds=4)
    result, _ = _simulate(topo)
    assert result.rounds
    for r in result.rounds:
        assert r.staleness_mean is not None
        assert r.staleness_max is not None
        assert 0 <= r.staleness_mean <= r.staleness_max
        assert r.staleness_discount is not None
        assert 0 < r.staleness_discount <= 1
        assert r.update_norm is not None
        assert (r.krum_f, r.trimmed_per_side) == (None, None)


@pytest.mark.parametrize(
    "changes",
    [{"fl__local__mu": 5}, {"fl__local__mu": 5, "fl__engine": "async"}],
)
def test_mu_outside_fedprox_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError, match=r"^fl\.local\.mu: the proximal term is FedProx's"):
        parse_scenario(tiny_topology(**changes))


def test_mu_with_fedprox_or_zero_is_accepted() -> None:
    assert parse_scenario(tiny_topology(fl__strategy="fedprox", fl__local__mu=5)).fl.strategy == (
        "fedprox"
    )
    assert parse_scenario(tiny_topology(fl__local__mu=0)).warnings == ()


@pytest.mark.parametrize(
    ("changes", "start"),
    [
        ({"fl__async__buffer": 3}, "fl.async: FedBuff settings, but fl.engine is sync"),
        ({"fl__selection_floor": 0.2}, "fl.selection_floor: only fl.selection reliability"),
        ({"fl__local__episodes": 3}, "fl.local.episodes: RL training settings, but task digits"),
        ({"fl__strategy": "{name: krum, f: 2}"}, "fl.strategy.f: krum tolerates f=2"),
        ({"fl__strategy": "{name: krum, f: 1}"}, "fl.strategy.f: krum's guarantee against f=1"),
    ],
)
def test_ignored_or_weakened_settings_warn_at_load(changes: dict[str, Any], start: str) -> None:
    (line,) = parse_scenario(tiny_topology(**changes)).warnings
    assert line.startswith(start)


def test_fedbuff_settings_beside_an_explicit_sync_engine_are_a_prepared_switch() -> None:
    topo = tiny_topology(fl__engine="sync", fl__async__buffer=3)
    assert parse_scenario(topo).warnings == ()
    reliable = tiny_topology(fl__selection="reliability", fl__selection_floor=0.2)
    assert parse_scenario(reliable).warnings == ()
    assert parse_scenario(tiny_topology(fl__strategy="{name: krum, f: 0}")).warnings == ()
