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
from golden_runs import (
    CASES,
    GOLDEN_HASH_SEED,
    environment_of_results,
    expected,
    golden_of,
    only_run_dir,
    start,
)

HASH_SEEDS = {name: str(101 + i) for i, name in enumerate(CASES)}
SECOND_SEEDS = {name: str(201 + i) for i, name in enumerate(CASES)}


def _run_every_case(root: Path, seeds: dict[str, str]) -> dict[str, Path]:
    """Every case, run once in parallel processes with `seeds`; name -> run folder."""
    procs = {name: start(name, root / name, seeds[name]) for name in CASES}
    logs = {name: proc.communicate(timeout=600)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{logs[name]}"
    return {name: only_run_dir(root / name) for name in CASES}


@pytest.fixture(scope="module")
def reruns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _run_every_case(tmp_path_factory.mktemp("golden"), HASH_SEEDS)


@pytest.fixture(scope="module")
def second_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case once more, in other processes with other hash seeds."""
    return _run_every_case(tmp_path_factory.mktemp("golden-again"), SECOND_SEEDS)


def test_hash_seeds_differ_from_the_goldens() -> None:
    seeds = set(HASH_SEEDS.values()) | set(SECOND_SEEDS.values()) | {GOLDEN_HASH_SEED}
    assert len(seeds) == 2 * len(CASES) + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_fresh_processes_agree_in_any_environment(
    name: str, reruns: dict[str, Path], second_runs: dict[str, Path]
) -> None:
    """Same file and seed, same results, whatever the hash seed and interpreter."""
    assert golden_of(reruns[name]) == golden_of(second_runs[name]), f"{name}: runs differ"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_fresh_process_reproduces_the_golden(name: str, reruns: dict[str, Path]) -> None:
    want = expected(name)
    made, here = want["environment"], environment_of_results()
    if made.get("python") != here["python"]:
        pytest.skip(
            f"{name}: the goldens were made on {made.get('python', 'an unrecorded Python')}, "
            f"this is {here['python']}: results differ across interpreters "
            "(docs/results.md), so here the runs are only compared with each other "
            "(test_fresh_processes_agree_in_any_environment); `make golden` makes goldens "
            "for this interpreter"
        )
    moved = ", ".join(f"{k} {made.get(k, '?')} -> {v}" for k, v in here.items() if made.get(k) != v)
    hint = f" (packages moved since the goldens: {moved})" if moved else " (make golden?)"
    got = golden_of(reruns[name])
    assert got["summary"] == want["summary"], f"{name}: summary.json differs{hint}"
    for table, digest in want["sha256"].items():
        assert got["sha256"][table] == digest, f"{name}: {table} differs{hint}"
