"""`fedsim schema`: a JSON Schema for topology files, generated from the field tables
the loader itself reads keys through (`scenario.*_FIELDS`, `devices.DEVICE_KEYS`), so
editors complete and check exactly what `fedsim validate` accepts. The loader stays
the authority for cross-references (a node naming a missing gateway) and ranges."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fedsim.devices import BUILTIN_DEVICES, DEVICE_KEYS
from fedsim.scenario import (
    ASYNC_FIELDS,
    CHURN_FIELDS,
    CONNECTIVITY_FIELDS,
    FAILURE_FIELDS,
    FL_FIELDS,
    LINK_FIELDS,
    NODE_FIELDS,
    ROOT_FIELDS,
    TASK_FIELDS,
    UPLINK_FIELDS,
    Field,
)

__all__ = ["main_schema", "topology_schema"]


def _prop(f: Field) -> dict[str, Any]:
    out = dict(getattr(f.parse, "schema", {}))
    if f.doc:
        out["description"] = f.doc
    if f.default is not ... and f.default is not None:
        out["default"] = f.default
    return out


def _object(
    table: Mapping[str, Field], extra: Mapping[str, Any] | None = None, doc: str = ""
) -> dict[str, Any]:
    props = {k: _prop(f) for k, f in table.items()}
    props.update(extra or {})
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [k for k, f in table.items() if f.default is ...]
    if required:
        out["required"] = required
    if doc:
        out["description"] = doc
    return out


def _connectivity() -> dict[str, Any]:
    variants = []
    for kind, table in CONNECTIVITY_FIELDS.items():
        schema = _object(table, {"kind": {"const": kind}})
        if kind != "always":
            schema["required"] = ["kind", *schema.get("required", [])]
        variants.append(schema)
    return {"oneOf": variants, "description": "when the node is reachable (docs/connectivity.md)"}


def _device() -> dict[str, Any]:
    props: dict[str, Any] = {"like": {"enum": sorted(BUILTIN_DEVICES),
                                      "description": "start from a built-in profile"}}  # fmt: skip
    for key, (_attr, parse, doc) in DEVICE_KEYS.items():
        props[key] = {**getattr(parse, "schema", {}), "description": doc}
    return {"type": "object", "properties": props, "additionalProperties": False}


def topology_schema() -> dict[str, Any]:
    node = _object(
        NODE_FIELDS,
        {
            "uplink": _object(UPLINK_FIELDS, doc="every node but the server"),
            "connectivity": _connectivity(),
            "churn": _object(CHURN_FIELDS, doc="part of a device group leaves for good"),
        },
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fedsim topology file",
        "description": "docs/topology.md describes every key.",
        "type": "object",
        "required": ["task", "links", "nodes"],
        "additionalProperties": False,
        "properties": {
            **{k: _prop(f) for k, f in ROOT_FIELDS.items()},
            "task": {**_object(TASK_FIELDS), "additionalProperties": True},
            "fl": _object(FL_FIELDS, {"async": _object(ASYNC_FIELDS, doc="FedBuff settings")}),
            "devices": {"type": "object", "additionalProperties": _device()},
            "links": {"type": "object", "additionalProperties": _object(LINK_FIELDS)},
            "nodes": {"type": "array", "minItems": 1, "items": node},
            "failures": {"type": "array", "items": _object(FAILURE_FIELDS)},
            "adversaries": {
                "type": "object",
                "description": "Byzantine devices (docs/strategies.md)",
            },
        },
    }


def main_schema(argv: Sequence[str]) -> int:
    import argparse
    from pathlib import Path

    p = argparse.ArgumentParser(prog="fedsim schema", description=__doc__)
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    args = p.parse_args(list(argv))
    text = json.dumps(topology_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0
