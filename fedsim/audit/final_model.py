"""The final metric is the score of the model the run ended with.

summary.json's `final_metric` is the deployed model's score, copied from rounds.csv's
last row. Nothing else ties that number to a model: a run that reported a candidate the
gate refused, or scored one model and kept another, would reconcile everywhere. The run
folder keeps the model (model.npy, read back from disk before the audit), and this check
scores it again with the task's own evaluator. Evaluators are deterministic (RL
evaluations draw from fixed seeds), so the two agree to the last bit; the tolerance only
forgives summary.json's 9 decimals (a pilot's audit reads its summary back from disk).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from fedsim.audit import Violation, invariant
from fedsim.fl.gate import score

NAME = "final-model-scores"


@invariant(
    NAME,
    "model.npy (the model the run ended with, read back from the folder) scored again by "
    "the task's evaluator gives summary.json final_metric",
    needs=("summary", "model"),
)
def check(result: Any) -> Iterator[Violation]:
    model = result.model
    if model is None:
        yield Violation(NAME, "the run recorded no final model (model.npy)")
        return
    params = model.params
    if params.ndim != 1 or params.dtype != np.float32:
        yield Violation(
            NAME, f"model.npy holds a {params.dtype} array of shape {params.shape}, not float32"
        )
        return
    again = score(model.evaluator, params)
    reported = result.summary.final_metric
    name = result.summary.metric_name
    if reported is None:
        if math.isfinite(again):
            yield Violation(
                NAME,
                f"summary.json final_metric is blank (not finite) but model.npy scores "
                f"{name} {again:.10g}",
            )
    elif not math.isclose(again, reported, rel_tol=1e-12, abs_tol=1e-9):
        yield Violation(
            NAME,
            f"summary.json final_metric {name} {reported:.10g} but model.npy scores "
            f"{again:.10g}: the reported score is not the final model's",
        )
