"""Federated RL measurements: FedAvg on CartPole (homogeneous and heterogeneous poles)
and QAvg on the energy-harvesting AoI sensor, without the network (numpy averaging).

Run: .venv/bin/python experiments/frl_cartpole.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fedsim.tasks.envs import fraction_of_optimal, value_iteration
from fedsim.tasks.rl import CartPoleTask, EnergyHarvestingTask

__all__ = ["main"]

TARGET = 475.0
LR = 0.3  # plain SGD, one episode per update (whitened-return baseline)
CFG = {"episodes": 1, "batch": 1, "lr": LR}


def _task(
    n: int, seed: int, poles: float | tuple[float, float], personalize: int = 0
) -> CartPoleTask:
    return CartPoleTask(
        n, seed, pole_half_length=poles, episodes=1, batch=1, lr=LR, optimizer="sgd",
        eval_episodes=10, personalize_episodes=personalize,
    )  # fmt: skip


def federated_rounds(task: CartPoleTask, n: int, seed: int, max_rounds: int) -> int | None:
    """FedAvg rounds (= episodes per device) until the global greedy policy averages >= 475."""
    rng = np.random.default_rng([seed, 1])
    learners = [task.learner(i) for i in range(n)]
    ev = task.evaluator()
    params = task.initial_params()
    for r in range(1, max_rounds + 1):
        ups = [lr_.train(params, CFG, rng)[0] for lr_ in learners]
        params = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
        if ev.evaluate(params)["mean_return"] >= TARGET:
            return r
    return None


def alone_episodes(task: CartPoleTask, device: int, seed: int, max_eps: int) -> int | None:
    """Episodes until one device learning alone reaches 475 (greedy) on its own pole."""
    rng = np.random.default_rng([seed, 2, device])
    learner = task.learner(device)
    one = _task(1, 0, float(task.dynamics[device, 0]))  # evaluator on this device's pole
    ev = one.evaluator()
    params = task.initial_params()
    for e in range(1, max_eps + 1):
        params = learner.train(params, CFG, rng)[0]
        if ev.evaluate(params)["mean_return"] >= TARGET:
            return e
    return None


def _fmt(xs: list[int | None]) -> str:
    ok = [x for x in xs if x is not None]
    fails = len(xs) - len(ok)
    if not ok:
        return f"none reached (n={len(xs)})"
    return f"median {np.median(ok):.0f}, mean {np.mean(ok):.0f}, range {min(ok)}-{max(ok)}" + (
        f", {fails} of {len(xs)} not reached" if fails else ""
    )


def part_a(seeds: int, cap: int) -> None:
    print("(a) homogeneous CartPole, 5 devices, 1-episode updates, SGD lr 0.3, FedAvg each round")
    fed, alone = [], []
    for s in range(seeds):
        task = _task(5, s, 0.5)
        fed.append(federated_rounds(task, 5, s, cap))
        alone.append(alone_episodes(task, 0, s, cap))
    print(f"    federated: rounds (= episodes per device) to avg greedy >= 475: {_fmt(fed)}")
    tot = [None if r is None else 5 * r for r in fed]
    print(f"    federated: total episodes over 5 devices: {_fmt(tot)}")
    print(f"    single device alone: episodes to >= 475: {_fmt(alone)}")
    print(f"    raw: fed={fed} alone={alone}")


def part_b(seeds: int, cap: int) -> None:
    print("(b) heterogeneous poles, half-length uniform 0.1-0.9, 5 devices")
    fed, pers, alone_mean, alone_max = [], [], [], []
    k = 5
    for s in range(seeds):
        task = _task(5, 100 + s, (0.1, 0.9))
        fed.append(federated_rounds(task, 5, s, cap))
        ptask = _task(5, 100 + s, (0.1, 0.9), personalize=k)
        r = federated_rounds(ptask, 5, s, cap)
        pers.append(None if r is None else r + k)
        per_dev = [alone_episodes(task, d, s, cap) for d in range(5)]
        ok = [x for x in per_dev if x is not None]
        alone_mean.append(int(np.mean(ok)) if len(ok) == 5 else None)
        alone_max.append(max(ok) if len(ok) == 5 else None)
        print(f"    seed {s}: poles {np.round(task.dynamics[:, 0], 2).tolist()}: fed {fed[-1]}, "
              f"fed+personal {pers[-1]}, alone per device {per_dev}")  # fmt: skip
    print(f"    one averaged policy: episodes per device to mean >= 475: {_fmt(fed)}")
    print(f"    averaged + {k}-episode personalisation (incl. those {k}): {_fmt(pers)}")
    print(f"    per-device learning alone, mean over devices: {_fmt(alone_mean)}")
    print(f"    per-device learning alone, slowest device: {_fmt(alone_max)}")


def part_c(seeds: int) -> None:
    print("(c) energy-harvesting AoI, 5 devices (harvest 0.2-0.6, channel 0.5-0.9), QAvg")
    steps = 5_000
    for s in range(seeds):
        task = EnergyHarvestingTask(5, s, steps=steps)
        rng = np.random.default_rng([s, 3])
        learners = [task.learner(i) for i in range(5)]
        ev = task.evaluator()
        params = task.initial_params()
        hit95 = hit99 = None
        for r in range(1, 41):
            params = np.mean([lr_.train(params, {}, rng)[0] for lr_ in learners], axis=0)
            params = params.astype(np.float32)
            m = ev.evaluate(params)
            if hit95 is None and m["fraction_of_optimal"] >= 0.95:
                hit95 = r
            if hit99 is None and m["fraction_of_optimal"] >= 0.99:
                hit99 = r
        # Each device alone with the same number of steps (40 rounds x 5000), in one run.
        alone = []
        for i, lr_ in enumerate(learners):
            q = lr_.train(task.initial_params(), {"steps": 40 * steps}, rng)[0]
            pol = np.argmax(q.reshape(-1, 2), axis=1)
            alone.append(fraction_of_optimal(task.mdps[i], pol, task.optimal_values[i]))
        # How good can one shared policy be? Best device-optimal policy, scored on all.
        opt = [value_iteration(m_)[2] for m_ in task.mdps]
        pairs = list(zip(task.mdps, task.optimal_values, strict=True))
        shared = max(min(fraction_of_optimal(m_, p, v) for m_, v in pairs) for p in opt)
        always = [
            fraction_of_optimal(m_, np.ones(task.num_states, dtype=np.int64), v)
            for m_, v in zip(task.mdps, task.optimal_values, strict=True)
        ]
        fr = m["fraction_of_optimal"]
        print(f"    seed {s}: QAvg 40 rounds x {steps} steps: min {fr:.4f}, "
              f"mean {m['fraction_of_optimal_mean']:.4f}; rounds to min>=0.95: {hit95}, "
              f">=0.99: {hit99}")  # fmt: skip
        print(f"      alone ({40 * steps} steps each): min {min(alone):.4f} "
              f"mean {np.mean(alone):.4f}; best device-optimal policy shared: min {shared:.4f}; "
              f"always-transmit: min {min(always):.3f} mean {np.mean(always):.3f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer seeds")
    args = ap.parse_args()
    t0 = time.perf_counter()
    part_a(3 if args.quick else 10, 3000)
    part_b(2 if args.quick else 5, 3000)
    part_c(2 if args.quick else 5)
    print(f"wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
