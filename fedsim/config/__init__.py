"""The typed configuration model of a topology file (pydantic v2).

One model is the authority on what a topology file may say: `fedsim validate`,
`run`, `show`, `schema`, `sweep`'s pre-check and deployment mode all load through
`fedsim.config.topology.validate_topology`, so they cannot disagree. Every `kind`
is a tagged variant that declares its own options; cross-references are model
validators; errors become one-line `ScenarioError`s with a key path.
"""

from __future__ import annotations

from fedsim.config.build import validate_topology
from fedsim.config.schema import topology_json_schema
from fedsim.config.topology import Topology

__all__ = ["Topology", "topology_json_schema", "validate_topology"]
