"""model.npy: the model a run ended with, so its final metric can be checked.

A run reports the deployed model's score; without the model nobody can score it again,
and a report that named the wrong model (a candidate the gate refused, an older
version) would read as right. The run folder keeps the parameters as one float32
array in NumPy's own format (`numpy.load` reads it, no pickle), audit.json vouches for
its bytes, and the auditor scores it again with the task's evaluator
(`final-model-scores`, fedsim.audit.final_model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODEL_FILE", "DeployedModel", "model_scores", "read_model", "write_model"]

MODEL_FILE = "model.npy"


@dataclass(frozen=True)
class DeployedModel:
    """The parameters a run ended with and the evaluator that scored them."""

    params: np.ndarray
    evaluator: Any


def write_model(path: Path, params: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(params, dtype=np.float32), allow_pickle=False)


def model_scores(evaluator: Any, params: np.ndarray) -> dict[str, float]:
    """Every finite score the evaluator gives `params` (summary.json `final_scores`)."""
    return {k: float(v) for k, v in evaluator.evaluate(params).items() if np.isfinite(v)}


def read_model(path: Path) -> np.ndarray:
    """The parameters in a run folder's model.npy (float32, one dimension)."""
    return np.load(path, allow_pickle=False)
