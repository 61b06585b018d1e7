"""rounds.csv `update_norm` is the step the deployed model took.

Why: the column once held, under the sync engine, the FedAvg pseudo-gradient's norm
(before server_lr, momentum or Adam) for some strategies and the real step for the async
engine, so one column meant two things and a fedavgm run at server_lr 0.01 showed a step
100x what the model moved. The engines now compute it from the models before and after
(`fedsim.fl.strategy.step_norm`); the evidence measures, apart from them, how far the
deployed model moved at each round's record (`Evidence.model_moves`). So per round:

* accepted: `update_norm` is filled and equals the model's move (to float rounding);
* not accepted: the model did not move (a rejected candidate, or none, deploys nothing);
* no candidate (`aggregated` 0): `update_norm` is blank.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell

__all__ = ["update_norm_is_step"]

NAME = "update-norm-is-step"
REL_TOL = 1e-6
"""rounds.csv writes floats with 9 significant digits; both sides sum in float64."""
ABS_TOL = 1e-9


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v) or (isinstance(v, float) and math.isnan(v))


@invariant(
    NAME,
    "rounds.csv `update_norm` is the server step the deployed model took: in an accepted "
    "round it equals the L2 distance the deployed model moved (measured by the evidence on "
    "the engine's model, apart from the engine's own figure), a round not accepted left the "
    "model where it was, and a round without a candidate (`aggregated` 0) has it blank",
    needs=("evidence", "rounds"),
)
def update_norm_is_step(result: Any) -> Iterator[Violation]:
    moves = getattr(result.evidence, "model_moves", None)
    if moves is None:
        return
    rows = list(result.rounds)
    if len(moves) != len(rows):
        yield Violation(
            NAME, f"the evidence measured {len(moves)} model moves for {len(rows)} rounds.csv rows"
        )
        return
    for row, moved in zip(rows, moves, strict=True):
        rnd = cell(row, "round")
        norm = cell(row, "update_norm")
        accepted = cell(row, "accepted") in (True, 1, "1", "True", "true")
        if accepted:
            if _blank(norm):
                yield Violation(NAME, f"rounds.csv round {rnd}: accepted, update_norm blank")
            elif not math.isclose(float(norm), moved, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                yield Violation(
                    NAME,
                    f"rounds.csv round {rnd}: update_norm {float(norm):.9g} but the deployed "
                    f"model moved {moved:.9g}",
                )
        elif moved != 0.0:
            yield Violation(
                NAME,
                f"rounds.csv round {rnd}: not accepted, yet the deployed model moved {moved:.9g}",
            )
        if cell(row, "aggregated") in (0, "0") and not _blank(norm):
            yield Violation(
                NAME, f"rounds.csv round {rnd}: no candidate (aggregated 0), update_norm {norm}"
            )
