"""Outside audit redteam6: topology mistakes that passed `fedsim validate` or got a
wrong message, each now one line at its key path (findings 7, 8 and the name hints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from topo import tiny_topology

from fedsim.cli import main
from fedsim.config.close_names import close_names
from fedsim.errors import ScenarioError
from fedsim.scenario import load_scenario, parse_scenario

HERE = Path(__file__).resolve().parent / "redteam6"


def _error(topo: dict[str, Any], base_dir: Path | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(topo, base_dir=base_dir)
    return info.value


def _validate(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["validate", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    return line


# ------------------------------------------------------------ 7: a target's direction
def test_a_target_beyond_a_lower_is_better_metric_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _validate([str(HERE / "lf2.yaml"), "--set", "fl.target=-1"], capsys)
    assert line == "fedsim: error: fl.target: -1 is unreachable: rmse lies in [0, inf]"


@pytest.mark.parametrize(("target", "what"), [(1.5, "unreachable"), (-0.5, "met by any model")])
def test_a_higher_is_better_target_keeps_its_messages(target: float, what: str) -> None:
    err = _error(tiny_topology(fl__target=target))
    assert err.path == "fl.target"
    assert err.message == f"{target:g} is {what}: accuracy lies in [0, 1]"


# ------------------------------------------------------------ 8: batteries that cannot work
def test_a_battery_that_holds_nothing_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = _validate([str(HERE / "bat0.yaml")], capsys)
    assert line.startswith("fedsim: error: devices.x.battery: 0 J holds no energy")
    assert load_scenario(HERE / "bat0.yaml", ["devices.x.battery=1J"]).devices["x"].battery_j == 1


def _charged(charge: Any, **fl: Any) -> dict[str, Any]:
    topo = yaml.safe_load((HERE / "bat0.yaml").read_text())
    topo["devices"]["x"]["battery"] = "1J"
    topo["nodes"][1]["initial_charge"] = charge
    topo["fl"].update(fl)
    return topo


def test_an_empty_start_that_leaves_no_round_is_refused() -> None:
    err = _error(_charged("0%"))
    assert err.path == "nodes[1].initial_charge"
    assert err.message.startswith("0% starts every device of 'd' empty (they never send a byte)")
    assert "a round needs fl.min_available=1: no round could ever run" in err.message
    assert _error(_charged(["0%", "0%"])).path == "nodes[1].initial_charge"
    async_err = _error(_charged("0%", engine="async"))
    assert "a task needs one" in async_err.message


def test_an_empty_start_beside_live_devices_is_a_dead_group() -> None:
    """A study may mean devices dead from the start: they are offline (cause battery)
    while the others run rounds, and the audit passes on those rounds."""
    topo = _charged("0%")
    topo["nodes"].append({"name": "ok", "kind": "device", "device": "rpi4",
                          "uplink": {"to": "server", "link": "eth"}})  # fmt: skip
    assert len(parse_scenario(topo).device_nodes) == 2
    assert len(parse_scenario(_charged(["0%", "50%"])).device_nodes) == 1  # some start low


# ------------------------------------------------------------ name hints
def test_close_names_prefer_the_same_member_with_other_padding() -> None:
    names = [f"d-{j:02d}" for j in range(1, 13)]
    assert close_names("d-1", names) == ["d-01", "d-12", "d-11"]
    assert close_names("d-001", names)[0] == "d-01"
    assert close_names("zzz", names) == []
    assert close_names("d-01", ["d-1", "d-2", "d-3", "d-4"])[0] == "d-1"


def _twelve(**changes: Any) -> dict[str, Any]:
    return tiny_topology(nodes__2__count=12, **changes)


def test_a_failure_naming_an_unknown_node_gets_a_hint() -> None:
    err = _error(_twelve(failures=[{"node": "dev-1", "at": "1s", "duration": "1s"}]))
    assert err.path == "failures[0].node"
    assert err.message.startswith("unknown node 'dev-1' (did you mean dev-01, ")
    err = _error(_twelve(failures=[{"partition": ["dev-1"], "at": "1s", "duration": "1s"}]))
    assert err.path == "failures[0].partition[0]"
    assert "(did you mean dev-01, " in err.message


def test_a_trace_row_gets_the_padded_name_first(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("start,end,node\n0.05,100,dev-1\n")
    topo = _twelve(nodes__2__connectivity={"kind": "trace", "file": "t.csv"})
    err = _error(topo, base_dir=tmp_path)
    assert "unknown node 'dev-1' (did you mean dev-01, " in err.message
