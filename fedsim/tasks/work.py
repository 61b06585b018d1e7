"""What a learner declares its device's compute costs, read apart from the client.

The client charges a training's `work(config)` and, with federated evaluation, a
scoring's `evaluate_work()` (fedsim.fl.client). The run records the same figures in
its evidence, read here from the learner, so the auditor can price each device's
trainings and scorings without the client's own stats (`compute-matches-work`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["declared_work", "evaluate_work"]


def evaluate_work(learner: Any) -> float | None:
    """FLOPs of one `evaluate` on the learner's data; None if it declares none (its
    scoring is then charged nothing: the run warns, fedsim.config.task_reads)."""
    cost = getattr(learner, "evaluate_work", None)
    return None if cost is None else float(cost())


def declared_work(learner: Any, config: Mapping[str, Any]) -> tuple[float, float | None]:
    """(FLOPs of one training on `config`, FLOPs of one scoring or None)."""
    return float(learner.work(dict(config))), evaluate_work(learner)
