"""The RL federations do what the file and the results say (outside review 2, findings
9, 10, 7 and 4): FedProx's mu is applied (or refused), settings no learner reads warn,
a personalised score carries its own name, and the env columns count what was played."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml
from topo import rows, tiny_topology

from fedsim.audit import INVARIANTS
from fedsim.config.rl_tasks import CARTPOLE_MAX_STEPS, cartpole_num_params
from fedsim.errors import ScenarioError
from fedsim.kernels.rl import CARTPOLE_MAX_STEPS as KERNEL_MAX_STEPS
from fedsim.kernels.rl import policy_num_params
from fedsim.record.compare import compare_runs
from fedsim.run import run_scenario, simulate
from fedsim.scenario import parse_scenario
from fedsim.tasks.rl import CartPoleTask

CART = {"kind": "cartpole", "policy": "linear", "optimizer": "sgd", "baseline": "running",
        "eval_episodes": 3}  # fmt: skip
EH = {"kind": "energy_harvesting", "steps": 500}


def _rl(task: dict[str, Any], local: dict[str, Any] | None = None, **changes: Any) -> Any:
    topo = tiny_topology(**changes)
    topo["task"] = dict(task)
    topo["fl"]["local"] = dict(local or {})
    return topo


# ------------------------------------------------------------------ finding 9: FedProx


def _distance(mu: float, optimizer: str = "sgd") -> float:
    task = CartPoleTask(2, seed=1, optimizer=optimizer, baseline="running")
    p0 = task.initial_params()
    config = {"episodes": 20, "batch": 1, "lr": 0.03, "mu": mu}
    new, _ = task.learner(0).train(p0, config, np.random.default_rng(0))
    return float(np.linalg.norm(new - p0))


def test_fedprox_mu_pulls_the_cartpole_policy_toward_the_global_one() -> None:
    free = _distance(0.0)
    assert _distance(1.0) != free  # mu is read: on main, every mu gave `free`
    assert _distance(10.0) < 0.25 * free  # a large mu keeps the local policy near
    assert _distance(10.0, "adam") < 0.1 * _distance(0.0, "adam")


def test_fedprox_term_is_charged() -> None:
    task = CartPoleTask(1, seed=1)
    learner = task.learner(0)
    metrics = {"steps": 100.0}
    extra = learner.work_done({"mu": 0.5}, metrics) - learner.work_done({}, metrics)
    assert extra == 3 * task.num_params  # one update of 4 episodes in a batch of 4


def test_fedprox_is_refused_on_tabular_q_learning() -> None:
    topo = _rl(EH, fl__strategy="{name: fedprox, mu: 0.1}")
    with pytest.raises(ScenarioError, match=r"fl\.strategy: fedprox .* energy_harvesting"):
        parse_scenario(topo)
    cart = _rl(CART, {"episodes": 4, "batch": 1}, fl__strategy="{name: fedprox, mu: 0.1}")
    assert parse_scenario(cart).warnings == ()


@pytest.mark.parametrize(
    ("local", "mu", "start"),
    [
        ({}, 0.1, "fl.strategy.mu: task cartpole makes one gradient step a round"),
        ({"episodes": 3, "batch": 1, "lr": 0.3}, 100, "fl.strategy.mu: lr x mu = 30 >= 2"),
    ],
)
def test_fedprox_where_its_term_cannot_act_as_meant_warns(
    local: dict[str, Any], mu: float, start: str
) -> None:
    topo = _rl(CART, local, fl__strategy=f"{{name: fedprox, mu: {mu}}}")
    (line,) = parse_scenario(topo).warnings
    assert line.startswith(start)


# --------------------------------------------------------- finding 10: unread settings


@pytest.mark.parametrize(
    ("task", "local", "changes", "start"),
    [
        (CART, {"epochs": 4, "batch_size": 64}, {},
         "fl.local.epochs, fl.local.batch_size: task cartpole does not read them"),
        (CART, {"epsilon": 0.9, "steps": 5}, {}, "fl.local.steps, fl.local.epsilon: task cartpole"),
        (EH, {"episodes": 1, "batch": 7}, {},
         "fl.local.episodes, fl.local.batch: task energy_harvesting does not read them"),
        ({**CART, "baseline": "mean", "baseline_rate": 0.9}, {}, {},
         "task.baseline_rate: only baseline running reads it"),
        ({**CART, "personalize_lr": 0.9}, {}, {}, "task.personalize_lr: only fine-tuning"),
    ],
)  # fmt: skip
def test_settings_an_rl_task_never_reads_warn(
    task: dict[str, Any], local: dict[str, Any], changes: dict[str, Any], start: str
) -> None:
    (line,) = parse_scenario(_rl(task, local, **changes)).warnings
    assert line.startswith(start)


@pytest.mark.parametrize(
    ("task", "local", "where"),
    [
        (CART, {"federated_eval": True}, "fl.local.federated_eval"),
        ({**CART, "hidden": 64}, {}, "task.hidden"),
    ],
)
def test_settings_an_rl_task_cannot_honour_are_errors(
    task: dict[str, Any], local: dict[str, Any], where: str
) -> None:
    with pytest.raises(ScenarioError, match=rf"^{where}:"):
        parse_scenario(_rl(task, local))


# ------------------------------------------------- findings 7 and 4: names and counts

SMALL = {
    "name": "cartp",
    "seed": 4,
    "task": {**CART, "pole_half_length": [0.3, 0.7]},
    "fl": {
        "rounds": 4,
        "clients_per_round": 3,
        "over_selection": "34%",
        "min_available": 4,
        "deadline": "20s",
        "local": {"episodes": 3, "batch": 1, "lr": 0.3},
    },
    "links": {
        "lte": {"kind": "lte", "bandwidth": "2Mbps", "latency": "30ms"},
        "core": {"kind": "backhaul", "bandwidth": "100Mbps", "latency": "10ms"},
    },
    "nodes": [
        {"name": "server", "kind": "server"},
        {"name": "enb", "kind": "gateway", "uplink": {"to": "server", "link": "core"}},
        {"name": "r", "kind": "device", "count": 5, "device": "rpi4",
         "uplink": {"to": "enb", "link": "lte"}},
    ],
}  # fmt: skip


def _run(root: Path, name: str, **task: Any) -> Path:
    topo = json.loads(json.dumps(SMALL))
    topo["name"] = name
    topo["task"].update(task)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(topo, sort_keys=False))
    return run_scenario(path, out_root=root / "res")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("rl"), "plain")


def test_env_columns_count_every_training(plain: Path) -> None:
    clients = rows(plain / "clients.csv")
    for c in clients:
        trainings = int(c["rounds_reported"]) + int(c["rounds_surplus"])
        # 3 episodes per training, accepted or not (main: accepted uploads only, blank
        # for a device none of whose uploads was accepted)
        assert c["env_episodes"] == str(3 * trainings), c
        assert (int(c["env_steps"]) > 0) == (float(c["energy_compute_j"]) > 0)
    assert any(c["rounds_surplus"] != "0" for c in clients)  # the case the review found


def test_a_personalised_metric_says_so_and_the_plain_scores_are_kept(
    plain: Path, tmp_path: Path
) -> None:
    summary = json.loads((plain / "summary.json").read_text())
    assert summary["metric_name"] == "mean_return"
    assert set(summary["final_scores"]) == {"mean_return", "min_device_return"}
    assert summary["final_scores"]["mean_return"] == summary["final_metric"]

    tuned = _run(tmp_path, "tuned", personalize_episodes=5)
    summary = json.loads((tuned / "summary.json").read_text())
    assert summary["metric_name"] == "mean_return_personalized"
    scores = summary["final_scores"]
    assert scores["mean_return_personalized"] == summary["final_metric"]
    assert {"mean_return", "min_device_return", "min_device_return_personalized"} <= set(scores)
    # fine-tuning is the server's evaluation protocol: the devices play and pay the same
    same = ("env_episodes", "env_steps", "energy_compute_j")
    assert [[c[k] for k in same] for c in rows(tuned / "clients.csv")] == [
        [c[k] for k in same] for c in rows(plain / "clients.csv")
    ]
    table = compare_runs([plain, tuned])
    assert table.mismatched == [False, True]
    assert any(
        "metric_name 'mean_return_personalized' vs 'mean_return'" in w for w in table.warnings
    )
    shared = f"like for like, is `{table.folders[1]}` {scores['mean_return']:.6g}"
    assert any(shared in w for w in table.warnings), table.warnings


def test_rl_play_invariant_fires_on_blank_env_columns() -> None:
    check = INVARIANTS["rl-play-counted"].check
    row = SimpleNamespace(client="r-4", env_episodes=None, env_steps=None, energy_compute_j=4e-5)
    broken = SimpleNamespace(summary=SimpleNamespace(task="cartpole"), clients=[row])
    (v,) = list(check(broken))
    assert "env_episodes, env_steps blank for RL task cartpole" in v.detail
    row.env_episodes, row.env_steps = 0, 0
    (v,) = list(check(broken))
    assert "charged, but env_steps 0" in v.detail
    scores = INVARIANTS["final-scores-metric"].check
    s = SimpleNamespace(
        final_scores={"mean_return": 1.0}, final_metric=2.0, metric_name="mean_return"
    )
    assert len(list(scores(SimpleNamespace(summary=s)))) == 1
    s.final_scores = None  # a run that kept its model writes its scores
    (v,) = list(scores(SimpleNamespace(summary=s)))
    assert "no final_scores" in v.detail


def test_compute_invariant_ties_energy_to_the_steps_played() -> None:
    """On a real run (FedProx's term charged, two Byzantine devices playing honestly),
    then with one device's compute energy off by 1 %, or charged for 500-step episodes."""
    import dataclasses

    topo = json.loads(json.dumps(SMALL))
    topo["fl"]["strategy"] = {"name": "fedprox", "mu": 1.0}
    topo["adversaries"] = {"fraction": "40%"}
    result = simulate(parse_scenario(topo))  # audited: the invariants pass
    check = INVARIANTS["rl-compute-matches-play"].check
    assert all(c.env_steps for c in result.clients if c.energy_compute_j)
    assert list(check(result)) == []
    c = result.clients[0]
    for energy in (c.energy_compute_j * 1.01, c.energy_compute_j * 0.99):
        bad = dataclasses.replace(c, energy_compute_j=energy)
        broken = SimpleNamespace(
            **{**vars(result), "timeline": result.timeline, "clients": [bad, *result.clients[1:]]}
        )
        (v,) = list(check(broken))
        assert v.detail.startswith(f"clients.csv {c.client}: energy_compute_j")
    assert CARTPOLE_MAX_STEPS == KERNEL_MAX_STEPS  # the audit's bound is the kernel's
    assert cartpole_num_params(0) == policy_num_params(0) == 10
    assert cartpole_num_params(16) == policy_num_params(16)
