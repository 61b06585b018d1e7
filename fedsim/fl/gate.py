"""The deployment gate: a candidate global model must not be worse than the deployed one.

DESIGN ("FL server"): before a new global model is deployed it is evaluated and
must not be worse than the deployed model by more than a tolerance. The gate is
a pure decision over two metric values, so every round engine (sync or async)
asks the same question the same way. A non-finite candidate (a diverged or
poisoned aggregate) is never deployed; a non-finite deployed metric (nothing
evaluated yet) accepts any finite candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DeploymentGate"]


@dataclass(frozen=True)
class DeploymentGate:
    """Deploy a candidate only if it is at most `tolerance` worse than the deployed model.

    `tolerance` is in the metric's own units (0.02 = two accuracy points);
    `math.inf` accepts every finite candidate (the gate is open).
    """

    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if not self.tolerance >= 0.0:  # also rejects NaN
            raise ValueError(f"gate tolerance must be non-negative, got {self.tolerance}")

    def accept(
        self, candidate_metric: float, deployed_metric: float, higher_is_better: bool
    ) -> bool:
        """True if the candidate may replace the deployed model."""
        if not math.isfinite(candidate_metric):
            return False
        if not math.isfinite(deployed_metric):
            return True
        if higher_is_better:
            return candidate_metric >= deployed_metric - self.tolerance
        return candidate_metric <= deployed_metric + self.tolerance
