"""The typed configuration model of a topology file (pydantic v2).

One model is the authority on what a topology file may say: `fedsim validate`,
`run`, `show`, `schema`, `sweep`'s pre-check and deployment mode all load through
`fedsim.config.topology.validate_topology`, so they cannot disagree. Every `kind`
is a tagged variant that declares its own options; cross-references are model
validators; errors become one-line `ScenarioError`s with a key path.

The names below load on first use: a task plug-in imports
`fedsim.config.task_options` while the root model is being built from the installed
plug-ins, so importing this package must not build it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fedsim.config.build import validate_topology
    from fedsim.config.schema import topology_json_schema
    from fedsim.config.topology import Topology

__all__ = ["Topology", "topology_json_schema", "validate_topology"]

_WHERE = {
    "Topology": "fedsim.config.topology",
    "topology_json_schema": "fedsim.config.schema",
    "validate_topology": "fedsim.config.build",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
