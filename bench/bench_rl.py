"""RL throughput: Numba CartPole vs gymnasium CartPole-v1 (same run), local training,
and rollouts per second during federated training (numpy FedAvg, and the whole FL
stack on topologies/frl_cartpole_lte.yaml).

Run: .venv/bin/python bench/bench_rl.py  (gymnasium is a dev dependency).
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from fedsim.kernels.rl import (
    BASELINE_WHITEN,
    CARTPOLE_DEFAULT_DYNAMICS,
    OPT_ADAM,
    cartpole_random_steps,
    policy_num_params,
    q_learning,
    reinforce_train,
)
from fedsim.run import run_scenario
from fedsim.tasks.envs import energy_harvesting_mdp
from fedsim.tasks.rl import CartPoleTask

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["main"]


def _gym_steps_per_s(n: int) -> float:
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    actions = rng.integers(2, size=n)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - t0)


def _numba_steps_per_s(n: int) -> float:
    cartpole_random_steps(CARTPOLE_DEFAULT_DYNAMICS, 10, 0)  # compile / load cache
    t0 = time.perf_counter()
    cartpole_random_steps(CARTPOLE_DEFAULT_DYNAMICS, n, 1)
    return n / (time.perf_counter() - t0)


def _training(hidden: int, episodes: int, trained: bool) -> tuple[float, float]:
    """(episodes/s, env steps/s) of REINFORCE, from an untrained or a balancing policy."""
    params = np.zeros(policy_num_params(hidden), dtype=np.float32)
    if hidden:
        params = np.random.default_rng(0).normal(0, 0.5, params.size).astype(np.float32)
    args = (CARTPOLE_DEFAULT_DYNAMICS, 4, 4, 0.03, 0.99, OPT_ADAM, BASELINE_WHITEN, 500)
    # reinforce_train returns (params, episodes, steps, mean return, running baseline).
    if trained:
        params, *_ = reinforce_train(params, hidden, args[0], 400, *args[2:], 0)
    reinforce_train(params, hidden, *args, 1)
    t0 = time.perf_counter()
    _, eps, steps, *_ = reinforce_train(params, hidden, args[0], episodes, *args[2:], 2)
    dt = time.perf_counter() - t0
    return eps / dt, steps / dt


def _fedavg_rollouts(rounds: int) -> tuple[float, float, float]:
    """(episodes/s, env steps/s, rounds/s) of 5-device numpy FedAvg, one-episode updates,
    including the server's greedy evaluation (10 episodes per device) every round."""
    task = CartPoleTask(5, 0, pole_half_length=(0.3, 0.7), episodes=1, batch=1, lr=0.3,
                        optimizer="sgd", baseline="running")  # fmt: skip
    learners = [task.learner(i) for i in range(5)]
    ev = task.evaluator()
    rng = np.random.default_rng(0)
    params = task.initial_params()
    learners[0].train(params, {}, rng)
    eps = steps = 0.0
    t0 = time.perf_counter()
    for _ in range(rounds):
        ups = []
        for lr_ in learners:
            p, m = lr_.train(params, {}, rng)
            ups.append(p)
            eps += m["episodes"]
            steps += m["steps"]
        params = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
        ev.evaluate(params)
    dt = time.perf_counter() - t0
    return eps / dt, steps / dt, rounds / dt


def _stack_rollouts(rounds: int) -> tuple[float, float, int]:
    """(training episodes/s of wall time, rounds/s, rounds) through the whole FL stack."""
    topo = ROOT / "topologies/frl_cartpole_lte.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        run_scenario(topo, overrides=["fl.rounds=2"], out_root=Path(tmp) / "warm")
        t0 = time.perf_counter()
        out = run_scenario(topo, overrides=[f"fl.rounds={rounds}", "fl.target=null"],
                           out_root=Path(tmp) / "run")  # fmt: skip
        dt = time.perf_counter() - t0
        with (out / "rounds.csv").open() as fh:
            rows = list(csv.DictReader(fh))
    episodes = sum(int(r["reported"]) for r in rows)  # local: {episodes: 1}
    return episodes / dt, len(rows) / dt, len(rows)


def main() -> None:
    n = 200_000
    g = _gym_steps_per_s(n)
    nb = _numba_steps_per_s(20 * n)
    print(f"CartPole random actions: numba {nb / 1e6:.1f} M steps/s")
    print(f"  gymnasium CartPole-v1 (gym.make, default wrappers) {g / 1e3:.0f} k steps/s")
    print(f"  ratio x{nb / g:.0f}")
    for hidden, label in ((0, "linear"), (16, "mlp16")):
        for trained in (False, True):
            eps, steps = _training(hidden, 2000, trained)
            state = "balancing policy" if trained else "initial policy"
            print(
                f"REINFORCE {label}, {state}: {eps:,.0f} episodes/s ({steps / 1e6:.2f} M steps/s)"
            )
    mdp = energy_harvesting_mdp(0.4, 0.8)
    q0 = np.zeros((mdp.num_states, 2), dtype=np.float32)
    qa = (mdp.next_states, mdp.next_probs, mdp.rewards, mdp.start)
    q_learning(q0, *qa, 10, 50, 0.5, 0.95, 0.1, 0, 0.05)
    t0 = time.perf_counter()
    q_learning(q0, *qa, 2_000_000, 50, 0.5, 0.95, 0.1, 1, 0.05)
    print(f"Q-learning energy harvesting: {2e6 / (time.perf_counter() - t0) / 1e6:.1f} M steps/s")
    eps, steps, rps = _fedavg_rollouts(300)
    print(
        "Federated CartPole, numpy FedAvg (5 devices x 1 episode, eval every round): "
        f"{eps:,.0f} training episodes/s ({steps / 1e3:.0f} k steps/s), {rps:.0f} rounds/s"
    )
    eps, rps, n = _stack_rollouts(60)
    print(f"Federated CartPole through the FL stack (frl_cartpole_lte, {n} rounds): "
          f"{eps:,.0f} training episodes/s of wall time, {rps:.1f} rounds/s")  # fmt: skip


if __name__ == "__main__":
    main()
