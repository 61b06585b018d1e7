"""Scale benchmark: FedAvg with N devices on fast links, every device every round.

Wall time per client-round for fedsim (real aiohttp over the emulated network)
next to a plain NumPy loop doing the same training and averaging in the same
process, so the ratio does not depend on the machine.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fedsim.kernels.reference import sgd_train_numpy
from fedsim.rng import Streams
from fedsim.run import simulate
from fedsim.scenario import parse_scenario
from fedsim.tasks.registry import build_task

__all__ = ["fast_topology", "fedsim_per_client_round", "numpy_per_client_round"]


def fast_topology(devices: int, rounds: int) -> dict[str, Any]:
    return {
        "name": f"scale-{devices}",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": {
            "strategy": "fedavg",
            "rounds": rounds,
            "clients_per_round": devices,
            "min_available": devices,
            "quorum": 1.0,
            "deadline": "10min",
            "poll_wait": "10min",
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {
            "lan": {"kind": "ethernet", "bandwidth": "1Gbps", "latency": "0.5ms"},
            "core": {"kind": "backhaul", "bandwidth": "10Gbps", "latency": "1ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "core"}},
            {"name": "d", "kind": "device", "count": devices, "device": "rpi4",
             "uplink": {"to": "gw", "link": "lan"}},
        ],
    }  # fmt: skip


def fedsim_per_client_round(devices: int, rounds: int) -> tuple[float, dict[str, Any]]:
    sc = parse_scenario(fast_topology(devices, rounds))
    result = simulate(sc)
    s = result.summary
    return s.wall_time_s / (devices * s.rounds), s.to_json()


def numpy_per_client_round(devices: int, rounds: int) -> float:
    """The same work without any network: NumPy SGD per client, then a weighted mean."""
    sc = parse_scenario(fast_topology(devices, rounds))
    streams = Streams(sc.seed)
    task = build_task(sc.task, devices, streams)
    learners = [task.learner(i) for i in range(devices)]
    rng = np.random.default_rng(0)
    params = task.initial_params()
    t0 = time.perf_counter()
    for _ in range(rounds):
        new = []
        weights = []
        for ln in learners:
            p = params.copy()
            order = rng.permutation(ln.num_examples).astype(np.int64)
            sgd_train_numpy(p, ln.sizes, ln.X, ln.y, order, 16, 0.05, 0.0, params)
            new.append(p)
            weights.append(ln.num_examples)
        params = np.average(np.stack(new), axis=0, weights=weights).astype(np.float32)
    return (time.perf_counter() - t0) / (devices * rounds)


if __name__ == "__main__":
    import sys

    for n in [int(a) for a in sys.argv[1:]] or [100, 1000]:
        rounds = 5 if n <= 100 else 3
        fs, summ = fedsim_per_client_round(n, rounds)
        npy = numpy_per_client_round(n, rounds)
        print(
            f"{n} devices: fedsim {fs * 1e3:.3f} ms/client-round, numpy {npy * 1e3:.3f} "
            f"ms/client-round, acc {summ['final_metric']:.3f}, sim {summ['sim_time_s']:.2f}s"
        )
