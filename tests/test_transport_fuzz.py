"""Scenario fuzzing over CoAP and MQTT (docs/testing.md): the generated topologies of
tests/test_fuzz_scenarios.py, every one moved by `fl.transport: coap` (or mqtt), through the
real stack and the run auditor (outages, sleep cycles, churn, batteries, loss,
both fidelities and engines)."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from fuzz.topologies import FuzzScenario, scenarios
from hypothesis import given
from test_fuzz_scenarios import fuzz_settings, run_generated

EXAMPLES = int(os.environ.get("FEDSIM_TRANSPORT_FUZZ_EXAMPLES", "30"))


def over(transport: str) -> Any:
    def moved(scenario: FuzzScenario) -> FuzzScenario:
        topology = copy.deepcopy(scenario.topology)
        topology.setdefault("fl", {})["transport"] = transport
        return FuzzScenario(topology, dict(scenario.files))

    return moved


@pytest.mark.timeout(900)
@fuzz_settings(EXAMPLES)
@given(scenario=scenarios().map(over("coap")))
def test_generated_scenarios_run_clean_over_coap(scenario: FuzzScenario) -> None:
    run_generated(scenario)


@pytest.mark.timeout(900)
@fuzz_settings(EXAMPLES)
@given(scenario=scenarios().map(over("mqtt")))
def test_generated_scenarios_run_clean_over_mqtt(scenario: FuzzScenario) -> None:
    run_generated(scenario)
