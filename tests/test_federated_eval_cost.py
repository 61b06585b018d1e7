"""Federated evaluation costs the devices what scoring a model costs.

With `fl.local.federated_eval` every selected device scores the global model on its own
data before training: a forward pass over its shard (2 FLOPs per parameter per sample).
The client used to charge none of it, so a run with it showed the same compute energy
and the same device times as one without. Here the same seed runs both ways: each
device's compute energy is larger by exactly its scorings x their FLOPs x J/FLOP, and
each of its trainings takes longer by one scoring's compute time (its report comes
that much later). The `compute-matches-work` invariant fires on a result whose scoring
was not charged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fedsim.audit import audit
from fedsim.kernels.train import param_count
from fedsim.rng import Streams
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario
from fedsim.tasks.registry import build_task
from tests.test_task_reads import SMALL
from tests.topo import tiny_topology


def _run(federated_eval: bool) -> RunResult:
    return simulate(
        parse_scenario(tiny_topology(fl__local__federated_eval=str(federated_eval).lower()))
    )


@pytest.fixture(scope="module")
def runs() -> tuple[RunResult, RunResult]:
    return _run(False), _run(True)


def _scoring_flops(result: RunResult) -> dict[str, float]:
    """A forward pass over each device's shard, from the task itself: 2 FLOPs per
    parameter per sample (the forward part of training's 6)."""
    sc = result.scenario
    devices = sc.device_nodes
    task: Any = build_task(sc.task, len(devices), Streams(sc.seed))
    return {
        d.name: 2.0 * param_count(task.learner(i).sizes) * task.learner(i).num_examples
        for i, d in enumerate(devices)
    }


def _training_spans(result: RunResult) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for t in sorted(result.timeline, key=lambda t: (t.client, t.start_s)):
        if t.state == "training":
            out.setdefault(t.client, []).append(t.end_s - t.start_s)
    return out


def test_scoring_costs_compute_energy(runs: tuple[RunResult, RunResult]) -> None:
    plain, scored = runs
    assert plain.evidence is not None
    assert scored.evidence is not None
    assert scored.evidence.trainings == plain.evidence.trainings  # the same work otherwise
    flops = _scoring_flops(scored)
    before = {c.client: c for c in plain.clients}
    for c in scored.clients:
        scorings = scored.evidence.trainings[c.client]  # each training scores first
        assert scorings == 3
        j_per_flop = scored.scenario.devices[c.device].compute_j_per_flop
        extra = scorings * flops[c.client] * j_per_flop
        assert c.energy_compute_j == pytest.approx(
            before[c.client].energy_compute_j + extra, rel=1e-12
        ), c.client


def test_scoring_takes_device_time(runs: tuple[RunResult, RunResult]) -> None:
    plain, scored = runs
    flops = _scoring_flops(scored)
    spans, spans_plain = _training_spans(scored), _training_spans(plain)
    for c in scored.clients:
        scoring_s = scored.scenario.devices[c.device].compute_time(flops[c.client])
        assert scoring_s > 1e-4
        assert len(spans[c.client]) == len(spans_plain[c.client]) == 3
        for with_, without in zip(spans[c.client], spans_plain[c.client], strict=True):
            assert with_ - without == pytest.approx(scoring_s, rel=1e-9), c.client


def test_scorings_are_in_the_evidence(runs: tuple[RunResult, RunResult]) -> None:
    plain, scored = runs
    assert plain.evidence is not None
    assert scored.evidence is not None
    assert scored.evidence.evaluations == scored.evidence.trainings
    assert plain.evidence.evaluations == {}
    flops = _scoring_flops(scored)
    assert {d: w[1] for d, w in scored.evidence.work.items()} == pytest.approx(flops)


def test_invariant_fires_on_an_uncharged_scoring(runs: tuple[RunResult, RunResult]) -> None:
    """The result of the old client: the compute energy of a run without scoring, with
    the scorings it did in the evidence."""
    plain, scored = runs
    assert not [v for v in audit(scored) if v.invariant == "compute-matches-work"]
    broken = dataclasses.replace(scored, clients=plain.clients)
    found = [v for v in audit(broken) if v.invariant == "compute-matches-work"]
    assert len(found) == len(scored.clients)
    assert "3 federated evaluations" in found[0].detail


def test_invariant_fires_on_more_scorings_than_trainings(
    runs: tuple[RunResult, RunResult],
) -> None:
    _, scored = runs
    assert scored.evidence is not None
    ev = scored.evidence
    more = {d: n + 1 for d, n in ev.evaluations.items()}
    broken = dataclasses.replace(scored, evidence=dataclasses.replace(ev, evaluations=more))
    found = [v for v in audit(broken) if v.invariant == "compute-matches-work"]
    assert found
    assert "4 federated evaluations but 3 trainings" in found[0].detail


def test_a_learner_without_evaluate_work_is_warned_of() -> None:
    from fedsim.config.task_reads import free_evaluation

    class Scores:
        def evaluate(self, params: Any) -> dict[str, float]:
            return {}

    class Costed(Scores):
        def evaluate_work(self) -> float:
            return 1.0

    (line,) = free_evaluation("vibration", {"federated_eval": True}, Scores())
    assert line.startswith("fl.local.federated_eval: task vibration's learners")
    assert "evaluate_work()" in line
    assert free_evaluation("vibration", {"federated_eval": True}, Costed()) == []
    assert free_evaluation("vibration", {"federated_eval": False}, Scores()) == []
    assert free_evaluation("vibration", {"federated_eval": True}, object()) == []


def test_a_run_whose_learners_do_not_say_warns_and_charges_nothing(
    runs: tuple[RunResult, RunResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plug-in learner that scores but declares no cost: said at the run's start,
    naming the key and the task; nothing charged (and the audit agrees)."""
    from fedsim.tasks.digits import ClassifierLearner

    plain, _ = runs
    monkeypatch.delattr(ClassifierLearner, "evaluate_work")
    warned: list[str] = []
    sc = parse_scenario(tiny_topology(fl__local__federated_eval="true"))
    result = simulate(sc, warn=warned.append)  # audited: no violation
    assert [w for w in warned if w.startswith("fl.local.federated_eval: task digits")]
    assert result.evidence is not None
    assert result.evidence.evaluations == result.evidence.trainings
    assert [c.energy_compute_j for c in result.clients] == [
        c.energy_compute_j for c in plain.clients
    ]


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_every_built_in_learner_that_scores_says_what_it_costs(kind: str) -> None:
    """Scoring is training's forward pass: a third of one epoch's FLOPs (6 = 2 + 4)."""
    from fedsim.scenario import TaskSpec

    task = build_task(TaskSpec(kind, SMALL[kind]), 3, Streams(5))
    for i in range(3):
        learner = task.learner(i)
        if getattr(learner, "evaluate", None) is None:
            assert not hasattr(learner, "evaluate_work"), kind
            continue
        one_epoch = learner.work({"epochs": 1})
        assert learner.evaluate_work() == pytest.approx(one_epoch / 3, rel=1e-12), kind
        assert learner.evaluate_work() > 0
