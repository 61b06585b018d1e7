"""Federated RL measurements for issue 5 (criteria 2, 3 and 4), without the network.

FedAvg here is the plain numpy mean of the devices' updates (every device reports
every round), so the numbers isolate the learning from the network emulation;
topologies/frl_*.yaml run the same tasks through the FL stack.

(a) Homogeneous CartPole, 5 devices, one-episode updates, plain SGD at lr 0.3,
    vanilla REINFORCE (discounted returns-to-go, no baseline): rounds until the
    global greedy policy scores >= 475 on every device, vs one device learning
    alone with the same settings (capped; non-converged runs counted).
(b) Heterogeneous poles (half-length uniform 0.1-0.9), 5 devices, same update
    with the device's running-average baseline: episodes per device until (i) one
    averaged policy scores >= 475 on every device's own pole, (ii) every device
    learning alone reaches >= 475 on its own pole (the slowest device decides;
    the mean over devices is also printed), (iii) the averaged policy, fine-tuned
    on each device for K episodes at a small lr, scores >= 475 everywhere
    (rounds + K).
(c) Energy-harvesting AoI sensors, 5 devices, QAvg of tabular Q-learning with a
    step size that decays over the whole run (and, for contrast, restarting every
    round): the exact fraction of the value-iteration optimum of the shared greedy
    policy on the worst device, for the topology's parameter ranges (harvest
    0.3-0.5, success 0.6-0.9) and the task's wider defaults (0.2-0.6, 0.5-0.9).

Run: .venv/bin/python experiments/frl_cartpole.py [--part a|b|c] [--seeds N]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from fedsim.tasks.envs import FiniteMDP, fraction_of_optimal, value_iteration
from fedsim.tasks.rl import CartPoleTask, EnergyHarvestingTask

__all__ = ["main"]

TARGET = 475.0
CFG = {"episodes": 1, "batch": 1}


def _cartpole(seed: int, poles: Any, baseline: str, lr: float, **kw: Any) -> CartPoleTask:
    return CartPoleTask(
        5, seed, pole_half_length=poles, episodes=1, batch=1, lr=lr, optimizer="sgd",
        baseline=baseline, eval_episodes=10, **kw,
    )  # fmt: skip


def _fedavg(task: CartPoleTask, seed: int, cap: int, pers_k: int) -> tuple[Any, Any]:
    """(rounds until the averaged policy is >= 475 on every device, rounds + pers_k until
    it is after pers_k episodes of per-device fine-tuning); None when not within cap."""
    rng = np.random.default_rng([seed, 1])
    learners = [task.learner(i) for i in range(len(task.dynamics))]
    ev = task.evaluator()
    params = task.initial_params()
    hit = phit = None
    for r in range(1, cap + 1):
        ups = [lr_.train(params, CFG, rng)[0] for lr_ in learners]
        params = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
        m = ev.evaluate(params)
        if hit is None and m.get("min_device_return_global", m["min_device_return"]) >= TARGET:
            hit = r
        if pers_k and phit is None and m["min_device_return"] >= TARGET:
            phit = r + pers_k
        if hit is not None and (phit is not None or not pers_k):
            break
    return hit, phit


def _alone(task: CartPoleTask, device: int, seed: int, cap: int) -> int | None:
    """Episodes until `device` learning alone is >= 475 (greedy) on its own pole."""
    rng = np.random.default_rng([seed, 2, device])
    learner = task.learner(device)
    ev = task.evaluator()
    dyn = task.dynamics[device : device + 1]
    params = task.initial_params()
    for e in range(1, cap + 1):
        params = learner.train(params, CFG, rng)[0]
        if ev._returns(params, dyn, task.eval_seed)[0] >= TARGET:
            return e
    return None


def _job_a(args: tuple[int, str, float, int]) -> tuple[Any, Any]:
    seed, baseline, lr, cap = args
    task = _cartpole(seed, 0.5, baseline, lr)
    return _fedavg(task, seed, cap, 0)[0], _alone(task, 0, seed, cap)


def _job_b(args: tuple[int, str, float, int, int, float]) -> tuple[Any, Any, list[Any], list]:
    seed, baseline, lr, cap, k, plr = args
    task = _cartpole(100 + seed, (0.1, 0.9), baseline, lr, personalize_episodes=k,
                     personalize_lr=plr)  # fmt: skip
    fed, pers = _fedavg(task, seed, cap, k)
    alone = [_alone(task, d, seed, cap) for d in range(5)]
    return fed, pers, alone, task.dynamics[:, 0].round(2).tolist()


def _fmt(xs: list[Any]) -> str:
    ok = [x for x in xs if x is not None]
    fails = len(xs) - len(ok)
    if not ok:
        return f"none reached (n={len(xs)})"
    return f"median {np.median(ok):.0f}, mean {np.mean(ok):.0f}, range {min(ok)}-{max(ok)}" + (
        f", {fails} of {len(xs)} not reached" if fails else ""
    )


def part_a(ex: ProcessPoolExecutor, seeds: int, cap: int, baseline: str, lr: float) -> None:
    print(f"(a) homogeneous CartPole, 5 devices, 1-episode updates, SGD lr {lr}, "
          f"baseline {baseline}, cap {cap}")  # fmt: skip
    res = list(ex.map(_job_a, [(s, baseline, lr, cap) for s in range(seeds)]))
    fed = [r[0] for r in res]
    alone = [r[1] for r in res]
    print(f"    federated, rounds (= episodes per device) to >= 475 on every device: {_fmt(fed)}")
    tot = [None if r is None else 5 * r for r in fed]
    print(f"    federated, total episodes over the 5 devices: {_fmt(tot)}")
    print(f"    one device alone, episodes to >= 475: {_fmt(alone)}")
    capped = [cap if x is None else x for x in alone]
    print(f"    alone, median counting a non-converged run as {cap}: {np.median(capped):.0f}")
    print(f"    raw: federated={fed}")
    print(f"         alone={alone}")


def part_b(
    ex: ProcessPoolExecutor, seeds: int, cap: int, baseline: str, lr: float, k: int, plr: float
) -> None:
    print(f"(b) heterogeneous poles 0.1-0.9, 5 devices, 1-episode updates, SGD lr {lr}, "
          f"baseline {baseline}; personalisation {k} episodes at lr {plr}; cap {cap}")  # fmt: skip
    res = list(ex.map(_job_b, [(s, baseline, lr, cap, k, plr) for s in range(seeds)]))
    fed, pers, slowest, mean_dev = [], [], [], []
    for s, (f, p, alone, poles) in enumerate(res):
        fed.append(f)
        pers.append(p)
        slowest.append(None if None in alone else max(alone))
        capped = [cap if x is None else x for x in alone]
        mean_dev.append(int(np.mean(capped)))
        print(f"    seed {s}: poles {poles}: averaged {f}, averaged+fine-tune {p}, "
              f"alone per device {alone}")  # fmt: skip
    print(f"    (i)   one averaged policy, episodes per device: {_fmt(fed)}")
    print(f"    (ii)  per-device learning, slowest device: {_fmt(slowest)}")
    print(f"          per-device learning, mean over devices (cap counted): {_fmt(mean_dev)}")
    print(f"    (iii) averaged + {k}-episode fine-tune (incl. the {k}): {_fmt(pers)}")


def _avg_mdp(mdps: list[FiniteMDP]) -> FiniteMDP:
    """The mixture MDP (each step, a uniformly random device's dynamics)."""
    n = len(mdps)
    return FiniteMDP(
        np.concatenate([m.next_states for m in mdps], axis=2),
        np.concatenate([m.next_probs for m in mdps], axis=2) / n,
        np.concatenate([m.rewards for m in mdps], axis=2),
        mdps[0].start,
        mdps[0].gamma,
    )


def _job_c(args: tuple[int, Any, Any, int, int, float, bool]) -> tuple[Any, ...]:
    seed, harvest, success, steps, rounds, lr, over_rounds = args
    task = EnergyHarvestingTask(5, seed, harvest_prob=harvest, success_prob=success, steps=steps,
                                lr=lr, alpha_decay=0.01, decay_over_rounds=over_rounds)  # fmt: skip
    rng = np.random.default_rng([seed, 3])
    learners = [task.learner(i) for i in range(5)]
    ev = task.evaluator()
    params = task.initial_params()
    hit = None
    for r in range(1, rounds + 1):
        ups = [lr_.train(params, {}, rng)[0] for lr_ in learners]
        params = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
        m = ev.evaluate(params)
        if hit is None and m["fraction_of_optimal"] >= 0.95:
            hit = r
    # What one shared table can reach at best here: the mixture MDP's optimal policy.
    pol = value_iteration(_avg_mdp(task.mdps))[2]
    bound = min(
        fraction_of_optimal(md, pol, v)
        for md, v in zip(task.mdps, task.optimal_values, strict=True)
    )
    return m["fraction_of_optimal"], m["fraction_of_optimal_mean"], hit, bound


def part_c(
    ex: ProcessPoolExecutor, seeds: int, harvest: Any, success: Any, steps: int, lr: float,
    over_rounds: bool = True,
) -> None:  # fmt: skip
    rounds = 40
    n = "n = visits over the run" if over_rounds else "n = visits within the round"
    print(f"(c) energy-harvesting AoI, 5 devices (harvest {harvest}, success {success}), "
          f"QAvg {rounds} rounds x {steps} steps, step {lr}/(1 + 0.01 n), {n}")  # fmt: skip
    jobs = [(s, harvest, success, steps, rounds, lr, over_rounds) for s in range(seeds)]
    res = list(ex.map(_job_c, jobs))
    for s, (fmin, fmean, hit, bound) in enumerate(res):
        print(f"    seed {s}: worst device {fmin:.4f}, mean {fmean:.4f}, rounds to worst >= 0.95: "
              f"{hit}; mixture-MDP optimum on the worst device {bound:.4f}")  # fmt: skip
    worst = [r[0] for r in res]
    print(
        f"    worst device over seeds: min {min(worst):.4f}, median {np.median(worst):.4f}; "
        f"seeds with every device >= 0.95: {sum(w >= 0.95 for w in worst)} of {seeds}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--part", choices=["a", "b", "c"], action="append")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--cap", type=int, default=5000, help="max episodes (a, b)")
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--baseline-a", default="none")
    ap.add_argument("--baseline-b", default="running")
    ap.add_argument("--pers-k", type=int, default=10)
    ap.add_argument("--pers-lr", type=float, default=0.01)
    args = ap.parse_args()
    parts = args.part or ["a", "b", "c"]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as ex:
        if "a" in parts:
            part_a(ex, args.seeds, args.cap, args.baseline_a, args.lr)
        if "b" in parts:
            part_b(ex, args.seeds, args.cap, args.baseline_b, args.lr, args.pers_k, args.pers_lr)
        if "c" in parts:
            narrow = ((0.3, 0.5), (0.6, 0.9))
            wide = ((0.2, 0.6), (0.5, 0.9))
            part_c(ex, args.seeds, *narrow, 5_000, 0.2)
            part_c(ex, args.seeds, *narrow, 5_000, 0.2, over_rounds=False)
            part_c(ex, args.seeds, *wide, 5_000, 0.2)
            part_c(ex, args.seeds, *wide, 20_000, 0.5)
    print(f"wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
