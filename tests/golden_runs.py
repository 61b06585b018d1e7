"""Golden runs: three shipped topologies whose results are checked in (tests/golden/).

A golden is a run's summary.json without its two host-dependent fields (`wall_time_s`,
the wall clock; `code`, the source fingerprint) plus a SHA-256 of each results table.
`tests/test_golden.py` reruns the cases in fresh processes, each with its own
PYTHONHASHSEED, and requires the same golden. A golden also records the environment
that made it (the interpreter's minor version and the versions of the packages that
shape results, `fedsim.record.fingerprint.RESULT_PACKAGES`): the same file and seed
move other bytes on Python 3.13 than on 3.11, so another environment is compared with
itself across processes, not with these files. When a change is meant to alter the
numbers, regenerate them explicitly and commit the diff with that change:

    make golden        # or: python tests/golden_runs.py
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
TABLES = ("rounds.csv", "links.csv", "clients.csv", "timeline.csv")
HOST_FIELDS = ("wall_time_s", "code")
"""summary.json fields that depend on the host or the checkout, not on the simulation."""

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    # Wi-Fi cell + broadband; the router's trace reboot at 20 min falls in round ~20.
    "wifi_home": ("topologies/wifi_home.yaml", ("fl.rounds=25",)),
    # NB-IoT: PSM sleep, seconds of latency, coverage extension.
    "nbiot_city": ("topologies/nbiot_city.yaml", ("fl.rounds=12",)),
    # The asynchronous engine (FedBuff) on mostly slow devices.
    "stragglers_async": ("topologies/stragglers.yaml", ("fl.engine=async", "fl.rounds=60")),
}
"""name -> (topology file, --set overrides): fast, and different in link kind and engine."""

GOLDEN_HASH_SEED = "0"
"""`make golden` runs with this PYTHONHASHSEED; the test uses others."""


def command(name: str, out: Path) -> list[str]:
    topology, overrides = CASES[name]
    sets = [arg for o in overrides for arg in ("--set", o)]
    return [sys.executable, "-m", "fedsim", "run", str(ROOT / topology), *sets,
            "--no-plots", "--quiet", "--out", str(out)]  # fmt: skip


def environment(hash_seed: str) -> dict[str, str]:
    """This checkout's sources first, one thread, and the given hash seed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONHASHSEED"] = hash_seed
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "1"
    return env


def start(name: str, out: Path, hash_seed: str) -> subprocess.Popen[str]:
    """Start one case in its own process (several may run in parallel)."""
    return subprocess.Popen(
        command(name, out), env=environment(hash_seed), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def environment_of_results() -> dict[str, str]:
    """What besides the code shapes a run's numbers here: the interpreter (minor
    version) and the result packages' versions."""
    from importlib import metadata

    from fedsim.record.fingerprint import RESULT_PACKAGES

    major, minor, _ = platform.python_version_tuple()
    env = {"python": f"{platform.python_implementation()} {major}.{minor}"}
    for name in RESULT_PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = "absent"
    return env


def golden_of(run_dir: Path) -> dict[str, Any]:
    """What a golden holds for one finished run folder."""
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in HOST_FIELDS:
        summary.pop(key)
    tables = {t: hashlib.sha256((run_dir / t).read_bytes()).hexdigest() for t in TABLES}
    return {"summary": summary, "sha256": tables}


def only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def expected(name: str) -> dict[str, Any]:
    """The checked-in golden of a case (with the command that made it)."""
    data = json.loads(golden_path(name).read_text())
    topology, overrides = CASES[name]
    stale = f"{golden_path(name).name} was made for another case: run `make golden`"
    assert data["topology"] == topology, stale
    assert data["set"] == list(overrides), stale
    return {
        "summary": data["summary"],
        "sha256": data["sha256"],
        "environment": data.get("environment", {}),
    }


def main() -> int:
    """Regenerate every golden (the only way they change)."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / name for name in CASES}
        procs = {name: start(name, outs[name], GOLDEN_HASH_SEED) for name in CASES}
        failed = False
        for name, proc in procs.items():
            log, _ = proc.communicate()
            if proc.returncode != 0:
                print(f"{name}: exit {proc.returncode}\n{log}", file=sys.stderr)
                failed = True
                continue
            topology, overrides = CASES[name]
            data = {
                "topology": topology,
                "set": list(overrides),
                "environment": environment_of_results(),
                **golden_of(only_run_dir(outs[name])),
            }
            golden_path(name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
            print(f"wrote {golden_path(name).relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
