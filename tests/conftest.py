"""Shared fixtures. Every async test runs on fedsim's virtual-time loop.

Every run a test makes is audited: `fedsim.run.simulate` and `run_scenario` check the
run's invariants by default (`fedsim.audit`) and raise `AuditError` on a violation, so
a test that runs a scenario fails on one. Only a test about the auditor itself passes
`audit=False`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.clock import VirtualTimeLoop

ROOT = Path(__file__).resolve().parents[1]


def pytest_asyncio_loop_factories(config: Any, item: Any) -> Mapping[str, Any]:
    """Async tests get a VirtualTimeLoop: `asyncio.sleep(3600)` costs microseconds."""
    return {"vt": VirtualTimeLoop}


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def topology() -> Any:
    return tiny_topology
