"""The TCP stack every connection of a run uses (`tcp:`)."""

from __future__ import annotations

from pydantic import Field

from fedsim.config.base import Section
from fedsim.config.units import Bool

__all__ = ["TcpModel"]


class TcpModel(Section):
    """Switches of the TCP model both fidelities share (fedsim.net.tcp.TcpParams)."""

    hystart: Bool = Field(
        True,
        description="Cubic's hybrid slow start, as ns-3 3.44 runs it (on by default, as ns-3)",
    )
