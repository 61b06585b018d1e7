"""`causes-fit-transport` reads the clients' own counts of the exchanges they abandoned,
and the causes those name: a simulation's clients run in its process, a pilot's are
remote and its server counts none (clients.csv `requests_*` 0, no `request_timeout` or
`coap_gave_up` dropout ever). On a pilot the check could never fail, yet a pilot's
audit.json counted it among what it checked; it is now not applicable there, saying
which source it lacks."""

from __future__ import annotations

import pytest
from topo import tiny_topology

from fedsim.audit import INVARIANTS, NotRecorded, applicable
from fedsim.deployment.audit import DEPLOYMENT_SOURCES, DeploymentRecord
from fedsim.record.invariant_names import DEPLOYMENT_INVARIANTS
from fedsim.scenario import parse_scenario

NAME = "causes-fit-transport"


def test_a_pilot_does_not_count_a_check_it_cannot_fail() -> None:
    ran, not_applicable = applicable(DEPLOYMENT_SOURCES)
    assert NAME not in ran
    assert NAME not in DEPLOYMENT_INVARIANTS  # the readers' list agrees
    assert "count of the exchanges it abandoned" in not_applicable[NAME]
    assert "client_requests" in INVARIANTS[NAME].needs


def test_a_deployment_record_has_no_client_counts() -> None:
    """Reading them is refused loudly, not answered with nothing."""
    record = DeploymentRecord.__new__(DeploymentRecord)
    record.scenario = parse_scenario(tiny_topology())
    with pytest.raises(NotRecorded, match="abandoned"):
        _ = record.client_requests
