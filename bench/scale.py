"""Scale benchmark: FedAvg with N devices on fast links, every device every round.

Wall time per client-round for fedsim (real aiohttp over the emulated network)
next to a plain NumPy loop doing the same training and averaging in the same
process, so the ratio does not depend on the machine.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from star import every_device_fedavg, star_network

from fedsim.kernels.reference import sgd_train_numpy
from fedsim.rng import Streams
from fedsim.run import simulate
from fedsim.scenario import parse_scenario
from fedsim.tasks.registry import build_task

__all__ = [
    "fast_topology",
    "fedsim_per_client_round",
    "measure_case",
    "numpy_per_client_round",
    "synthetic_topology",
]


def fast_topology(devices: int, rounds: int) -> dict[str, Any]:
    return {
        "name": f"scale-{devices}",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": every_device_fedavg(devices, rounds, batch_size=16, lr=0.05),
        **star_network(devices),
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


# -- the scale table (issue 13): synthetic task, auditor on, one process per case ----------

SCALE_CASES: tuple[tuple[int, int], ...] = (
    (100, 100),
    (1000, 1000),
    (10_000, 10_000),
    (100_000, 1000),
)
"""(registered devices, devices per round); 20 rounds each."""


def synthetic_topology(devices: int, per_round: int, rounds: int = 20) -> dict[str, Any]:
    """A city of devices: fast Ethernet behind one gateway, the synthetic task (its data
    grow with the device count, unlike digits' 1797 samples)."""
    topo = fast_topology(devices, rounds)
    topo["name"] = f"scale-{devices}-{per_round}"
    topo["task"] = {"kind": "synthetic", "min_samples": 20, "max_samples": 60}
    topo["fl"].update(clients_per_round=per_round, min_available=per_round)
    return topo


class _RoundLog:
    """Each finished round on stderr (a long case shows how far it got)."""

    def update(self, **row: Any) -> None:
        import sys

        print(f"round {row['round']} at {row['sim_time_s']:.0f} s simulated", file=sys.stderr)


class _GcClock:
    """CPU time inside the cyclic GC while active (gc.callbacks), and full collections."""

    def __init__(self) -> None:
        self.total = 0.0
        self.full = 0
        self._t = 0.0

    def _see(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.process_time()
        else:
            self.total += time.process_time() - self._t
            self.full += info["generation"] == 2

    def __enter__(self) -> None:
        import gc

        gc.callbacks.append(self._see)

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.callbacks.remove(self._see)


def measure_case(devices: int, per_round: int, rounds: int = 20) -> dict[str, Any]:
    """Run one case in this process: loop, audit and whole-simulate wall, peak RSS."""
    import resource

    from fedsim.run import raise_if_violated

    simulate(parse_scenario(synthetic_topology(2, 2, 1)))  # warm-up: Numba caches
    t0 = time.perf_counter()
    sc = parse_scenario(synthetic_topology(devices, per_round, rounds))
    t1 = time.perf_counter()
    gc_time = _GcClock()
    cpu = time.process_time()
    with gc_time:
        result = simulate(sc, audit=False, progress=_RoundLog(), last_in_process=True)
    cpu = time.process_time() - cpu
    t2 = time.perf_counter()
    raise_if_violated(result)  # the auditor, timed on its own
    t3 = time.perf_counter()
    s = result.summary
    client_rounds = per_round * s.rounds
    return {
        "devices": devices,
        "per_round": per_round,
        "rounds": s.rounds,
        "setup_s": t1 - t0,
        "simulate_s": t2 - t1,
        "loop_s": s.wall_time_s,
        "simulate_cpu_s": cpu,
        "audit_s": t3 - t2,
        "gc_s": gc_time.total,
        "gc_full": gc_time.full,
        "ms_per_client_round": 1e3 * s.wall_time_s / max(client_rounds, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_metric": s.final_metric,
    }


def run_case_process(devices: int, per_round: int, rounds: int = 20) -> dict[str, Any]:
    """One case in a fresh interpreter (peak RSS is per process); whole-process wall
    includes imports and interpreter exit."""
    import json
    import subprocess
    import sys

    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--case", str(devices), str(per_round), str(rounds)],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["process_s"] = time.perf_counter() - t0
    row["exit_s"] = time.time() - row.pop("done_at")
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| registered | per round | rounds | process wall | loop | audit | ms / client-round "
        "| simulate CPU | GC | exit | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['devices']:,} | {r['per_round']:,} | {r['rounds']} | {r['process_s']:.1f} s "
        f"| {r['loop_s']:.1f} s | {r['audit_s']:.2f} s | {r['ms_per_client_round']:.2f} "
        f"| {r['simulate_cpu_s']:.1f} s | {r['gc_s']:.1f} s | {r['exit_s']:.1f} s "
        f"| {r['peak_rss_mb']:,.0f} MB |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def main(argv: list[str]) -> None:
    """`--case N K R`: one case, JSON on stdout. `--table [N ...]`: the scale table
    (default: every case but 100,000, which takes minutes). Else: the digits ratio."""
    import json

    if argv[:1] == ["--case"]:
        devices, per_round, rounds = (int(a) for a in argv[1:4])
        row = measure_case(devices, per_round, rounds)
        import gc

        gc.freeze()  # as the CLI does once results are written
        row["done_at"] = time.time()  # the parent times the interpreter's exit from here
        print(json.dumps(row), flush=True)
        return
    if argv[:1] == ["--table"]:
        wanted = [int(a) for a in argv[1:]] or [n for n, _ in SCALE_CASES if n < 100_000]
        rows = []
        for n, k in SCALE_CASES:
            if n in wanted:
                rows.append(run_case_process(n, k))
                print(json.dumps(rows[-1]), flush=True)
        print(table(rows))
        return
    for n in [int(a) for a in argv] or [100, 1000]:
        rounds = 5 if n <= 100 else 3
        fs, summ = fedsim_per_client_round(n, rounds)
        npy = numpy_per_client_round(n, rounds)
        print(
            f"{n} devices: fedsim {fs * 1e3:.3f} ms/client-round, numpy {npy * 1e3:.3f} "
            f"ms/client-round, acc {summ['final_metric']:.3f}, sim {summ['sim_time_s']:.2f}s"
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
