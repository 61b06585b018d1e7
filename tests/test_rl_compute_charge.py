"""A CartPole device is charged for the episodes it played, not for 500-step ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from topo import rows

from fedsim.devices import BUILTIN_DEVICES
from fedsim.run import run_scenario
from fedsim.tasks.adversary import AdversarySpec, wrap
from fedsim.tasks.rl import CartPoleTask

ROUNDS = 4
CARTPOLE = {
    "name": "rl_charge",
    "seed": 2,
    "task": {"kind": "cartpole", "policy": "mlp", "hidden": 16, "eval_episodes": 3},
    "fl": {
        "rounds": ROUNDS,
        "clients_per_round": 1,
        "deadline": "60s",
        "local": {"episodes": 4, "batch": 4, "lr": 0.03},
    },
    "links": {"wifi": {"kind": "wifi", "bandwidth": "10Mbps", "latency": "2ms"}},
    "nodes": [
        {"name": "server", "kind": "server"},
        {"name": "m", "kind": "device", "count": 1, "device": "cortex-m4",
         "uplink": {"to": "server", "link": "wifi"}},
    ],
}  # fmt: skip


def test_work_done_counts_the_steps_played() -> None:
    task = CartPoleTask(1, seed=1, policy="mlp", hidden=16, episodes=4, batch=2)
    learner = task.learner(0)
    _, metrics = learner.train(task.initial_params(), {}, np.random.default_rng(0))
    steps = int(metrics["steps"])
    assert steps < 4 * 500  # an untrained policy drops the pole early
    done = learner.work_done({}, metrics)
    assert done == steps * task.flops_per_step + 2 * 10 * task.num_params
    assert done < learner.work({})  # work() stays the bound: every episode truncated
    # A Byzantine device trains honestly first: it is charged the same.
    bad = wrap(learner, AdversarySpec(0.5), np.random.default_rng(0))
    assert bad.work_done({}, metrics) == done


def test_run_charges_cartpole_energy_for_the_steps_played(tmp_path: Path) -> None:
    path = tmp_path / "rl_charge.yaml"
    path.write_text(yaml.safe_dump(CARTPOLE, sort_keys=False))
    out = run_scenario(path, out_root=tmp_path / "res")
    (client,) = rows(out / "clients.csv")
    assert int(client["rounds_reported"]) == ROUNDS  # every round trained was accepted
    steps = int(client["env_steps"])
    assert 0 < steps < ROUNDS * 4 * 500
    task = CartPoleTask(1, seed=2, policy="mlp", hidden=16)
    flops = steps * task.flops_per_step + ROUNDS * 10 * task.num_params
    charged = float(client["energy_compute_j"])
    assert np.isclose(charged, flops * BUILTIN_DEVICES["cortex-m4"].compute_j_per_flop, rtol=1e-6)
