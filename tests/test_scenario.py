"""Topology files: units, validation with key paths, overrides, the CLI's exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from topo import tiny_topology

from fedsim.errors import ScenarioError, UnitError
from fedsim.scenario import load_scenario, parse_scenario
from fedsim.units import parse_bandwidth, parse_duration, parse_fraction, parse_size

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "value"),
    [("20Mbps", 20e6), ("250kbps", 250e3), ("1Gbps", 1e9), (9600, 9600.0)],
)
def test_bandwidth_units(text: object, value: float) -> None:
    assert parse_bandwidth(text) == value


def test_other_units() -> None:
    assert parse_duration("40ms") == pytest.approx(0.04)
    assert parse_duration("2h") == 7200.0
    assert parse_fraction("1%") == pytest.approx(0.01)
    assert parse_size("100KB") == 100_000
    assert parse_size("1MiB") == 1 << 20
    with pytest.raises(UnitError, match="negative"):
        parse_duration("-3s")
    with pytest.raises(UnitError, match="unknown unit"):
        parse_bandwidth("3 furlongs")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"links__wifi__bandwidth": "-5Mbps"}, "links.wifi.bandwidth"),
        ({"links__wifi__loss": "150%"}, "links.wifi.loss"),
        ({"links__wifi__latency": "fast"}, "links.wifi.latency"),
        ({"links__wifi__colour": "red"}, "links.wifi.colour"),
        ({"fl__rounds": 0}, "fl.rounds"),
        ({"fl__deadline": "0s"}, "fl.deadline"),
        ({"fl__codec": "zip"}, "fl.codec"),
        ({"fl__min_available": 99}, "fl.min_available"),
        ({"fl__clients_per_round": 50}, "fl.clients_per_round"),
        ({"nodes__2__uplink__to": "gw9"}, "nodes[2].uplink.to"),
        ({"nodes__2__uplink__link": "fibre"}, "nodes[2].uplink.link"),
        ({"nodes__2__device": "toaster"}, "nodes[2].device"),
        ({"nodes__1__count": 3}, "nodes[1].count"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_mistakes_name_their_key_path(change: dict[str, object], path: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(tiny_topology(**change))
    assert info.value.path == path, str(info.value)


def test_failure_targets_are_checked() -> None:
    topo = tiny_topology()
    topo["failures"] = [{"node": "gw2", "at": "1min", "duration": "1min"}]
    with pytest.raises(ScenarioError, match=r"failures\[0\]\.node"):
        parse_scenario(topo)


def test_groups_expand_and_failures_resolve() -> None:
    topo = tiny_topology()
    topo["failures"] = [{"link": "gw", "at": "1min", "duration": "30s"}]
    sc = parse_scenario(topo)
    assert [n.name for n in sc.device_nodes] == ["dev-1", "dev-2", "dev-3", "dev-4"]
    assert sc.failures[0].target == "link"
    assert sc.failures[0].at_s == 60.0


def test_every_shipped_topology_validates() -> None:
    files = sorted((ROOT / "topologies").glob("*.yaml"))
    assert files
    for f in files:
        load_scenario(f)


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedsim", *args], capture_output=True, text=True, cwd=cwd,
        check=False,
    )  # fmt: skip


def test_cli_bad_topology_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tiny_topology(links__wifi__bandwidth="-5Mbps")
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    res = _cli("validate", str(f))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "fedsim: error: links.wifi.bandwidth: a bandwidth must be positive: '-5Mbps'"
    ]
    res = _cli("run", str(f), "--quiet")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_bad_override_and_missing_file(tmp_path: Path) -> None:
    res = _cli("validate", "topologies/default.yaml", "--set", "fl.strategy_typo=x")
    assert res.returncode == 2
    assert "fl.strategy_typo: unknown key" in res.stderr
    res = _cli("run", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2
    assert "cannot read the topology file" in res.stderr


def test_overrides_address_list_items_by_name_as_sweeps_do() -> None:
    """`--set nodes.sensor.count=7` sets the node group named sensor, as a sweep key does;
    an index still works; a name the list lacks names what it has."""
    from fedsim.scenario import apply_overrides

    data = {"nodes": [{"name": "server"}, {"name": "sensor", "count": 2}]}
    assert apply_overrides(data, ["nodes.sensor.count=7"])["nodes"][1]["count"] == 7
    assert apply_overrides(data, ["nodes.1.count=5"])["nodes"][1]["count"] == 5
    assert data["nodes"][1]["count"] == 2  # a copy is changed
    with pytest.raises(ScenarioError, match=r"nodes\.sensr: no list item named 'sensr' "
                       r"\(the list has 2: server, sensor\)"):  # fmt: skip
        apply_overrides(data, ["nodes.sensr.count=1"])
    with pytest.raises(ScenarioError, match=r"nodes\.9: no list item 9 \(the list has 2\)"):
        apply_overrides(data, ["nodes.9.count=1"])
    twice = {"nodes": [{"name": "a"}, {"name": "a"}]}
    with pytest.raises(ScenarioError, match="2 list items are named 'a'; use an index"):
        apply_overrides(twice, ["nodes.a.count=1"])
    scenario = load_scenario(ROOT / "topologies" / "default.yaml", ["nodes.sensor.count=70"])
    sensors = [n for n in scenario.device_nodes if n.name.startswith("sensor")]
    assert len(sensors) == 70
