"""The job `make bench-flower` runs on both sides (issue 13, item 6): FedAvg on
scikit-learn's digits, softmax regression, Dirichlet(0.5) partition, 1 epoch, batch
16, lr 0.1, every device every round, fast Ethernet links, all-zero initial model.

fedsim reads it as a topology file (`job_topology`); the Flower side takes the very
same data, partition, test set and initial model from `job_task`, so the two differ
only in the framework around the training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from star import every_device_fedavg, star_network

__all__ = [
    "BATCH_SIZE",
    "CASES",
    "LR",
    "SEED",
    "job_task",
    "job_topology",
    "parse_cases",
    "write_topology",
]

SEED = 1
BATCH_SIZE = 16
LR = 0.1
CASES: tuple[tuple[int, int], ...] = ((1000, 5), (100, 20), (10, 20))
"""(devices, rounds): the issue's cases."""


def parse_cases(text: str) -> list[tuple[int, int]]:
    """`1000x5,100x20` as [(1000, 5), (100, 20)] (the benches' `--cases`)."""
    return [(int(a), int(b)) for a, b in (c.split("x") for c in text.split(","))]


def job_topology(devices: int, rounds: int) -> dict[str, Any]:
    """The fedsim topology of one case: no outages, no stragglers, nothing but FedAvg."""
    return {
        "name": f"flower-job-{devices}x{rounds}",
        "seed": SEED,
        "description": "the Flower comparison job (bench/flower_job.py)",
        "task": {"kind": "digits", "partition": "dirichlet", "alpha": 0.5,
                 "model": "softmax", "init": "zeros"},
        "fl": every_device_fedavg(devices, rounds, batch_size=BATCH_SIZE, lr=LR),
        **star_network(devices),
    }  # fmt: skip


def write_topology(devices: int, rounds: int, folder: Path) -> Path:
    """The case as the YAML file a user would run with `fedsim run FILE`."""
    path = folder / f"flower_job_{devices}x{rounds}.yaml"
    path.write_text(yaml.safe_dump(job_topology(devices, rounds), sort_keys=False))
    return path


def job_task(devices: int) -> Any:
    """The fedsim task of the case, built exactly as `fedsim run` builds it (same seed,
    same streams): the same shards, test set and initial model."""
    from fedsim.rng import Streams
    from fedsim.scenario import parse_scenario
    from fedsim.tasks.registry import build_task

    sc = parse_scenario(job_topology(devices, 1))
    return build_task(sc.task, devices, Streams(sc.seed))
