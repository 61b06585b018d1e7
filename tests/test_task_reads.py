"""Each task's declared `local_keys` and `client_terms` are what its learners read.

Over every built-in task x every `fl.local` key: a key the task declares changes what a
learner trains or charges, a key it does not declare changes nothing (or is refused),
so a strategy's parameter or a local setting can never again be silently unread (on
main, FedProx's mu on CartPole was: outside review 2, finding 9). And every strategy
that adds a key to the devices' config names it in CLIENT_TERMS, so the config check
knows to ask the task for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fedsim.config.fl import LocalTraining
from fedsim.config.task_reads import CLIENT_TERMS
from fedsim.config.tasks import TASK_VARIANTS
from fedsim.fl.messages import ClientInfo
from fedsim.fl.strategies.registry import STRATEGIES, build_strategy
from fedsim.fl.strategy import Strategy
from fedsim.rng import Streams
from fedsim.scenario import TaskSpec
from fedsim.tasks.builtin import BUILTIN_TASKS
from fedsim.tasks.registry import build_task

SMALL: dict[str, dict[str, Any]] = {
    "digits": {},
    "synthetic": {"min_samples": 20, "max_samples": 40},
    "cartpole": {"episodes": 6, "batch": 2},  # three updates, so mu has a step to act on
    "energy_harvesting": {"steps": 300},
    "multichannel": {"steps": 300, "channels": 2, "max_gap": 2},
    "activity": {},
    "load_forecast": {},
}

VALUES = {
    "epochs": 2, "batch_size": 4, "lr": 0.5, "mu": 5.0, "episodes": 4, "batch": 1,
    "steps": 100, "gamma": 0.5, "epsilon": 0.9, "alpha_decay": 1.0,
}  # fmt: skip
"""A value for every learner key of fl.local, away from the defaults."""


def test_every_local_key_has_a_probe_value() -> None:
    assert set(LocalTraining.model_fields) == {*VALUES, "federated_eval"}
    assert set(SMALL) == {p.kind for p in BUILTIN_TASKS}


def _outcome(learner: Any, params: np.ndarray, config: dict[str, Any]) -> Any:
    try:
        new, metrics = learner.train(params, config, np.random.default_rng(7))
    except ValueError as exc:  # refused: never silently unread
        return ("refused", str(exc))
    done = getattr(learner, "work_done", None)
    cost = done(config, metrics) if done is not None else learner.work(config)
    return (new.tobytes(), cost)


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_declared_local_keys_are_exactly_the_keys_the_learners_read(kind: str) -> None:
    options = TASK_VARIANTS[kind]
    assert options.local_keys is not None, f"{kind}: a built-in declares its keys"
    task = build_task(TaskSpec(kind, SMALL[kind]), 3, Streams(5))
    p0 = task.initial_params()
    rng = np.random.default_rng(1)
    params = (p0 + rng.normal(0.0, 0.1, p0.size)).astype(np.float32)
    base = _outcome(task.learner(0), params, {})
    assert base[0] != "refused"
    for key, value in VALUES.items():
        got = _outcome(task.learner(0), params, {key: value})
        declared = key in options.local_keys or key in options.client_terms
        if declared:
            assert got[0] != "refused", f"{kind} declares {key}, refuses it"
            assert got != base, f"{kind} declares {key}, never reads it"
        else:
            assert got == base or got[0] == "refused", f"{kind} reads {key} undeclared"
    can_score = callable(getattr(task.learner(0), "evaluate", None))
    assert can_score == ("federated_eval" in options.local_keys)


def test_every_strategy_that_instructs_devices_names_its_terms() -> None:
    clients = [ClientInfo(f"c{i}", 10) for i in range(3)]
    for name, cls in STRATEGIES.items():
        strategy = build_strategy(name, {}, clients_per_round=3, lr=0.1)
        ((_, ins), *_) = strategy.configure_round(1, 0, clients, np.random.default_rng(0))
        added = set(ins.config) - {"lr"}
        assert added == set(CLIENT_TERMS.get(name, ())), name
        overrides = cls.configure_round is not Strategy.configure_round
        assert overrides == (name in CLIENT_TERMS), name
