"""A run always ends, with audited results, and says why it ended early.

The red-team cases (F8): devices gone for good (batteries, a gateway failed forever,
churn) used to end in a `SimulationDeadlock` traceback or never end; `fl.time_limit`
(F4) used to be overrun by up to one deadline. Each case is small and in simulated time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.audit import AuditError, audit
from fedsim.errors import ScenarioError
from fedsim.run import RunResult, run_scenario, simulate
from fedsim.run_end import STALL_FACTOR, auto_stall_limit, last_scheduled_return
from fedsim.scenario import parse_scenario


def _run(topo: dict[str, Any], *, audited: bool = True) -> tuple[RunResult, list[str]]:
    """Simulate and audit (a violation raises); the warnings it printed."""
    warnings: list[str] = []
    result = simulate(parse_scenario(topo), warn=warnings.append, audit=audited)
    return result, warnings


def _slow(topo: dict[str, Any], flops: str) -> dict[str, Any]:
    """The devices train at `flops`: digits takes seconds to minutes a round."""
    topo["devices"] = {"slow": {"like": "rpi4", "compute": flops}}
    topo["nodes"][2]["device"] = "slow"
    return topo


def _ended(result: RunResult, reason: str, warnings: list[str]) -> None:
    s = result.summary
    assert s.end_reason == reason
    assert s.end_note
    line = [w for w in warnings if "ended early" in w]
    assert len(line) == 1, warnings
    assert f"({reason})" in line[0]
    assert f"t={s.sim_time_s:g} s" in line[0]


def _battery_topology() -> dict[str, Any]:
    """t8_battery.yaml, smaller: LTE tags with 40 J batteries, every one runs dry."""
    topo = tiny_topology(
        fl__rounds=8, fl__clients_per_round=3, fl__min_available=3, fl__deadline="2min",
        fl__quorum=0.3, fl__round_interval="1min",
    )  # fmt: skip
    topo["devices"] = {"tag": {"like": "esp32", "battery": "40J"}}
    topo["links"]["lte"] = {"kind": "lte", "bandwidth_up": "200kbps",
                            "bandwidth_down": "1Mbps", "latency": "40ms"}  # fmt: skip
    dev = topo["nodes"][2]
    dev.update(device="tag", uplink={"to": "gw", "link": "lte"}, initial_charge=["30%", "100%"])
    return topo


def test_batteries_that_run_dry_end_the_run_with_results(tmp_path: Path, capsys: Any) -> None:
    topo = _battery_topology()
    path = tmp_path / "battery.yaml"
    path.write_text(json.dumps(topo))
    folder = run_scenario(path, out_root=tmp_path / "out")  # audited; raises on a violation
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["end_reason"] == "devices_lost"
    assert "battery" in summary["end_note"]
    assert 0 < summary["rounds"] < 8
    assert json.loads((folder / "audit.json").read_text())["violations"] == []
    for name in ("rounds.csv", "clients.csv", "links.csv", "timeline.csv", "ledger.csv"):
        assert (folder / name).is_file()
    err = capsys.readouterr().err
    assert "the run ended early" in err
    assert "(devices_lost)" in err


def test_a_gateway_failed_forever_from_the_start_ends_at_once_and_says_why() -> None:
    """base.yaml --set 'failures=[{node: gw, at: 0s, duration: forever}]'."""
    topo = tiny_topology()
    topo["failures"] = [{"node": "gw", "at": "0s", "duration": "forever"}]
    with pytest.raises(AuditError) as caught:
        _run(topo)
    result = caught.value.result
    assert [v.invariant for v in caught.value.violations] == ["rounds-completed"]
    assert "devices_lost" in caught.value.violations[0].detail
    assert "gateway_down 4" in caught.value.violations[0].detail
    assert result.summary.end_reason == "devices_lost"
    assert result.summary.sim_time_s == 0.0


def test_devices_whose_round_trip_outlasts_the_connect_timeout_end_the_run_at_once() -> None:
    """The outside audit's t9 (a 16 s satellite hop): no device can ever connect, so the
    run ends at t=0 naming the cause, not at fl.time_limit blaming fl.min_available."""
    topo = tiny_topology(links__wifi__latency="16s", fl__time_limit="1h")
    with pytest.raises(AuditError) as caught:
        _run(topo)
    result = caught.value.result
    assert result.summary.end_reason == "devices_lost"
    assert result.summary.sim_time_s == 0.0
    assert "lost for good: connect_timeout 4" in result.summary.end_note
    near, _ = _run(tiny_topology(links__wifi__latency="14s", fl__rounds=1))
    assert near.summary.end_reason != "devices_lost"  # a 28 s round trip connects


def test_the_cli_reports_a_zero_round_run_in_one_line(tmp_path: Path) -> None:
    from fedsim.cli.app import main

    topo = tiny_topology(fl__rounds=1)
    topo["failures"] = [{"node": "gw", "at": "0s", "duration": "forever"}]
    path = tmp_path / "gone.yaml"
    path.write_text(json.dumps(topo))
    code = main(["run", str(path), "--quiet", "--no-plots", "--out", str(tmp_path / "out")])
    assert code == 2
    (folder,) = (tmp_path / "out").iterdir()
    assert json.loads((folder / "summary.json").read_text())["end_reason"] == "devices_lost"


def test_fewer_devices_left_than_min_available_ends_the_run() -> None:
    """t13_gw_forever.yaml: one of two gateways fails for good, 3 devices left, 4 needed."""
    topo = tiny_topology(
        fl__rounds=6, fl__clients_per_round=3, fl__min_available=4, fl__deadline="30s",
        fl__round_interval="20s",
    )  # fmt: skip
    topo["nodes"] = [
        {"name": "server", "kind": "server"},
        {"name": "gwa", "kind": "gateway", "uplink": {"to": "server", "link": "backhaul"}},
        {"name": "gwb", "kind": "gateway", "uplink": {"to": "server", "link": "backhaul"}},
        {"name": "a", "kind": "device", "count": 3, "device": "rpi4",
         "uplink": {"to": "gwa", "link": "wifi"}},
        {"name": "b", "kind": "device", "count": 3, "device": "rpi4",
         "uplink": {"to": "gwb", "link": "wifi"}},
    ]  # fmt: skip
    topo["failures"] = [{"node": "gwb", "at": "30s", "duration": "forever"}]
    result, warnings = _run(topo)
    _ended(result, "devices_lost", warnings)
    assert "gateway_down 3" in result.summary.end_note
    assert "fl.min_available=4" in result.summary.end_note
    assert 1 <= result.summary.rounds < 6


@pytest.mark.parametrize(("fraction", "min_available"), [("25%", 4), ("100%", 1)])
def test_churn_that_leaves_too_few_devices_ends_the_run(fraction: str, min_available: int) -> None:
    """t11_churn_minavail.yaml, and with every device churned out."""
    topo = tiny_topology(
        fl__rounds=5, fl__clients_per_round=3, fl__min_available=min_available,
        fl__round_interval="60s",
    )  # fmt: skip
    topo["nodes"][2]["churn"] = {"fraction": fraction, "after": "90s"}
    result, warnings = _run(topo)
    _ended(result, "devices_lost", warnings)
    assert "churn" in result.summary.end_note
    assert result.summary.rounds < 5


def test_the_async_engine_ends_once_no_device_can_come_back() -> None:
    topo = _slow(tiny_topology(fl__engine="async", fl__rounds=50, fl__async__buffer=2), "100kFLOPS")
    topo["failures"] = [{"node": "gw", "at": "20s", "duration": "forever"}]
    result, warnings = _run(topo)
    _ended(result, "devices_lost", warnings)
    assert result.summary.sim_time_s == pytest.approx(20.0)


def _stranded_topology(battery: str) -> dict[str, Any]:
    """The outside audit's t2: six Wi-Fi devices on small batteries behind a gateway
    whose aggregation node is down from 300 s to 540 s."""
    topo = tiny_topology(
        seed=4, fl__rounds=40, fl__clients_per_round=4, fl__min_available=2,
        fl__quorum=0.5, fl__round_interval="20s", task__model="softmax",
    )  # fmt: skip
    topo["devices"] = {"tiny": {"like": "esp32", "battery": battery}}
    topo["links"]["wifi"]["loss"] = 0.01
    topo["nodes"] = [
        {"name": "server", "kind": "server"},
        {"name": "agg", "kind": "gateway", "uplink": {"to": "server", "link": "backhaul"}},
        {"name": "gw", "kind": "gateway", "uplink": {"to": "agg", "link": "backhaul"}},
        {"name": "d", "kind": "device", "count": 6, "device": "tiny",
         "uplink": {"to": "gw", "link": "wifi"}},
    ]  # fmt: skip
    topo["failures"] = [{"node": "agg", "at": "5min", "duration": "4min"}]
    return topo


def test_a_battery_that_runs_dry_before_its_path_returns_is_lost() -> None:
    """A device offline until the outage ends, whose battery cannot last that long, can
    never be online again: the note counted it as one that could (\"only 1 device\")."""
    result, warnings = _run(_stranded_topology("6J"))
    _ended(result, "devices_lost", warnings)
    assert 300.0 < result.summary.sim_time_s < 540.0
    assert result.summary.end_note.startswith("no device can ever be online again")
    assert "(6 of 6 lost for good: battery 6)" in result.summary.end_note
    # Batteries that outlast the outage are waited for.
    result, _ = _run(_stranded_topology("60J"))
    assert result.summary.sim_time_s > 540.0


def test_a_long_outage_that_ends_is_waited_for() -> None:
    """Something scheduled brings the devices back: the run waits (here 2 h), neither
    giving up as lost nor as stalled (the auto stall limit is far shorter)."""
    topo = tiny_topology(fl__rounds=3, fl__deadline="30s", fl__round_interval="60s")
    topo["failures"] = [{"node": "gw", "at": "10s", "duration": "2h"}]
    sc = parse_scenario(topo)
    assert auto_stall_limit(sc) < 7200
    result, warnings = _run(topo)
    assert result.summary.end_reason == "rounds"
    assert result.summary.rounds == 3
    assert result.rounds[1].sim_time_s > 7210
    assert not [w for w in warnings if "ended early" in w]


def test_a_run_that_makes_no_progress_ends_at_the_stall_limit() -> None:
    """Async tasks that can never finish in time (deadline 2 s, training far longer):
    no aggregation ever, no time limit; devices are all there, so nothing is provably
    stuck. The safety net ends it."""
    topo = tiny_topology(fl__engine="async", fl__rounds=3, fl__async__buffer=2,
                         fl__deadline="2s", fl__stall_limit="10min")  # fmt: skip
    result, warnings = _run(_slow(topo, "10kFLOPS"), audited=False)
    _ended(result, "stall_limit", warnings)
    assert [v.invariant for v in audit(result)] == ["rounds-completed"]  # (0 rounds: loud)
    assert result.summary.sim_time_s == pytest.approx(600.0)
    assert "fl.stall_limit (600 s, set in the topology)" in result.summary.end_note


def test_the_auto_stall_limit_and_its_keys() -> None:
    sc = parse_scenario(tiny_topology(fl__deadline="1min", fl__round_interval="30s"))
    assert sc.fl.stall_limit_s is None
    assert auto_stall_limit(sc) == STALL_FACTOR * (60 + 30 + 30 + 120)
    sc = parse_scenario(tiny_topology(fl__engine="async", fl__async__buffer=4))
    assert auto_stall_limit(sc) == STALL_FACTOR * (4 * 60 + 30 + 120)
    assert parse_scenario(tiny_topology(fl__stall_limit="forever")).fl.stall_limit_s == math.inf
    assert parse_scenario(tiny_topology(fl__stall_limit="auto")).fl.stall_limit_s is None
    assert parse_scenario(tiny_topology(fl__stall_limit="2h")).fl.stall_limit_s == 7200
    with pytest.raises(ScenarioError, match=r"fl\.stall_limit: .*`auto`"):
        parse_scenario(tiny_topology(fl__stall_limit="soon"))
    with pytest.raises(ScenarioError, match=r"fl\.stall_limit: 60 s is not longer than fl\.dead"):
        parse_scenario(tiny_topology(fl__stall_limit="1min"))


def test_the_stall_watch_counts_from_the_last_scheduled_return() -> None:
    topo = tiny_topology(fl__time_limit="1h")
    topo["failures"] = [
        {"node": "gw", "at": "10s", "duration": "5min"},
        {"node": "dev-1", "at": "50min", "duration": "20min"},  # ends after the limit
    ]
    assert last_scheduled_return(parse_scenario(topo)) == 310.0


def _slow_round_topology(limit: str) -> dict[str, Any]:
    """t10_timelimit.yaml in spirit: rounds far longer than the time limit leaves."""
    topo = tiny_topology(fl__rounds=3, fl__deadline="40min", fl__time_limit=limit)
    return _slow(topo, "2kFLOPS")


def test_the_time_limit_ends_the_run_at_the_limit() -> None:
    """F4: the round open at the limit closes then (it used to run to its deadline),
    and a failure that starts after the limit never happens: no down time."""
    topo = _slow_round_topology("300s")
    topo["failures"] = [{"link": "gw", "at": "310s", "duration": "2min"}]
    result, warnings = _run(topo)
    assert result.summary.sim_time_s == 300.0
    _ended(result, "time_limit", warnings)
    assert "closed then, before its deadline" in result.summary.end_note
    assert all(r.down_time_s == 0 for r in result.links)
    assert result.rounds[-1].sim_time_s == 300.0
    assert any("it never happens" in w for w in parse_scenario(topo).warnings)


def test_an_outage_at_the_time_limit_is_counted_up_to_it() -> None:
    topo = _slow_round_topology("300s")
    topo["failures"] = [{"link": "gw", "at": "250s", "duration": "2min"}]
    result, _ = _run(topo)
    assert result.summary.sim_time_s == 300.0
    (gw,) = {r.down_time_s for r in result.links if r.link == "gw-server"}
    assert gw == pytest.approx(50.0)


def test_a_run_that_finishes_says_so() -> None:
    result, warnings = _run(tiny_topology(fl__rounds=2))
    assert result.summary.end_reason == "rounds"
    assert result.summary.end_note is None
    assert not [w for w in warnings if "ended early" in w]
    assert not audit(result)


def test_a_sweep_says_how_many_runs_ended_early() -> None:
    from fake_results import fake_summary

    from fedsim.record.aggregate import PointStats, early_end_warnings
    from fedsim.record.runs import RunData

    def run(name: str, reason: str, note: str | None) -> RunData:
        return RunData(Path(name), fake_summary(end_reason=reason, end_note=note))

    ok = PointStats("codec=int8", (), [run("a", "rounds", None)], [1], {})
    bad = PointStats(
        "codec=topk", (),
        [run("b", "devices_lost", "no device can ever be online again"),
         run("c", "target", None)], [1, 2], {},
    )  # fmt: skip
    assert early_end_warnings([ok]) == []
    (line,) = early_end_warnings([ok, bad])
    assert line.startswith("1 of 3 runs ended early (devices_lost 1); e.g. b (codec=topk): no ")


def test_a_run_with_nothing_left_to_happen_ends_instead_of_deadlocking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last resort (it was a `SimulationDeadlock` traceback at t=3630 s): blind the
    engine to lost devices and turn the stall limit off; the idle loop ends the run."""
    import fedsim.run_end

    monkeypatch.setattr(fedsim.run_end, "prospects_of", lambda _net, n, *_: lambda: (n, "blind"))
    topo = tiny_topology(fl__rounds=2, fl__stall_limit="forever")
    topo["failures"] = [{"node": "gw", "at": "0s", "duration": "forever"}]
    result, warnings = _run(topo, audited=False)
    _ended(result, "no_events", warnings)
    assert [v.invariant for v in audit(result)] == ["rounds-completed"]
