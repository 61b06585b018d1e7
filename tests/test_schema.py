"""`fedsim schema`: generated from the loader's field tables; shipped files conform."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from topo import tiny_topology

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


def test_schema_keys_are_the_loader_keys() -> None:
    props = topology_schema()["properties"]
    assert set(props["fl"]["properties"]) >= {"rounds", "deadline", "async", "gate_tolerance"}
    assert set(props["links"]["additionalProperties"]["properties"]) >= {"bandwidth", "duty_cycle"}
    kinds = {v["properties"]["kind"]["const"] for v in
             props["nodes"]["items"]["properties"]["connectivity"]["oneOf"]}  # fmt: skip
    assert kinds == {"always", "markov", "periodic", "trace", "churn"}
