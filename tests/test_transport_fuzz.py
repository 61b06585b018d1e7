"""Scenario fuzzing over CoAP (docs/testing.md): the generated topologies of
tests/test_fuzz_scenarios.py, every one moved by `fl.transport: coap`, through the
real stack and the run auditor (outages, sleep cycles, churn, batteries, loss,
both fidelities and engines)."""

from __future__ import annotations

import copy
import os

import pytest
from fuzz.topologies import FuzzScenario, scenarios
from hypothesis import given
from test_fuzz_scenarios import fuzz_settings, run_generated

EXAMPLES = int(os.environ.get("FEDSIM_COAP_FUZZ_EXAMPLES", "60"))


def over_coap(scenario: FuzzScenario) -> FuzzScenario:
    topology = copy.deepcopy(scenario.topology)
    topology.setdefault("fl", {})["transport"] = "coap"
    return FuzzScenario(topology, dict(scenario.files))


@pytest.mark.timeout(900)
@fuzz_settings(EXAMPLES)
@given(scenario=scenarios().map(over_coap))
def test_generated_scenarios_run_clean_over_coap(scenario: FuzzScenario) -> None:
    run_generated(scenario)
