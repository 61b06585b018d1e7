"""`make bench-flower`: fedsim and Flower's Ray simulation on the same job
(flower_job.py), side by side on this machine, interleaved, each run a fresh process.

    python bench/flower_compare.py [--cases 1000x5,100x20,10x20] [--repeats 3]
                                   [--ray-cpus 2] [--out bench/results/flower.md]

Needs fedsim and `flwr[simulation]` in the running interpreter's environment
(`make bench-flower` makes .venv-flower for that). fedsim runs as a user types it,
`fedsim run FILE --quiet`; Flower runs flower_sim.py. Whole-process wall is timed
here around each subprocess; in-loop time is fedsim's summary.json `wall_time_s` (the
event loop) and Flower's first configure_fit to last evaluation. Untimed first: fedsim
is byte-compiled (as an installed package is) and one fedsim run fills Numba's cache, as
any second run of a user's would find it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from flower_job import CASES, write_topology  # noqa: E402


@dataclass
class Samples:
    """One side's runs of one case."""

    process_s: list[float] = field(default_factory=list)
    loop_s: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))


def _fedsim_command(topology: Path, out: Path) -> list[str]:
    script = Path(sys.executable).with_name("fedsim")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "fedsim"]
    return [*head, "run", str(topology), "--quiet", "--out", str(out)]


def _timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, proc


def run_fedsim(topology: Path, into: Samples) -> None:
    with tempfile.TemporaryDirectory(prefix="fedsim-bench-") as out:
        wall, _ = _timed(_fedsim_command(topology, Path(out)))
        (summary,) = Path(out).glob("*/summary.json")
        s = json.loads(summary.read_text())
    into.process_s.append(wall)
    into.loop_s.append(float(s["wall_time_s"]))
    into.accuracy.append(float(s["final_metric"]))


def run_flower(devices: int, rounds: int, ray_cpus: int, into: Samples) -> None:
    cmd = [sys.executable, str(HERE / "flower_sim.py"), str(devices), str(rounds),
           "--ray-cpus", str(ray_cpus)]  # fmt: skip
    wall, proc = _timed(cmd)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    into.process_s.append(wall)
    into.loop_s.append(float(out["in_sim_s"]))
    into.accuracy.append(float(out["accuracy"]))


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in ("fedsim", "flwr", "ray"))


def table(results: list[tuple[int, int, Samples, Samples]], repeats: int, ray_cpus: int) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} by `make bench-flower` ({_versions()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[1]:.1f} over the last 5 min, Ray num_cpus={ray_cpus}); "
        f"medians of {repeats} interleaved runs per case, each a fresh process. Both sides "
        "start from the all-zero model on the same shards and test set.",
        "",
        "| case | fedsim process wall | Flower process wall | Flower / fedsim "
        "| fedsim in-loop | Flower in-loop | fedsim accuracy | Flower accuracy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r, fs, fl in results:
        ratio = fl.median("process_s") / fs.median("process_s")
        lines.append(
            f"| N={n}, {r} rounds | {fs.median('process_s'):.1f} s | "
            f"{fl.median('process_s'):.1f} s | {ratio:.1f}x | {fs.median('loop_s'):.1f} s | "
            f"{fl.median('loop_s'):.1f} s | {fs.median('accuracy'):.3f} | "
            f"{fl.median('accuracy'):.3f} |"
        )
    return "\n".join(lines) + "\n"


def _cases(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (c.split("x") for c in text.split(","))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=_cases, default=list(CASES), help="e.g. 1000x5,100x20")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "flower.md")
    a = ap.parse_args()
    results: list[tuple[int, int, Samples, Samples]] = []
    with tempfile.TemporaryDirectory(prefix="flower-job-") as folder:
        # Untimed: byte-compile fedsim as `pip install` does for an installed package
        # (a development install under PYTHONDONTWRITEBYTECODE recompiles ~120 modules
        # per run, which Flower's installed packages never do), then fill Numba's cache.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fedsim")],
                       check=False, capture_output=True)  # fmt: skip
        warm = write_topology(10, 1, Path(folder))
        run_fedsim(warm, Samples())  # fills Numba's cache; not timed
        for n, r in a.cases:
            topology = write_topology(n, r, Path(folder))
            fs, fl = Samples(), Samples()
            for i in range(a.repeats):
                run_fedsim(topology, fs)
                run_flower(n, r, a.ray_cpus, fl)
                print(f"N={n} R={r} run {i + 1}: fedsim {fs.process_s[-1]:.1f} s "
                      f"(loop {fs.loop_s[-1]:.1f} s, acc {fs.accuracy[-1]:.3f}), Flower "
                      f"{fl.process_s[-1]:.1f} s (loop {fl.loop_s[-1]:.1f} s, "
                      f"acc {fl.accuracy[-1]:.3f})", flush=True)  # fmt: skip
            results.append((n, r, fs, fl))
    text = table(results, a.repeats, a.ray_cpus)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    print(
        f"\n{text}\nwritten to {a.out.relative_to(ROOT) if a.out.is_relative_to(ROOT) else a.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
