"""The JSON Schema of topology files, generated from the same model that validates them."""

from __future__ import annotations

from typing import Any

from fedsim.config.strategies import STRATEGY_OPTIONS
from fedsim.config.topology import Topology

__all__ = ["topology_json_schema"]


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace every `$ref` by its definition (the model has no recursion), so the
    schema reads top-down like the file it describes."""
    if isinstance(node, list):
        return [_inline(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        target = _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {**target, **{k: _inline(v, defs) for k, v in rest.items()}}
    return {k: _inline(v, defs) for k, v in node.items() if k != "title"}


def _strategy_branches(names: dict[str, Any]) -> list[dict[str, Any]]:
    """`fl.options`, or the options written in `fl.strategy: {name: ...}`, are the variant
    the strategy names (fedavg when absent)."""
    out = []
    for name, model in STRATEGY_OPTIONS.items():
        options = model.model_json_schema(mode="validation")
        options = _inline(options, options.pop("$defs", {}))
        strategy: dict[str, Any] = {
            "required": ["strategy"],
            "properties": {"strategy": {"const": name}},
        }
        if name == "fedavg":
            strategy = {"anyOf": [strategy, {"not": {"required": ["strategy"]}}]}
        out.append({"if": strategy, "then": {"properties": {"options": options}}})
        written = {
            **options,
            "required": ["name"],
            "properties": {"name": names, **options.get("properties", {})},
        }
        out.append(
            {
                "if": {
                    "required": ["strategy"],
                    "properties": {
                        "strategy": {"type": "object", "properties": {"name": {"const": name}}}
                    },
                },
                "then": {
                    "properties": {"strategy": written, "options": {"maxProperties": 0}},
                },
            }
        )
    return out


def topology_json_schema() -> dict[str, Any]:
    """Draft 2020-12, every definition inlined."""
    raw = Topology.model_json_schema(mode="validation")
    schema = _inline({k: v for k, v in raw.items() if k != "$defs"}, raw.get("$defs", {}))
    fl = schema["properties"]["fl"]
    names = {k: v for k, v in fl["properties"]["strategy"].items() if k in ("enum", "type")}
    fl["properties"]["strategy"] = {
        "description": fl["properties"]["strategy"]["description"],
        "default": "fedavg",
        "anyOf": [names, {"type": "object", "required": ["name"], "properties": {"name": names}}],
    }
    fl["allOf"] = _strategy_branches(names)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fedsim topology file",
        **{k: v for k, v in schema.items() if k != "description"},
        "description": "docs/topology.md describes every key.",
    }
