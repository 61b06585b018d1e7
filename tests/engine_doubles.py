"""What the engine tests share: an evaluator that scores a model without a task."""

from __future__ import annotations

import numpy as np

__all__ = ["Score"]


class Score:
    """Higher the closer the parameters are to zero: any update changes it."""

    metric_name = "score"
    higher_is_better = True

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        return {"score": float(-np.abs(params).sum())}
