"""The deployment gate: a candidate global model must not be worse than the deployed one.

DESIGN ("FL server"): before a new global model is deployed it is evaluated and
must not be worse than the deployed model by more than a tolerance. The gate is
a pure decision over two metric values, so every round engine (sync or async)
asks the same question the same way. A non-finite candidate (a diverged or
poisoned aggregate) is never deployed; a non-finite deployed metric (nothing
evaluated yet) accepts any finite candidate.

The engines score candidates with the task's one evaluator, the test set whose score
the run reports: with a closed gate, deployment selects on the test set and the
reported metric is biased upward (docs/strategies.md, "Deployment gate", measured).
A separate validation split would need a second server set in every task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fedsim.tasks.base import Evaluator

__all__ = ["DeploymentGate", "reached", "score"]


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


def score(evaluator: Evaluator, params: np.ndarray) -> float:
    """The evaluator's headline metric for `params`."""
    return float(evaluator.evaluate(params)[evaluator.metric_name])


def reached(metric: float, target: float | None, higher_is_better: bool) -> bool:
    """Whether a deployed model's metric meets the run's stopping target."""
    if target is None:
        return False
    return metric >= target if higher_is_better else metric <= target
