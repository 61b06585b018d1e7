"""Checked-in results of three shipped topologies, reproduced across processes.

Each case runs as `python -m fedsim run ...` in a fresh process with its own
PYTHONHASHSEED (the goldens were made with another one), all three in parallel.
Any change in a summary figure or a byte of rounds/links/clients/timeline.csv
fails here. A change that is meant to alter results regenerates them with
`make golden` and commits the new tests/golden/*.json with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_runs import CASES, GOLDEN_HASH_SEED, expected, golden_of, only_run_dir, start

HASH_SEEDS = {name: str(101 + i) for i, name in enumerate(CASES)}


@pytest.fixture(scope="module")
def reruns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case, run once in parallel processes; name -> run folder."""
    root = tmp_path_factory.mktemp("golden")
    procs = {name: start(name, root / name, HASH_SEEDS[name]) for name in CASES}
    logs = {name: proc.communicate(timeout=600)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{logs[name]}"
    return {name: only_run_dir(root / name) for name in CASES}


def test_hash_seeds_differ_from_the_goldens() -> None:
    assert len(set(HASH_SEEDS.values()) | {GOLDEN_HASH_SEED}) == len(CASES) + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_fresh_process_reproduces_the_golden(name: str, reruns: dict[str, Path]) -> None:
    want = expected(name)
    got = golden_of(reruns[name])
    assert got["summary"] == want["summary"], f"{name}: summary.json differs (make golden?)"
    for table, digest in want["sha256"].items():
        assert got["sha256"][table] == digest, f"{name}: {table} differs (make golden?)"
