"""An outside tester's findings in topology handling: each one ran silently wrong, and
each is now a one-line error at its key path (or right behaviour, or a warning where
the file is legal but almost certainly not meant).

F2 half_duplex with two rates, F5 a CoAP block beyond the path MTU, F6 trace rows
naming unknown nodes, F7 `loss` beside gilbert-elliott, and the minor ones
(clients_per_round's meanings, keys the async engine ignores, fl.coap off CoAP,
churn that rounds to nobody, loss 100 %)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from topo import tiny_topology

from fedsim.cli import main
from fedsim.config.nodes import NodeItem
from fedsim.errors import ScenarioError
from fedsim.fl.strategies.registry import build_strategy
from fedsim.net.datagram import UdpParams
from fedsim.run import run_scenario
from fedsim.scenario import load_scenario, parse_scenario, prepare_scenario
from fedsim.show import describe
from fedsim.transports.coap_api import OVERHEAD, block_size_for

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "topologies").glob("*.yaml")) + sorted(
    (ROOT / "topologies" / "trials").glob("*.yaml")
)


def _error(topo: dict[str, Any], base_dir: Path | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(topo, base_dir=base_dir)
    assert "\n" not in str(info.value)
    return info.value


def _warnings(topo: dict[str, Any]) -> list[str]:
    return list(parse_scenario(topo).warnings)


def _write(tmp_path: Path, topo: dict[str, Any], name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(topo, sort_keys=False))
    return path


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err.strip()


# ---------------------------------------------------------------- F2: half duplex
ASYM_HALF = {"kind": "wifi", "bandwidth_up": "250kbps", "bandwidth_down": "10Mbps",
             "latency": "3ms", "shared": True, "half_duplex": True}  # fmt: skip


def test_half_duplex_with_two_rates_is_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _error(tiny_topology(links__wifi=ASYM_HALF))
    assert err.path == "links.wifi.half_duplex"
    assert "bandwidth_up (250 kbps) and bandwidth_down (10 Mbps) differ" in err.message
    code, stderr = _validate(_write(tmp_path, tiny_topology(links__wifi=ASYM_HALF)), capsys)
    assert code == 2
    assert stderr.startswith("fedsim: error: links.wifi.half_duplex: one transmitter")
    assert len(stderr.splitlines()) == 1


def test_half_duplex_at_one_rate_and_full_duplex_at_two_rates_are_fine() -> None:
    same = {**ASYM_HALF, "bandwidth_up": "10Mbps"}
    assert parse_scenario(tiny_topology(links__wifi=same)).links["wifi"].half_duplex
    full = {**ASYM_HALF, "half_duplex": False}
    cls = parse_scenario(tiny_topology(links__wifi=full)).links["wifi"]
    assert (cls.bandwidth_up_bps, cls.bandwidth_down_bps) == (250e3, 10e6)


def test_show_and_topology_json_give_both_rates_of_an_asymmetric_link(tmp_path: Path) -> None:
    bh = {"kind": "backhaul", "bandwidth_up": "2Mbps", "bandwidth_down": "50Mbps",
          "latency": "5ms"}  # fmt: skip
    topo = tiny_topology(links__backhaul=bh, fl__rounds=1, fl__clients_per_round=1,
                         fl__min_available=1)  # fmt: skip
    console = Console(width=300, record=True)
    console.print(describe(parse_scenario(topo)))
    assert "uplink backhaul: 2 Mbps up / 50 Mbps down" in console.export_text()
    out = run_scenario(_write(tmp_path, topo), out_root=tmp_path / "runs")
    links = json.loads((out / "topology.json").read_text())["links"]
    gw = next(ln for ln in links if ln["a"] == "gw")
    assert (gw["bandwidth_up_bps"], gw["bandwidth_down_bps"]) == (2e6, 50e6)
    dev = next(ln for ln in links if ln["a"] != "gw")
    assert dev["bandwidth_up_bps"] == dev["bandwidth_down_bps"] == 10e6
    from fedsim.record.topology_svg import _link_rate

    assert _link_rate(gw) == "2 Mbit/s up / 50 Mbit/s down"
    assert _link_rate(dev) == "10 Mbit/s"
    assert _link_rate({"bandwidth_bps": 1e6}) == "1 Mbit/s"  # an older folder


# ---------------------------------------------------------------- F5: CoAP blocks
def _coap(**changes: Any) -> dict[str, Any]:
    return tiny_topology(fl__transport="coap", **changes)


def test_a_coap_block_beyond_the_path_mtu_is_refused_naming_the_link() -> None:
    err = _error(_coap(links__wifi__mtu=242, fl__coap={"block_size": 256}))
    assert err.path == "fl.coap.block_size"
    assert "308-byte datagrams" in err.message
    assert "links.wifi.mtu (242) on dev's uplink" in err.message
    assert "use block_size 128 or less" in err.message


def test_the_smallest_mtu_anywhere_on_the_path_counts() -> None:
    err = _error(_coap(links__backhaul__mtu=200, fl__coap={"block_size": 256}))
    assert "links.backhaul.mtu (200) on gw's uplink" in err.message
    ok = parse_scenario(_coap(links__backhaul__mtu=200, fl__coap={"block_size": 128}))
    assert ok.fl.coap["block_size"] == 128


def test_coap_blocks_that_fit_or_are_left_to_the_mtu_are_fine() -> None:
    parse_scenario(_coap(links__wifi__mtu=242, fl__coap={"block_size": 128}))
    parse_scenario(_coap(links__wifi__mtu=68))  # the runtime picks a block that fits


def test_the_check_counts_the_bytes_the_runtime_sends() -> None:
    """The check's overheads are the transport's, and the largest block it suggests is
    the one the runtime picks when block_size is left out."""
    from fedsim.config.coap_mtu import UDP_IP_HEADER, coap_block_overhead

    assert coap_block_overhead() == OVERHEAD
    assert UdpParams().header_bytes == UDP_IP_HEADER
    for mtu in (68, 127, 242, 576, 1500):
        best = block_size_for(UdpParams().max_payload(mtu))
        parse_scenario(_coap(links__wifi__mtu=mtu, fl__coap={"block_size": best}))
        if best < 1024:
            err = _error(_coap(links__wifi__mtu=mtu, fl__coap={"block_size": best * 2}))
            assert f"use block_size {best} or less" in err.message


# ---------------------------------------------------------------- F6: trace node names
def _traced(tmp_path: Path, csv_text: str, **changes: Any) -> dict[str, Any]:
    (tmp_path / "traces").mkdir(exist_ok=True)
    (tmp_path / "traces" / "t.csv").write_text(csv_text)
    return tiny_topology(nodes__2__connectivity={"kind": "trace", "file": "traces/t.csv"},
                         **changes)  # fmt: skip


def test_a_trace_row_naming_an_unknown_node_is_refused_with_close_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topo = _traced(tmp_path, "start,end,node\n0.05,100,dev-01\n0.05,100,dev-2\n")
    err = _error(topo, base_dir=tmp_path)
    assert err.path == "nodes[2].connectivity.file"
    assert err.message.startswith("traces/t.csv line 2: unknown node 'dev-01' (did you mean dev-1")
    assert err.message.endswith("the nodes using this file are dev-1 … dev-4)")
    code, stderr = _validate(_write(tmp_path, topo), capsys)
    assert code == 2
    assert "traces/t.csv line 2: unknown node 'dev-01'" in stderr


def test_trace_rows_naming_the_nodes_as_they_are_named_apply(tmp_path: Path) -> None:
    sc = parse_scenario(
        _traced(tmp_path, "# c\nstart,end,node\n10,20,dev-2\n5,6,\n"), base_dir=tmp_path
    )
    dev = sc.device_nodes[0]
    assert dev.connectivity.trace == ((5.0, 6.0, None), (10.0, 20.0, "dev-2"))


def test_a_trace_shared_by_two_entries_may_name_the_nodes_of_either(tmp_path: Path) -> None:
    topo = _traced(tmp_path, "start,end,node\n10,20,dev-2\n10,20,cam\n")
    topo["nodes"].append({"name": "cam", "kind": "device", "device": "rpi4",
                          "uplink": {"to": "gw", "link": "wifi"},
                          "connectivity": {"kind": "trace", "file": "traces/t.csv"}})  # fmt: skip
    topo["fl"]["min_available"] = 5
    parse_scenario(topo, base_dir=tmp_path)
    topo["nodes"][3]["connectivity"] = {"kind": "always"}  # cam no longer uses the file
    assert "unknown node 'cam'" in _error(topo, base_dir=tmp_path).message


def test_the_docs_say_how_a_group_is_named() -> None:
    """`count: N` pads to N's width: d-1 … d-4, but d-01 … d-12 (results depend on it)."""
    docs = " ".join((ROOT / "docs" / "topology.md").read_text().split())
    for count, first, last in ((4, "d-1", "d-4"), (12, "d-01", "d-12")):
        names = NodeItem(name="d", kind="device", count=count, device="rpi4",
                         uplink={"to": "gw", "link": "l"}).expanded_names()  # fmt: skip
        assert (names[0], names[-1]) == (first, last)
        assert f"`count: {count}` gives `{first}` … `{last}`" in docs
    assert "name-01 … name-N" not in docs


# ---------------------------------------------------------------- F7: loss beside G-E
GE = {"kind": "gilbert-elliott", "p": "0%", "r": "100%"}


def test_loss_beside_gilbert_elliott_is_refused() -> None:
    err = _error(tiny_topology(links__wifi__loss_model=GE, links__wifi__loss="30%"))
    assert err.path == "links.wifi.loss"
    assert "not used with loss_model gilbert-elliott" in err.message


def test_gilbert_elliott_alone_and_bernoulli_with_loss_are_fine() -> None:
    parse_scenario(tiny_topology(links__wifi__loss_model=GE))
    parse_scenario(tiny_topology(links__wifi__loss_model=GE, links__wifi__loss=0))
    parse_scenario(tiny_topology(links__wifi__loss_model={"kind": "bernoulli"},
                                 links__wifi__loss="30%"))  # fmt: skip


# ---------------------------------------------------------------- clients_per_round
@pytest.mark.parametrize(
    ("value", "spec"),
    [(1, 1.0), (3, 3.0), (3.0, 3.0), (0.5, 0.5), ("50%", 0.5), ("100%", 4.0), ("25 %", 0.25)],
)
def test_clients_per_round_counts_and_shares(value: Any, spec: float) -> None:
    """A whole number is a count; a fraction below 1 or a percentage is a share of the
    online clients. 100% is all of them: a count of every device is the same thing."""
    sc = parse_scenario(tiny_topology(fl__clients_per_round=value))
    assert sc.fl.clients_per_round == spec


def test_100_percent_selects_every_online_client() -> None:
    sc = parse_scenario(tiny_topology(fl__clients_per_round="100%"))
    strategy = build_strategy("fedavg", {}, clients_per_round=sc.fl.clients_per_round)
    assert [strategy.target_count(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (1.0, "1.0 is ambiguous: write 1 (one client a round) or 100% (every online client)"),
        ("0%", "a percentage must lie in (0%, 100%], got '0%'"),
        ("150%", "a fraction must lie in [0, 1]"),
        (2.5, "a count must be whole"),
        (0, "a count must be at least 1"),
        ("half", "expected a count (4), a fraction below 1 (0.25) or a percentage (25%)"),
        (True, "expected a count"),
        (5, "is 5 but the topology has 4 devices"),
    ],
)
def test_clients_per_round_mistakes(value: Any, words: str) -> None:
    err = _error(tiny_topology(fl__clients_per_round=value))
    assert err.path == "fl.clients_per_round"
    assert words in err.message


def test_an_unset_clients_per_round_warns_that_a_round_trains_one_client() -> None:
    topo = tiny_topology()
    del topo["fl"]["clients_per_round"]
    assert parse_scenario(topo).fl.clients_per_round == 1
    assert _warnings(topo) == [
        "fl.clients_per_round: not set, so each round trains 1 of the 4 devices; write a "
        "count, or 100% for every online device"
    ]
    assert _warnings(tiny_topology()) == []


# ---------------------------------------------------------------- async, coap, churn, loss
def test_keys_the_async_engine_ignores_are_named_in_a_warning() -> None:
    topo = tiny_topology(fl__engine="async", fl__quorum="80%")
    (line,) = _warnings(topo)
    assert line.startswith(
        "fl.clients_per_round, fl.min_available, fl.quorum: not used by fl.engine async"
    )
    topo = tiny_topology(fl__engine="async", fl__strategy="fedprox", fl__options={"mu": 0.1})
    assert any(w.startswith("fl.strategy: fedprox is not used") for w in _warnings(topo))
    bare = tiny_topology(fl__engine="async")
    for key in ("clients_per_round", "min_available"):
        del bare["fl"][key]
    assert _warnings(bare) == []


def test_async_still_refuses_reliability_selection() -> None:
    err = _error(tiny_topology(fl__engine="async", fl__selection="reliability"))
    assert err.path == "fl.selection"


def test_coap_settings_under_another_transport_warn() -> None:
    topo = tiny_topology(fl__coap={"block_size": 64})
    assert _warnings(topo) == [
        "fl.coap: CoAP settings, but fl.transport is http: they are not used"
    ]
    assert _warnings(tiny_topology(fl__coap={"block_size": 64}, fl__transport="coap")) == []


def test_churn_that_rounds_to_no_device_warns() -> None:
    topo = tiny_topology(nodes__2__churn={"fraction": "10%", "after": "1min"})
    assert _warnings(topo) == [
        "nodes[2].churn.fraction: 10% of 4 devices rounds to 0, so no device of 'dev' "
        "leaves (round(fraction x count), half up: 12.5% or more makes one leave)"
    ]
    assert _warnings(tiny_topology(nodes__2__churn={"fraction": "25%", "after": "1min"})) == []


def test_loss_of_every_packet_warns() -> None:
    assert _warnings(tiny_topology(links__wifi__loss="100%")) == [
        "links.wifi.loss: 100% loses every packet: nothing ever crosses any wifi link"
    ]


def test_warnings_reach_the_cli_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, tiny_topology(links__wifi__loss="100%"))
    code, stderr = _validate(path, capsys)
    assert code == 0
    assert re.match(r"fedsim: warning: links\.wifi\.loss: 100% loses every packet", stderr)
    seen: list[str] = []
    prepare_scenario(path, warn=seen.append)
    assert len(seen) == 1
    other = _write(tmp_path, tiny_topology(), "other.yaml")
    assert main(["validate", str(other), str(path)]) == 0
    stderr = capsys.readouterr().err.strip()
    assert stderr.startswith(f"fedsim: warning: {path}: links.wifi.loss: 100% loses")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_topologies_stay_valid_without_warnings(path: Path) -> None:
    assert load_scenario(path).warnings == ()
