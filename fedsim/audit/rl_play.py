"""RL play and scores: what the devices played is counted, what the evaluator said is kept.

clients.csv `env_episodes`/`env_steps` count every training an RL device did, its
upload accepted or not; they used to count accepted uploads only, so a device that
trained three times (charged compute energy for it) showed blank, which reads "not RL"
(outside review, finding 4). `rl-play-counted` ties the columns to the task and to the
compute energy: blank exactly when the task is not RL, and a device charged compute
energy played something (only training charges compute, and every RL training plays at
least one step). `final-scores-metric` ties summary.json's `final_scores` (every score
of the final model: `min_device_return`, the shared policy's `mean_return` beside a
personalised metric, ...) to the headline `final_metric` it must contain.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.config.rl_tasks import RL_KINDS

PLAYED = "rl-play-counted"
SCORES = "final-scores-metric"


@invariant(
    PLAYED,
    "clients.csv env_episodes/env_steps are blank exactly when the task is not RL; for RL, "
    "0 <= env_episodes <= env_steps, and a device charged compute energy played >= 1 step",
    # evidence: what devices played is the simulator's to know (its learners); a
    # deployment's server cannot see it and leaves the columns blank.
    needs=("summary", "clients", "evidence"),
)
def check_played(result: Any) -> Iterator[Violation]:
    rl = result.summary.task in RL_KINDS
    for c in result.clients:
        blank = [k for k in ("env_episodes", "env_steps") if getattr(c, k) is None]
        if not rl:
            if len(blank) < 2:
                yield Violation(
                    PLAYED, f"clients.csv {c.client}: env columns set, task "
                    f"{result.summary.task} is not RL",
                )  # fmt: skip
            continue
        if blank:
            yield Violation(
                PLAYED, f"clients.csv {c.client}: {', '.join(blank)} blank for RL task "
                f"{result.summary.task} (0 if it played nothing)",
            )  # fmt: skip
            continue
        if not 0 <= c.env_episodes <= c.env_steps:
            yield Violation(
                PLAYED, f"clients.csv {c.client}: env_episodes {c.env_episodes}, env_steps "
                f"{c.env_steps} (each episode is at least one step)",
            )  # fmt: skip
        if (c.energy_compute_j or 0.0) > 0.0 and c.env_steps == 0:
            yield Violation(
                PLAYED, f"clients.csv {c.client}: energy_compute_j {c.energy_compute_j:g} J "
                "charged, but env_steps 0 (training played nothing?)",
            )  # fmt: skip


@invariant(
    SCORES,
    "summary.json final_scores (the final model's scores: a run that kept its model writes "
    "them) holds metric_name, equal to final_metric (within 1e-9 relative) when that is set",
    needs=("summary", "model"),
)
def check_scores(result: Any) -> Iterator[Violation]:
    s = result.summary
    scores = s.final_scores
    if scores is None:
        yield Violation(SCORES, "summary.json has no final_scores, yet the run kept its model")
        return
    if s.final_metric is None:
        return
    value = scores.get(s.metric_name)
    if value is None:
        yield Violation(SCORES, f"summary.json final_scores lacks metric {s.metric_name!r}")
    elif not math.isclose(value, s.final_metric, rel_tol=1e-9, abs_tol=1e-12):
        yield Violation(
            SCORES, f"summary.json final_scores[{s.metric_name!r}] {value!r} != "
            f"final_metric {s.final_metric!r}",
        )  # fmt: skip


COMPUTE = "rl-compute-matches-play"


@invariant(
    COMPUTE,
    "cartpole: each device's clients.csv energy_compute_j is the FLOPs of what it played "
    "(env_steps x flops per step + updates x params x 10, +3 with FedProx's term; updates "
    "= env_episodes / fl.local episodes x ceil(episodes / batch)) times its profile's "
    "J/FLOP; less by at most one training for a device still training at the run's end "
    "(that part is refunded), or for a device whose battery ran dry",
    needs=("summary", "clients", "timeline", "scenario", "evidence"),
)
def check_compute(result: Any) -> Iterator[Violation]:
    sc = result.scenario
    if sc.task.kind != "cartpole":
        return
    from fedsim.config.rl_tasks import CARTPOLE_MAX_STEPS, CartPoleOptions, cartpole_train_flops

    opts = CartPoleOptions.model_validate({"kind": "cartpole", **dict(sc.task.options)})
    hidden = 0 if opts.policy == "linear" else opts.hidden
    local = dict(sc.fl.local)
    episodes = int(local.get("episodes", opts.episodes))
    batch = max(1, min(int(local.get("batch", opts.batch)), episodes))
    prox = _mu_sent(sc) > 0.0
    energy = getattr(result.evidence, "energy", {})
    end = result.summary.sim_time_s
    training_at_end = {
        t.client for t in result.timeline if t.state == "training" and t.end_s >= end
    }
    for c in result.clients:
        if c.env_episodes is None or c.env_steps is None:
            continue  # rl-play-counted says so
        trainings, rest = divmod(c.env_episodes, episodes)
        if rest:
            yield Violation(
                COMPUTE, f"clients.csv {c.client}: env_episodes {c.env_episodes} is no "
                f"whole number of trainings of {episodes} episodes",
            )  # fmt: skip
            continue
        updates = trainings * -(-episodes // batch)
        flops = cartpole_train_flops(hidden, c.env_steps, updates, prox)
        j_per_flop = sc.devices[c.device].compute_j_per_flop
        want = flops * j_per_flop
        got = float(c.energy_compute_j or 0.0)
        tol = 1e-9 * want + 1e-9  # the CSV writes 9 decimals
        # The part of a training past the run's end is refunded (fedsim.net.battery):
        # one training at most, still `training` in timeline.csv at the end.
        last = 0.0
        if c.client in training_at_end:
            last = cartpole_train_flops(
                hidden, min(c.env_steps, episodes * CARTPOLE_MAX_STEPS),
                -(-episodes // batch), prox,
            )  # fmt: skip
        ledger = energy.get(c.client)
        drained = ledger is not None and ledger.empty_at is not None
        if got > want + tol or (got < want - last * j_per_flop - tol and not drained):
            yield Violation(
                COMPUTE, f"clients.csv {c.client}: energy_compute_j {got:.9g} J, but "
                f"{c.env_steps} steps and {updates} updates played cost {flops:.9g} FLOPs "
                f"= {want:.9g} J on {c.device}",
            )  # fmt: skip


def _mu_sent(sc: Any) -> float:
    """The mu FedProx sends the devices (its default 0.01 unless written); 0 otherwise."""
    if sc.fl.strategy != "fedprox" or sc.fl.engine != "sync":
        return 0.0
    given = {**dict(sc.fl.local), **dict(sc.fl.options)}
    return float(given.get("mu", 0.01))
