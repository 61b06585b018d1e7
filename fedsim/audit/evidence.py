"""The invariants that need a run's evidence fail loudly when it has none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

__all__ = ["has_evidence"]


@invariant(
    "evidence-present",
    "the run carries its evidence (fedsim.net.evidence), so every check below ran",
    needs=("evidence",),
)
def has_evidence(result: Any) -> Iterator[Violation]:
    if getattr(result, "evidence", None) is None:
        yield Violation(
            "evidence-present", "the run has no evidence: the wire and network checks could not run"
        )
