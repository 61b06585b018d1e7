"""rounds.csv `update_norm` is the step the server applied, under every strategy and
engine (outside review 2, finding 1: under the sync engine it was the pseudo-gradient's
norm, before server_lr, so a fedavgm run at server_lr 0.01 and one at 0.5 showed the
same round-1 figure)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from topo import tiny_topology

from fedsim.audit.update_norm import NAME, update_norm_is_step
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario


def _run(**changes: Any) -> RunResult:
    return simulate(parse_scenario(tiny_topology(**changes)))


def test_fedavgm_step_scales_with_server_lr() -> None:
    """Round 1 of fedavgm moves the model by server_lr x the pseudo-gradient (the velocity
    starts at 0): the same clients and model at server_lr 0.5 and 0.01 step 50x apart."""
    lo, hi = (
        _run(fl__strategy=f"{{name: fedavgm, server_lr: {lr}, momentum: 0.5}}")
        for lr in (0.01, 0.5)
    )
    small, large = lo.rounds[0].update_norm, hi.rounds[0].update_norm
    assert small is not None
    assert large is not None
    assert large / small == pytest.approx(50.0, rel=1e-4)


def test_fedadam_step_is_bounded_by_its_learning_rate() -> None:
    """Adam's round-1 step is at most server_lr per coordinate: |m / (sqrt(v) + tau)| <= 1
    with m = (1 - beta1) d, v >= (1 - beta2) d^2, so ||step|| <= lr * sqrt(params)."""
    result = _run(fl__strategy="{name: fedadam, server_lr: 0.001}")
    params = 64 * 10 + 10  # digits softmax: 8x8 inputs, 10 classes
    norm = result.rounds[0].update_norm
    assert norm is not None
    assert 0 < norm <= 0.001 * params**0.5


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"fl__strategy": "{name: fedavgm, server_lr: 0.01}"},
        {"fl__strategy": "{name: fedadam, server_lr: 1.0}"},
        {"fl__strategy": "median"},
        {"fl__engine": "async", "fl__async__buffer": 2, "fl__async__server_lr": 0.3},
    ],
    ids=["fedavg", "fedavgm", "fedadam", "median", "async"],
)
def test_update_norm_is_the_deployed_models_move(changes: dict[str, Any]) -> None:
    """One meaning everywhere: filled for every strategy and both engines, and equal to
    how far the deployed model moved in each accepted round (the evidence measures it)."""
    result = _run(**changes)
    moves = result.evidence.model_moves
    assert moves is not None
    assert len(moves) == len(result.rounds)
    accepted = [(r.update_norm, m) for r, m in zip(result.rounds, moves, strict=True) if r.accepted]
    assert accepted
    for norm, moved in accepted:
        assert norm is not None
        assert norm == pytest.approx(moved, rel=1e-9)
    assert list(update_norm_is_step(result)) == []


@pytest.fixture(scope="module")
def fedavgm() -> RunResult:
    return _run(fl__strategy="{name: fedavgm, server_lr: 0.01, momentum: 0.5}")


def _with_rows(result: RunResult, **fields: Any) -> Any:
    """The run with rounds.csv's first row changed (the evidence as it was)."""
    rows = [dataclasses.replace(result.rounds[0], **fields), *result.rounds[1:]]

    class Broken:
        evidence = result.evidence
        rounds = rows

    return Broken()


def test_invariant_fires_on_the_pseudo_gradient(fedavgm: RunResult) -> None:
    """The old figure (the pseudo-gradient, 100x the step at server_lr 0.01) is caught."""
    first = fedavgm.rounds[0]
    assert first.accepted
    assert first.update_norm is not None
    broken = _with_rows(fedavgm, update_norm=first.update_norm * 100)
    (v,) = update_norm_is_step(broken)
    assert v.invariant == NAME
    assert v.detail.startswith("rounds.csv round 1: update_norm ")
    assert "but the deployed model moved" in v.detail


def test_invariant_fires_on_a_blank_or_a_moved_rejected_round(fedavgm: RunResult) -> None:
    (blank,) = update_norm_is_step(_with_rows(fedavgm, update_norm=None))
    assert blank.detail == "rounds.csv round 1: accepted, update_norm blank"
    (moved,) = update_norm_is_step(_with_rows(fedavgm, accepted=False))
    assert moved.detail.startswith("rounds.csv round 1: not accepted, yet the deployed model")
    nothing = _with_rows(fedavgm, aggregated=0)
    assert [v.detail for v in update_norm_is_step(nothing)] == [
        f"rounds.csv round 1: no candidate (aggregated 0), update_norm "
        f"{fedavgm.rounds[0].update_norm}"
    ]
