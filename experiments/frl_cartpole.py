"""Federated RL measurements for issue 5 (criteria 2, 3 and 4), without the network.

FedAvg here is the plain numpy mean of the devices' updates (every device reports
every round), so the numbers isolate the learning from the network emulation;
topologies/frl_*.yaml run the same tasks through the FL stack.

(a) Homogeneous CartPole, 5 devices, one-episode updates, plain SGD at lr 0.3,
    vanilla REINFORCE (discounted returns-to-go, no baseline): rounds until the
    global greedy policy scores >= 475 on every device, vs one device learning
    alone with the same settings (capped; non-converged runs counted).
(b) Heterogeneous poles (half-length uniform 0.1-0.9), 5 devices, 20 seeds. Per
    device: the episodes that device spent until the policy it would deploy scores
    >= 475 (10 greedy episodes, its own pole and evaluation seed, checked after
    every update; cap 2000, counted as 2000). Deployed policy: (i) the FedAvg global
    policy; (ii) its own, learning alone from scratch; (iii) FedAvg until the
    global policy is solved on a majority (3 of 5) of the devices, then each other
    device goes on learning alone from that global policy with its own learner
    (lr, batch, running-baseline state) until solved. Shared settings: one-episode
    SGD at lr 0.3, running baseline; then an equal tuning budget (every method
    picks its best of the same 9 learner settings by mean episodes per device).
(c) Energy-harvesting AoI sensors, 5 devices, QAvg of tabular Q-learning with a
    step size that decays over the whole run (and, for contrast, restarting every
    round): the exact fraction of the value-iteration optimum of the shared greedy
    policy on the worst device, for the topology's parameter ranges (harvest
    0.3-0.5, success 0.6-0.9) and the task's wider defaults (0.2-0.6, 0.5-0.9).

Run: .venv/bin/python experiments/frl_cartpole.py [--part a|b|c] [--seeds N] [--seeds-b N]
     [--fleet 5 10 20]  (part b's protocol for other fleet sizes)
     [--policy-b mlp]   (part b with a 16-unit MLP policy instead of linear-softmax)
"""

from __future__ import annotations

import argparse
import copy
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


def _cartpole(
    seed: int, poles: Any, baseline: str, lr: float, optimizer: str = "sgd", batch: int = 1,
    devices: int = 5, **kw: Any,
) -> CartPoleTask:  # fmt: skip
    return CartPoleTask(
        devices, seed, pole_half_length=poles, episodes=batch, batch=batch, lr=lr,
        optimizer=optimizer, baseline=baseline, eval_episodes=10, **kw,
    )  # fmt: skip


def _fedavg(task: CartPoleTask, seed: int, cap: int) -> int | None:
    """Rounds until the averaged policy is >= 475 on every device; None when not within cap."""
    rng = np.random.default_rng([seed, 1])
    learners = [task.learner(i) for i in range(len(task.dynamics))]
    ev = task.evaluator()
    params = task.initial_params()
    for r in range(1, cap + 1):
        ups = [lr_.train(params, CFG, rng)[0] for lr_ in learners]
        params = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
        if ev.evaluate(params)["min_device_return"] >= TARGET:
            return r
    return None


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
    return _fedavg(task, seed, cap), _alone(task, 0, seed, cap)


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


# Part (b): every device counts the episodes it spent until the policy it would deploy
# scores >= 475 on its own pole (`device_return`: 10 greedy episodes from the device's
# own evaluation seed, checked after every update).
Config = tuple[float, str, str, int]  # lr, optimizer, baseline, batch (episodes per update)
GRID_B: list[Config] = [
    (0.1, "sgd", "running", 1), (0.3, "sgd", "running", 1), (1.0, "sgd", "running", 1),
    (0.01, "adam", "running", 1), (0.03, "adam", "running", 1), (0.1, "adam", "running", 1),
    (0.03, "adam", "whiten", 4), (0.1, "adam", "whiten", 4), (1.0, "sgd", "whiten", 4),
]  # fmt: skip
MAIN_B: Config = (0.3, "sgd", "running", 1)
POLICY_B = "linear"
"""Policy class for part (b): "linear" (softmax) or "mlp" (16 tanh units), --policy-b."""
SHORT_POLE = 0.26
"""Short poles: the lowest fifth of the 0.1-0.9 range."""


def _local(task: CartPoleTask, learner: Any, device: int, params: Any, seed: list[int],
           cap: int) -> int | None:  # fmt: skip
    """Episodes until `learner`, continuing from `params` on its own device, is >= 475 there
    (0 if `params` already are); None when not within `cap` episodes."""
    ev = task.evaluator()
    rng = np.random.default_rng(seed)
    used = 0
    while ev.device_return(params, device) < TARGET:
        if used >= cap:
            return None
        params = learner.train(params, {}, rng)[0]
        used += task.episodes
    return used


def _job_b(args: tuple) -> tuple[list[float], list, list, list, int]:
    """One seed, one learner config (and fleet size, 5 unless given): per-device
    episodes for (i), (ii), (iii)."""
    seed, (lr, opt, baseline, batch), cap, *rest = args
    task = _cartpole(100 + seed, (0.1, 0.9), baseline, lr, opt, batch, *rest, policy=POLICY_B)
    n = len(task.dynamics)
    # (ii) every device learns alone from scratch.
    alone = [
        _local(task, task.learner(d), d, task.initial_params(), [seed, 2, d], cap) for d in range(n)
    ]
    # (i) FedAvg, every device deploys the global policy.
    rng = np.random.default_rng([seed, 1])
    learners = [task.learner(d) for d in range(n)]
    ev = task.evaluator()
    params = task.initial_params()
    fed: list[int | None] = [None] * n
    pers: list[int | None] | None = None
    switch = 0
    for r in range(1, cap // batch + 1):
        ups = [lr_.train(params, {}, rng)[0] for lr_ in learners]
        params = np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)
        for d in range(n):
            if fed[d] is None and ev.device_return(params, d) >= TARGET:
                fed[d] = r * batch
        solved = sum(x is not None for x in fed)
        if pers is None and (2 * solved > n or r * batch >= cap):
            # (iii) Once the global policy is solved on a majority of the devices, every
            # other device goes on learning alone from it (its own learner and state).
            switch = r * batch
            pers = []
            for d in range(n):
                if fed[d] is not None:
                    pers.append(fed[d])
                    continue
                e = _local(task, copy.deepcopy(learners[d]), d, params, [seed, 4, d], cap - switch)
                pers.append(None if e is None else switch + e)
        if solved == n:
            break
    assert pers is not None
    return task.dynamics[:, 0].tolist(), fed, alone, pers, switch


def _stats(xs: list[Any], cap: int) -> dict[str, float]:
    a = np.array([cap if x is None else x for x in xs], dtype=float)
    return {"mean": a.mean(), "median": float(np.median(a)), "p90": np.percentile(a, 90),
            "max": a.max(), "unsolved": float(np.mean([x is None for x in xs]))}  # fmt: skip


def _line(xs: list[Any], cap: int) -> str:
    s = _stats(xs, cap)
    return (f"mean {s['mean']:4.0f}, median {s['median']:4.0f}, p90 {s['p90']:4.0f}, "
            f"max {s['max']:4.0f}, not solved within {cap}: {s['unsolved']:.0%}")  # fmt: skip


def part_b(ex: ProcessPoolExecutor, seeds: int, cap: int) -> None:
    print(f"(b) heterogeneous poles (half-length uniform 0.1-0.9), {POLICY_B} policy, 5 devices, "
          f"{seeds} seeds; "
          f"per device: episodes it spent until the policy it deploys scores >= {TARGET:.0f} "
          f"on its own pole (cap {cap}, counted as {cap})")  # fmt: skip
    methods = ("(i) one averaged policy", "(ii) per-device learning", "(iii) FedAvg, then local")
    res = {c: list(ex.map(_job_b, [(s, c, cap) for s in range(seeds)])) for c in GRID_B}

    def per_method(c: Config) -> list[list[Any]]:
        return [[x for r in res[c] for x in r[k]] for k in (1, 2, 3)]

    main = res[MAIN_B]
    poles = np.array([p for r in main for p in r[0]])
    short = poles < SHORT_POLE
    lr, opt, baseline, batch = MAIN_B
    print(f"  shared settings (no tuning): {opt.upper()} lr {lr}, {batch}-episode updates, "
          f"{baseline} baseline; (iii) switches once the global policy solves 3 of 5")  # fmt: skip
    for s, (pl, f, a, p, sw) in enumerate(main):
        print(f"    seed {s:2d}: poles {np.round(pl, 2).tolist()}: (i) {f}  (ii) {a}  "
              f"(iii) {p} (switch at {sw})")  # fmt: skip
    cols = per_method(MAIN_B)
    for name, xs in zip(methods, cols, strict=True):
        arr = np.array([cap if x is None else x for x in xs])
        worst = arr.reshape(seeds, -1).max(axis=1)
        print(f"  {name:26s} all {len(xs)} devices: {_line(xs, cap)}")
        print(f"  {'':26s} {short.sum()} short poles (< {SHORT_POLE}): "
              f"mean {arr[short].mean():.0f}, "
              f"median {np.median(arr[short]):.0f}; other poles: mean {arr[~short].mean():.0f}, "
              f"median {np.median(arr[~short]):.0f}; slowest device per seed: "
              f"mean {worst.mean():.0f}, median {np.median(worst):.0f}")  # fmt: skip
    print(f"  equal tuning budget: each method picks, from the same {len(GRID_B)} learner "
          f"settings, the one with the lowest mean episodes per device")  # fmt: skip
    for c in GRID_B:
        means = [f"{_stats(xs, cap)['mean']:5.0f}" for xs in per_method(c)]
        print(f"    lr {c[0]:<4} {c[1]:4s} {c[2]:7s} batch {c[3]}: mean (i) {means[0]}, "
              f"(ii) {means[1]}, (iii) {means[2]}")  # fmt: skip
    for k, name in enumerate(methods):
        best = min(GRID_B, key=lambda c: _stats(per_method(c)[k], cap)["mean"])
        xs = per_method(best)[k]
        arr = np.array([cap if x is None else x for x in xs])
        print(f"  {name:26s} best {best}: {_line(xs, cap)}; short poles: mean "
              f"{arr[short].mean():.0f}")  # fmt: skip


def part_b_fleet(ex: ProcessPoolExecutor, seeds: int, cap: int, sizes: list[int]) -> None:
    """Part (b)'s protocol and shared settings for several fleet sizes: more devices
    pool more episodes per round, but a short pole's gradient is a smaller share of
    the average."""
    lr, opt, baseline, batch = MAIN_B
    print(f"(b, fleet size) poles 0.1-0.9, {seeds} seeds per size, {opt.upper()} lr {lr}, "
          f"{batch}-episode updates, {baseline} baseline; episodes per device")  # fmt: skip
    for n in sizes:
        res = list(ex.map(_job_b, [(s, MAIN_B, cap, n) for s in range(seeds)]))
        poles = np.array([p for r in res for p in r[0]])
        short = poles < SHORT_POLE
        for k, name in ((1, "(i) averaged"), (2, "(ii) per-device"), (3, "(iii) then local")):
            a = np.array([cap if x is None else x for r in res for x in r[k]], dtype=float)
            worst = a.reshape(seeds, -1).max(axis=1)
            print(f"  {n:3d} devices {name:17s} mean {a.mean():5.0f}, median "
                  f"{np.median(a):4.0f}, short poles ({short.sum()}) mean {a[short].mean():5.0f}, "
                  f"other {a[~short].mean():4.0f}, slowest device per seed mean "
                  f"{worst.mean():5.0f}, unsolved {np.mean(a >= cap):.0%}")  # fmt: skip


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
    ap.add_argument("--cap", type=int, default=5000, help="max episodes (a)")
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--baseline-a", default="none")
    ap.add_argument("--seeds-b", type=int, default=20)
    ap.add_argument("--cap-b", type=int, default=2000, help="max episodes per device (b)")
    ap.add_argument("--policy-b", choices=["linear", "mlp"], default="linear",
                    help="policy class for (b)")  # fmt: skip
    ap.add_argument("--fleet", type=int, nargs="*", default=[],
                    help="(b) again for these fleet sizes, e.g. --fleet 5 10 20")  # fmt: skip
    args = ap.parse_args()
    parts = args.part or ["a", "b", "c"]
    global POLICY_B
    POLICY_B = args.policy_b  # set before the pool forks its workers
    t0 = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as ex:
        if "a" in parts:
            part_a(ex, args.seeds, args.cap, args.baseline_a, args.lr)
        if "b" in parts:
            part_b(ex, args.seeds_b, args.cap_b)
        if args.fleet:
            part_b_fleet(ex, args.seeds_b, args.cap_b, args.fleet)
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
