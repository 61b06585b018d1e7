"""A run's connections are freed by reference count when they close, not left in
reference cycles: the cyclic collector is off during a run (`run._quiet_gc`), so a
cycle per connection held every device's aiohttp request and response state, its
transports and flow model, to the end of the process (~20 KB a device)."""

from __future__ import annotations

import gc
from collections import Counter

import pytest
from topo import tiny_topology

from fedsim.run import simulate
from fedsim.scenario import parse_scenario

HELD_BY_A_CYCLE = {
    "EmulatedConnection", "EmulatedTransport", "FlowChannel", "RequestHandler",
    "ResponseHandler", "Request", "ClientConnectionResetError",
}  # fmt: skip


@pytest.mark.parametrize("rounds", [1, 3])
def test_a_finished_run_leaves_no_connection_in_a_cycle(rounds: int) -> None:
    """The run ends with every device's long poll pending: the network resets them all
    (`Network.end_run`) and the clients shut down. Nothing of theirs is cyclic garbage."""
    sc = parse_scenario(tiny_topology(fl__rounds=rounds))
    simulate(sc)  # what an earlier test's run left to a later one is let go of here
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # what a cycle holds stays until the collection below
    try:
        result = simulate(sc)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        garbage = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert result.summary.rounds == rounds
    assert {k: n for k, n in garbage.items() if k in HELD_BY_A_CYCLE} == {}
