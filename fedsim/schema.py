"""`fedsim schema`: the JSON Schema of topology files, generated from the typed model
that `fedsim validate` and `fedsim run` load through (fedsim.config), so editors
complete and check the same keys, kinds and ranges. Cross-references (a node naming a
missing gateway, enough samples for every device) need the whole file: the model
checks them, the schema cannot."""

from __future__ import annotations

from typing import Any

__all__ = ["topology_schema"]


def topology_schema() -> dict[str, Any]:
    from fedsim.config.schema import topology_json_schema

    return topology_json_schema()
