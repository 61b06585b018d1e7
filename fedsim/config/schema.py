"""The JSON Schema of topology files, generated from the same model that validates them."""

from __future__ import annotations

from typing import Any

from fedsim.config.strategies import STRATEGY_OPTIONS
from fedsim.config.topology import Topology

__all__ = ["topology_json_schema"]


def topology_json_schema() -> dict[str, Any]:
    """Draft 2020-12; `fl.options` is checked per `fl.strategy` (if/then)."""
    schema = Topology.model_json_schema(mode="validation")
    defs = schema.setdefault("$defs", {})
    branches = []
    for name, model in STRATEGY_OPTIONS.items():
        options = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        defs.update(options.pop("$defs", {}))
        key = f"{name}_options"
        defs[key] = options
        strategy = {"properties": {"strategy": {"const": name}}}
        if name == "fedavg":
            strategy = {"anyOf": [strategy, {"not": {"required": ["strategy"]}}]}
        branches.append(
            {"if": strategy, "then": {"properties": {"options": {"$ref": f"#/$defs/{key}"}}}}
        )
    defs["FLModel"]["allOf"] = branches
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fedsim topology file",
        "description": "docs/topology.md describes every key.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
