"""Compute energy against the work done: every training and every scoring is charged.

With `fl.local.federated_eval` each selected device scores the global model on its own
data before training, a forward pass over its shard; the client used to charge none of
it (no device time, no energy), so a run with federated evaluation cost its devices
exactly what one without did, and no check noticed: the energy checks reconcile the
ledger with clients.csv, both of which lacked the same joules. This check prices each
device's work apart from the client's charge: its trainings (the evidence counts each
time it enters `training`) and its scorings (the client reports each one, apart from
charging it), at the FLOPs its learner declares (`fedsim.tasks.work`, recorded by the
run), times its profile's J/FLOP. RL learners, whose training cost depends on what
they played (`work_done`), are checked by `rl-compute-matches-play` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

__all__ = ["compute_matches_work"]

NAME = "compute-matches-work"


@invariant(
    NAME,
    "each device whose learner's cost is known ahead (not RL): clients.csv "
    "energy_compute_j = its profile's J/FLOP x (trainings x work(config) + federated "
    "evaluations x evaluate_work()), scorings no more than trainings; less by at most one "
    "training and its scoring for a device still training at the run's end (refunded), "
    "or for a device whose battery ran dry",
    needs=("clients", "summary", "timeline", "scenario", "evidence"),
)
def compute_matches_work(result: Any) -> Iterator[Violation]:
    ev = result.evidence
    if ev is None:
        return  # evidence-present says so
    sc = result.scenario
    training_at_end: frozenset[str] | None = None  # read from the timeline when first needed
    for c in result.clients:
        work = ev.work.get(c.client)
        if work is None:
            continue  # RL (`work_done`), or not recorded
        train, score = work
        trainings = ev.trainings.get(c.client, 0)
        scorings = ev.evaluations.get(c.client, 0)
        if scorings > trainings:
            yield Violation(
                NAME, f"clients.csv {c.client}: {scorings} federated evaluations but "
                f"{trainings} trainings (each scores the model it then trains)",
            )  # fmt: skip
            continue
        per_score = score or 0.0  # None: no evaluate_work, charged nothing (the run warned)
        flops = trainings * train + scorings * per_score
        j_per_flop = sc.devices[c.device].compute_j_per_flop
        want = flops * j_per_flop
        got = float(c.energy_compute_j or 0.0)
        tol = 1e-9 * want + 1e-9  # the CSV writes 9 decimals
        if got > want + tol:
            yield _violation(c, got, want, trainings, train, scorings, per_score)
            continue
        if got >= want - tol:
            continue
        ledger = ev.energy.get(c.client)
        if ledger is not None and ledger.empty_at is not None:
            continue  # its battery ran dry: what it could not pay was never charged
        if training_at_end is None:
            training_at_end = _computing_at_end(result, ev)
        # The part of the last job past the run's end is refunded (fedsim.net.battery):
        # one training and the scoring before it at most.
        last = (train + (per_score if scorings else 0.0)) * j_per_flop
        if c.client in training_at_end and got >= want - last - tol:
            continue
        yield _violation(c, got, want, trainings, train, scorings, per_score)


def _computing_at_end(result: Any, ev: Any) -> frozenset[str]:
    """The devices computing when the run ended: the evidence's record of each client's
    own state (timeline.csv says `offline` for a device computing on a path that is
    down); for evidence without it, the timeline's `training` spans that reach the end."""
    if ev.computing_at_end is not None:
        return ev.computing_at_end
    end = result.summary.sim_time_s
    return frozenset(t.client for t in result.timeline if t.state == "training" and t.end_s >= end)


def _violation(
    c: Any, got: float, want: float, trainings: int, train: float, scorings: int, score: float
) -> Violation:
    return Violation(
        NAME, f"clients.csv {c.client}: energy_compute_j {got:.9g} J, but {trainings} "
        f"trainings x {train:.9g} FLOPs + {scorings} federated evaluations x {score:.9g} "
        f"FLOPs cost {want:.9g} J on {c.device}",
    )  # fmt: skip
