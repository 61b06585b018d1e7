"""A failure may last `forever`: the element goes down and never comes back."""

from __future__ import annotations

import math

import pytest
from topo import tiny_topology

from fedsim.errors import ScenarioError
from fedsim.run import simulate
from fedsim.scenario import parse_scenario


def _with(duration: object) -> dict:
    topo = tiny_topology(fl__rounds=3, fl__round_interval="20s", fl__deadline="10s",
                         fl__quorum=0.25, fl__clients_per_round=2, fl__min_available=2)  # fmt: skip
    topo["nodes"].append(
        {"name": "far", "kind": "device", "count": 2, "device": "rpi4",
         "uplink": {"to": "gw", "link": "wifi"}}
    )  # fmt: skip
    topo["failures"] = [{"node": "far", "at": "5s", "duration": duration}]
    return topo


def test_forever_is_an_infinite_duration_and_the_run_is_clean() -> None:
    sc = parse_scenario(_with("forever"))
    assert [f.duration_s for f in sc.failures] == [math.inf, math.inf]
    result = simulate(sc)  # audited: down intervals close at the end of the run
    end = result.summary.sim_time_s
    far = [r for r in result.links if r.a.startswith("far-")]
    assert far
    assert all(r.down_time_s == pytest.approx(end - 5.0) for r in far)


def test_a_bad_duration_names_forever() -> None:
    with pytest.raises(ScenarioError, match=r"failures\[0\]\.duration: .*or `forever`"):
        parse_scenario(_with("always"))
