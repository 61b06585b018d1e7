"""Under CoAP `fidelity` models nothing (outside review 2, finding 8): a LoRa CoAP run at
flow and at packet fidelity gave byte-identical files, yet the flow run advised switching
to packet, and summary.json and compare called the two identical runs flow and packet."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fake_results import write_synthetic_run
from topo import tiny_topology

from fedsim.record.compare import compare_runs
from fedsim.record.runs import load_run
from fedsim.run import simulate
from fedsim.scenario import parse_scenario
from fedsim.show import fidelity_warnings

SHARED = "{kind: wifi, bandwidth: 10Mbps, latency: 10ms, shared: true, duty_cycle: 10%}"


def _scenario(**changes: Any) -> Any:
    return parse_scenario(tiny_topology(links__wifi=SHARED, fidelity="flow", **changes))


def test_flow_on_a_shared_duty_cycled_channel_is_advised_against_over_tcp() -> None:
    (line,) = fidelity_warnings(_scenario())
    assert line.startswith("links.wifi: a shared channel with a 10 % duty cycle")


def test_coap_gets_no_fidelity_advice() -> None:
    assert fidelity_warnings(_scenario(fl__transport="coap")) == []


def test_a_coap_run_records_the_datagram_model_it_used() -> None:
    """Flow and packet give the same run under CoAP, and summary.json says `datagram`."""
    flow, packet = (
        simulate(parse_scenario(tiny_topology(fl__transport="coap", fidelity=f)))
        for f in ("flow", "packet")
    )
    assert flow.summary.fidelity == packet.summary.fidelity == "datagram"
    assert flow.rounds == packet.rounds
    assert flow.links == packet.links
    http = simulate(parse_scenario(tiny_topology(fidelity="packet")))
    assert http.summary.fidelity == "packet"


def test_compare_sees_no_fidelity_difference_between_coap_runs(tmp_path: Path) -> None:
    """A link class's fidelity under CoAP models nothing either: no caveat."""
    a, b = (load_run(write_synthetic_run(tmp_path, name=n, seed=1)) for n in ("a", "b"))
    coap = {**a.config, "fl": {**a.config.get("fl", {}), "transport": "coap"}}
    links = [dict(link) for link in a.config["links"]]
    links[0]["fidelity"] = "packet"
    a = dataclasses.replace(a, summary=dataclasses.replace(a.summary, fidelity="datagram"),
                            config=coap)  # fmt: skip
    b = dataclasses.replace(b, summary=dataclasses.replace(b.summary, fidelity="datagram"),
                            config={**coap, "links": links})  # fmt: skip
    warnings = compare_runs([a, b]).warnings
    assert not [w for w in warnings if "how the network was modelled" in w]


def test_a_coap_file_that_sets_fidelity_is_told_it_changes_nothing() -> None:
    """The setting is legal (a sweep may vary the transport) but under CoAP it is a run
    compared with itself: a warning names each key that sets it, none when unset or
    over TCP."""
    from fedsim.config.advice import advice
    from fedsim.config.topology import Topology

    def lines(**changes: Any) -> list[str]:
        topo = Topology.model_validate(tiny_topology(**changes))
        return [w for w in advice(topo) if "fidelity" in w]

    (top, link) = lines(fl__transport="coap", fidelity="packet", links__wifi__fidelity="flow")
    assert top.startswith("fidelity: fl.transport coap sends datagrams")
    assert link.startswith("links.wifi.fidelity: ")
    assert lines(fl__transport="coap") == []
    assert lines(fidelity="packet", links__wifi__fidelity="flow") == []
