"""What the task reads of what the file sets: a strategy's client-side term, `fl.local`.

Each task's options declare the `fl.local` keys its learners read (`local_keys`) and
the client-side strategy terms they implement (`client_terms`, fedsim/config/
task_options.py). A strategy whose devices must add a term the task's learners do not
implement is an error: the run would train another strategy under its name (FedProx on
tabular Q-learning was FedAvg labelled fedprox). A `fl.local` key no learner reads is a
warning (a sweep of it measures nothing), as RL keys on a supervised task always were;
`federated_eval` on a task whose learners cannot score a model is an error, as it
would leave `federated_metric` blank while asking for it; on a task whose learners
score but do not say what scoring costs (a plug-in without `evaluate_work`), a
warning once the task is built (`free_evaluation`): its devices score for free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fedsim.config.base import at_key

if TYPE_CHECKING:
    from fedsim.config.topology import Topology

__all__ = ["CLIENT_TERMS", "RL_LOCAL_KEYS", "free_evaluation", "task_reads"]

CLIENT_TERMS: dict[str, tuple[str, ...]] = {"fedprox": ("mu",)}
"""Strategy -> the keys its `configure_round` adds to every device's config, which the
task's learners must implement. tests/test_task_reads.py checks every strategy's."""

_TERM_WHAT = {"mu": "the proximal term mu/2 ||w - w_global||^2 in every local step"}

RL_LOCAL_KEYS = ("episodes", "batch", "steps", "gamma", "epsilon", "alpha_decay")
"""`fl.local` keys only the RL tasks read (docs/rl.md)."""


def task_reads(topology: Topology) -> list[str]:
    """Raise for a strategy term or `federated_eval` the task cannot honour; return a
    warning line for each group of set-but-unread keys."""
    task = topology.task
    fl = topology.fl
    if fl.engine == "sync":  # async (FedBuff) runs no strategy: a warning says so
        missing = [k for k in CLIENT_TERMS.get(fl.strategy, ()) if k not in task.client_terms]
        if missing:
            what = "; ".join(_TERM_WHAT.get(k, k) for k in missing)
            raise at_key(
                "fl.strategy",
                f"{fl.strategy} needs the devices to add {what}, but task {task.kind}'s "
                f"learners do not implement it{_why_not(task.kind)}: it would run as "
                "fedavg under another name; use fedavg (or another server-side strategy)",
            )
    out: list[str] = []
    prox = getattr(task, "prox_advice", None)
    if fl.engine == "sync" and fl.strategy == "fedprox" and prox is not None:
        local = fl.local.config()
        mu = float({**local, **fl.options}.get("mu", 0.01))  # FedProxOptions' default
        out.extend(prox(mu, local))
    given = fl.local.model_fields_set
    if task.local_keys is None:
        return [*out, *task.unread_options()]
    if fl.local.federated_eval and "federated_eval" not in task.local_keys:
        raise at_key(
            "fl.local.federated_eval",
            f"task {task.kind}'s devices cannot score a model on-device (its evaluator "
            "plays or solves every device's own environment at the server each round, "
            "which the metric already reports); drop it",
        )
    reads = task.local_keys | task.client_terms
    unread = [k for k in type(fl.local).model_fields if k in given and k not in reads]
    unread = [k for k in unread if k not in ("mu", "federated_eval")]  # checked above
    if unread:
        keys = ", ".join(f"fl.local.{k}" for k in unread)
        if task.local_keys.isdisjoint(RL_LOCAL_KEYS) and set(unread) <= set(RL_LOCAL_KEYS):
            out.append(
                f"{keys}: RL training settings, but task {task.kind} is not an RL task: "
                "they are not used"
            )
        else:
            reads_text = ", ".join(sorted(task.local_keys - {"federated_eval"}))
            out.append(
                f"{keys}: task {task.kind} does not read {'it' if len(unread) == 1 else 'them'}"
                f" (its learners read fl.local {reads_text}): not used"
            )
    return [*out, *task.unread_options()]


def free_evaluation(kind: str, local: Any, learner: Any) -> list[str]:
    """The warning for `fl.local.federated_eval` on learners that can `evaluate` but
    declare no `evaluate_work`: the client can charge their scoring nothing (no device
    time, no energy), so a comparison with and without it would show the same costs.
    Needs the built task's learner (a plug-in's class is unknown before), so the run
    calls it at its start, beside `fedsim show`'s estimates."""
    if not dict(local).get("federated_eval") or learner is None:
        return []
    if getattr(learner, "evaluate", None) is None or hasattr(learner, "evaluate_work"):
        return []
    return [
        f"fl.local.federated_eval: task {kind}'s learners score the global model on their "
        "own data but do not say what it costs (no evaluate_work()): the devices are "
        "charged no time and no energy for it; declare evaluate_work() (docs/tasks.md)"
    ]


def _why_not(kind: str) -> str:
    return " (tabular Q-learning has no gradient step)" if kind in _TABULAR else ""


_TABULAR = ("energy_harvesting", "multichannel")
