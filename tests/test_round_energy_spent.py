"""A round's energy is what the devices had spent by its end (docs/results.md, "The
run's window"; fedsim.net.spent_by).

An outside audit's finding: the ledger charges airtime when a window or a duty-cycle
queue is booked, waits with their booking and a training at its start, and a round's
energy took the ledger as it stood. lora_farm's energy to target (int8, seed 1) read
246.30 J while the devices spent 209.53 J in the whole run, and the `after` row read
-36.77 J. Now a round's energy is the ledger as a cut at its end would leave it, so a
run limited to a round's end spends what the rounds up to it counted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from fedsim.audit import audit
from fedsim.audit.round_energy import NAME, round_energy_spent
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def _lora(**fl: Any) -> dict[str, Any]:
    """Five cortex-m4 sensors on SF7/SF9 at a 10 % duty cycle: their queues hold frames
    long past a round's end, and flow books whole windows."""
    sf = {"kind": "lora", "latency": "1s", "mtu": 242, "shared": False, "half_duplex": False,
          "duty_cycle": "10%"}  # fmt: skip
    return {
        "name": "lora-round-energy",
        "seed": 3,
        "task": {
            "kind": "digits",
            "partition": "dirichlet",
            "alpha": 1.0,
            "model": "softmax",
            "test_fraction": 0.2,
        },
        "fl": {
            "strategy": "fedavg",
            "rounds": 3,
            "clients_per_round": 4,
            "min_available": 4,
            "deadline": "40min",
            "quorum": "50%",
            "codec": "int8",
            "poll_wait": "2h",
            "local": {"epochs": 2, "batch_size": 16, "lr": 0.05},
            **fl,
        },
        "links": {
            "sf7": {**sf, "bandwidth": "5.47kbps", "loss": "2%", "radio": {"sf": 7}},
            "sf9": {**sf, "bandwidth": "1.76kbps", "loss": "5%", "radio": {"sf": 9}},
            "cellular": {
                "kind": "lte",
                "bandwidth_up": "5Mbps",
                "bandwidth_down": "20Mbps",
                "latency": "60ms",
            },
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "cellular"}},
            {
                "name": "near",
                "kind": "device",
                "count": 3,
                "device": "cortex-m4",
                "uplink": {"to": "gw", "link": "sf7"},
            },
            {
                "name": "mid",
                "kind": "device",
                "count": 2,
                "device": "cortex-m4",
                "uplink": {"to": "gw", "link": "sf9"},
            },
        ],
    }


def _round_energy(result: RunResult) -> dict[str, float]:
    return {
        r.key: float(r.energy_j or 0.0)
        for r in result.ledger
        if r.scope == "round" and r.direction == "up"
    }


def _spent(result: RunResult) -> float:
    return sum(c.energy_compute_j + c.energy_radio_j for c in result.clients)


@pytest.fixture(scope="module", params=["flow", "packet"])
def full(request: pytest.FixtureRequest) -> RunResult:
    return simulate(parse_scenario({**_lora(), "fidelity": request.param}))


def test_the_rounds_add_up_to_the_run_and_after_is_not_negative(full: RunResult) -> None:
    rows = _round_energy(full)
    assert len(full.rounds) == 3
    assert full.summary.end_reason == "rounds"
    assert rows["after"] == pytest.approx(0.0, abs=1e-9)  # the last round closed at the end
    assert sum(rows.values()) == pytest.approx(_spent(full), rel=1e-12)
    assert all(j > 0 for k, j in rows.items() if k != "after")


@pytest.mark.parametrize("k", [1, 2])
def test_a_run_limited_to_a_rounds_end_spent_what_the_rounds_counted(
    full: RunResult, k: int
) -> None:
    rows = _round_energy(full)
    end = full.rounds[k - 1].sim_time_s
    limited = {**_lora(time_limit=f"{end!r}s"), "fidelity": full.scenario.fidelity}
    cut = simulate(parse_scenario(limited))
    assert [r.sim_time_s for r in cut.rounds] == [r.sim_time_s for r in full.rounds[:k]]
    counted = sum(rows[str(i)] for i in range(1, k + 1))
    assert counted == pytest.approx(_spent(cut), rel=1e-9)


def test_the_auditor_catches_energy_counted_before_it_was_spent(full: RunResult) -> None:
    """The finding's shape: a round counts joules the run takes back later (`after` < 0)."""
    assert not [v for v in audit(full) if v.invariant == NAME]
    early = 0.5
    ledger = [
        dataclasses.replace(r, energy_j=r.energy_j + (early if r.key == "1" else -early))
        if r.scope == "round" and r.direction == "up" and r.key in ("1", "after")
        else r
        for r in full.ledger
    ]
    found = [v.detail for v in round_energy_spent(dataclasses.replace(full, ledger=ledger))]
    assert any("'after': energy_j -0.5 is negative" in d for d in found)
    assert any("more than the run's" in d for d in found)


def test_quiet_time_charged_for_a_booking_ready_later_is_taken_back_with_it() -> None:
    """Flow times a window ready after the clock; the quiet gap up to it was charged at
    booking and stayed charged when the run's end cut the window (0.91 J `after` on
    stragglers' last async round, which closed at the run's end)."""
    from fedsim.scenario import load_scenario

    sc = load_scenario(ROOT / "topologies" / "stragglers.yaml", ["fl.rounds=3", "fl.engine=async"])
    result = simulate(sc, audit=False)
    assert result.rounds[-1].sim_time_s == result.summary.sim_time_s
    assert _round_energy(result)["after"] == pytest.approx(0.0, abs=1e-9)
