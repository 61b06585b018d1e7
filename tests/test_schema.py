"""`fedsim schema`: generated from the typed model (fedsim.config); shipped files conform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from topo import tiny_topology

from fedsim.config.tasks import TASK_KINDS
from fedsim.schema import topology_schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = topology_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_shipped_topology_conforms(validator: jsonschema.Draft202012Validator) -> None:
    for path in sorted((ROOT / "topologies").glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors[:3])


@pytest.mark.parametrize(
    "change",
    [
        {"fl__bogus": 1},
        {"links__wifi__colour": "red"},
        {"links__wifi__latency": "fast"},
        {"fl__rounds": 0},
        {"fl__codec": "zip"},
        {"nodes__2__uplink__via": "gw"},
        {"nodes__2__connectivity": {"kind": "markov", "mean_up": "1h"}},
        {"devices": {"x": {"compute": "lots"}}},
    ],
)
def test_what_the_loader_rejects_the_schema_rejects_too(
    validator: jsonschema.Draft202012Validator, change: dict[str, object]
) -> None:
    assert list(validator.iter_errors(tiny_topology(**change)))


def _object(node: dict[str, Any]) -> dict[str, Any]:
    """The mapping alternative of a nullable key."""
    if "anyOf" in node:
        return next(n for n in node["anyOf"] if n.get("type") != "null")
    return node


def test_schema_keys_are_the_model_keys() -> None:
    props = topology_schema()["properties"]
    assert set(props["fl"]["properties"]) >= {"rounds", "deadline", "async", "gate_tolerance"}
    assert set(props["links"]["additionalProperties"]["properties"]) >= {"bandwidth", "duty_cycle"}
    variants = _object(props["nodes"]["items"]["properties"]["connectivity"])["oneOf"]
    kinds = {v["properties"]["kind"]["const"] for v in variants}
    assert kinds == {"always", "markov", "periodic", "trace", "churn"}
    tasks = {v["properties"]["kind"]["const"] for v in props["task"]["oneOf"]}
    builtin = {"digits", "synthetic", "cartpole", "energy_harvesting", "multichannel"}
    assert builtin | {"activity", "load_forecast"} <= tasks
    assert tasks == set(TASK_KINDS)  # and every installed plug-in's kind


@pytest.mark.parametrize(
    "change",
    [
        {"fl__strategy": "fedsgd"},
        {"fl__strategy": "fedprox", "fl__options": {"beta": 0.1}},
        {"fl__strategy": "fedprox", "fl__options": {"mu": -1}},
        {"fl__options": {"mu": 0.1}},
        {"links__wifi__jitter": {"kind": "gauss", "std": "1ms"}},
        {"links__wifi__loss_model": {"kind": "gilbert-elliott", "p": 0.1, "r": 0.1, "q": 1}},
        {"task__alpha": -1},
        {"task__kind": "mnist"},
    ],
)
def test_issue_cases_are_rejected_by_the_schema_too(
    validator: jsonschema.Draft202012Validator, change: dict[str, object]
) -> None:
    assert list(validator.iter_errors(tiny_topology(**change)))
