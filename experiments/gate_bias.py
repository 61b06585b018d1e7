"""How much the deployment gate inflates the reported metric (docs/strategies.md).

The gate scores candidates on the server's test set, the same set whose score of the
deployed model the run reports. This cuts the digits test set of
`topologies/default.yaml` in two halves: the run (its gate and its reported metric) sees
half A only; half B scores the same models and is never seen by a decision. Without a
gate, A - B of the final model is noise around the halves' difference; with one, the
selection on A adds to it. Prints each seed and the paired mean with a 95 % interval.

    python experiments/gate_bias.py 12          # seeds 1..12, about a minute
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

import numpy as np
from scipy import stats

import fedsim.tasks.digits as digits
from fedsim.run import simulate
from fedsim.scenario import prepare_scenario

TOPOLOGY = "topologies/default.yaml"
BASE = ["fl.target=null", "fl.rounds=40"]
SCORES_B: list[float] = []
"""Half B's score of every model the run evaluated, in order (the initial model, then
each round's candidate)."""

_init = digits.ClassifierTask.__init__


def _halved(self: Any, name: str, X: Any, y: Any, Xt: Any, yt: Any, *a: Any, **k: Any) -> None:
    _init(self, name, X, y, Xt, yt, *a, **k)
    n = len(yt) // 2
    seen = digits.ClassifierEvaluator(Xt[:n], yt[:n], self.sizes)
    unseen = digits.ClassifierEvaluator(Xt[n:], yt[n:], self.sizes)

    class Both:
        metric_name, higher_is_better = "accuracy", True

        def evaluate(self, params: np.ndarray) -> dict[str, float]:
            SCORES_B.append(unseen.evaluate(params)["accuracy"])
            return seen.evaluate(params)

    self._eval = Both()


def final_a_minus_b(seed: int, sets: list[str]) -> tuple[float, int]:
    """A - B of the model deployed at the end, and how many rounds deployed nothing."""
    SCORES_B.clear()
    result = simulate(prepare_scenario(TOPOLOGY, sets, seed), audit=False)
    scores = iter(SCORES_B)
    deployed_b = next(scores)
    for row in result.rounds:
        if row.candidate_metric is not None:
            b = next(scores)
            deployed_b = b if row.accepted else deployed_b
    kept = sum(1 - r.accepted for r in result.rounds)
    return float(result.summary.final_metric) - deployed_b, kept


def main(seeds: int) -> None:
    digits.ClassifierTask.__init__ = _halved  # type: ignore[method-assign]
    diffs: dict[str, list[float]] = {}
    for label, sets in (("no gate", BASE), ("gate 0", [*BASE, "fl.gate_tolerance=0"])):
        for seed in range(1, seeds + 1):
            d, kept = final_a_minus_b(seed, sets)
            diffs.setdefault(label, []).append(d)
            print(f"{label} seed {seed}: A - B {d:+.4f}, {kept} rounds kept the old model")
    paired = [g - n for g, n in zip(diffs["gate 0"], diffs["no gate"], strict=True)]
    mean = statistics.mean(paired)
    t = float(stats.t.ppf(0.975, len(paired) - 1))
    half = t * statistics.stdev(paired) / len(paired) ** 0.5
    print(
        f"gate inflates the reported metric by {mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}]"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
