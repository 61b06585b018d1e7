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

Both sides use the whole machine while they run (Ray takes every CPU it is given), so a
timed run starts only once the machine is quiet: no CPU busy beyond `--quiet-cores`
over half a second (another process's work would slow either side). The wait is not
timed; a machine that never gets quiet is said in the table. Each run's CPU time (user +
system of the process and every child it waited for) is recorded beside its wall.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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

from flower_job import CASES, parse_cases, write_topology  # noqa: E402


@dataclass
class Samples:
    """One side's runs of one case."""

    process_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    loop_s: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))


def _fedsim_command(topology: Path, out: Path) -> list[str]:
    script = Path(sys.executable).with_name("fedsim")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "fedsim"]
    return [*head, "run", str(topology), "--quiet", "--out", str(out)]


def _busy_cores(seconds: float) -> float:
    """CPUs busy over the next `seconds`, from /proc/stat (Linux); 0.0 elsewhere."""

    def ticks() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    try:
        total0, idle0 = ticks()
        time.sleep(seconds)
        total1, idle1 = ticks()
    except OSError:
        return 0.0
    total = max(total1 - total0, 1)
    return (os.cpu_count() or 1) * (total - (idle1 - idle0)) / total


@dataclass
class Quiet:
    """Waits for a quiet machine before each timed run and remembers the worst wait."""

    cores: float
    patience_s: float = 60.0
    noisy_starts: int = 0
    busy_seen: list[float] = field(default_factory=list)

    def wait(self) -> None:
        deadline = time.monotonic() + self.patience_s
        busy = _busy_cores(0.5)
        while busy > self.cores and time.monotonic() < deadline:
            busy = _busy_cores(0.5)
        self.busy_seen.append(busy)
        if busy > self.cores:
            self.noisy_starts += 1
            print(f"  (machine still busy: {busy:.2f} CPUs; timing anyway)", flush=True)


def _timed(cmd: list[str], quiet: Quiet) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall, CPU of the process tree, the finished process)."""
    quiet.wait()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, cpu, proc


def run_fedsim(topology: Path, into: Samples, quiet: Quiet) -> None:
    with tempfile.TemporaryDirectory(prefix="fedsim-bench-") as out:
        wall, cpu, _ = _timed(_fedsim_command(topology, Path(out)), quiet)
        (summary,) = Path(out).glob("*/summary.json")
        s = json.loads(summary.read_text())
    into.process_s.append(wall)
    into.cpu_s.append(cpu)
    into.loop_s.append(float(s["wall_time_s"]))
    into.accuracy.append(float(s["final_metric"]))


def run_flower(devices: int, rounds: int, ray_cpus: int, into: Samples, quiet: Quiet) -> None:
    cmd = [sys.executable, str(HERE / "flower_sim.py"), str(devices), str(rounds),
           "--ray-cpus", str(ray_cpus)]  # fmt: skip
    wall, cpu, proc = _timed(cmd, quiet)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    into.process_s.append(wall)
    into.cpu_s.append(cpu)
    into.loop_s.append(float(out["in_sim_s"]))
    into.accuracy.append(float(out["accuracy"]))


def host_speed(repeats: int = 5) -> float:
    """Seconds for a fixed 10-million-step pure-Python loop, best of `repeats`.

    fedsim's run is one thread of Python, Flower's mostly Ray's start-up across processes,
    so the ratio between them moves with the host's single-thread speed: the table says
    how fast this host ran Python when it was measured, for comparing tables across hosts.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def one(package: str) -> str:
        try:
            return f"{package} {version(package)}"
        except PackageNotFoundError:
            return f"{package} not installed"

    return ", ".join(one(p) for p in ("fedsim", "flwr", "ray"))


def table(
    results: list[tuple[int, int, Samples, Samples]],
    repeats: int,
    ray_cpus: int,
    quiet: Quiet,
    python_loop_s: float,
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    calm = (
        f"every timed run started on a quiet machine (at most {quiet.cores:.2f} CPUs busy "
        f"before it; worst {max(quiet.busy_seen, default=0.0):.2f})"
        if not quiet.noisy_starts
        else f"**{quiet.noisy_starts} timed runs started on a busy machine** (up to "
        f"{max(quiet.busy_seen):.2f} CPUs busy before them): treat the walls as upper bounds"
    )
    lines = [
        f"Measured {when} by `make bench-flower` ({_versions()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs ({_cpu_model()}; a "
        f"10,000,000-step Python loop took {python_loop_s:.2f} s), load average "
        f"{os.getloadavg()[1]:.1f} over the last 5 min, Ray num_cpus={ray_cpus}); "
        f"medians of {repeats} interleaved runs per case, each a fresh process; {calm}. "
        "Both sides start from the all-zero model on the same shards and test set. CPU is "
        "user + system time of the process and of every child process it waited for.",
        "",
        "| case | fedsim process wall | Flower process wall | Flower / fedsim "
        "| fedsim CPU | Flower CPU | fedsim in-loop | Flower in-loop | fedsim accuracy "
        "| Flower accuracy | Flower outside its loop |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r, fs, fl in results:
        ratio = fl.median("process_s") / fs.median("process_s")
        lines.append(
            f"| N={n}, {r} rounds | {fs.median('process_s'):.2f} s | "
            f"{fl.median('process_s'):.1f} s | {ratio:.1f}x | {fs.median('cpu_s'):.2f} s | "
            f"{fl.median('cpu_s'):.1f} s | {fs.median('loop_s'):.2f} s | "
            f"{fl.median('loop_s'):.1f} s | {fs.median('accuracy'):.3f} | "
            f"{fl.median('accuracy'):.3f} | "
            f"{fl.median('process_s') - fl.median('loop_s'):.1f} s |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=parse_cases, default=list(CASES), help="e.g. 1000x5,100x20")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ray-cpus", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "flower.md")
    ap.add_argument("--quiet-cores", type=float, default=0.15,
                    help="start a timed run only when at most this many CPUs are busy")  # fmt: skip
    a = ap.parse_args()
    quiet = Quiet(a.quiet_cores)
    quiet.wait()
    python_loop_s = host_speed()
    results: list[tuple[int, int, Samples, Samples]] = []
    with tempfile.TemporaryDirectory(prefix="flower-job-") as folder:
        # Untimed: byte-compile fedsim as `pip install` does for an installed package
        # (a development install under PYTHONDONTWRITEBYTECODE recompiles ~120 modules
        # per run, which Flower's installed packages never do), then fill Numba's cache.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fedsim")],
                       check=False, capture_output=True)  # fmt: skip
        warm = write_topology(10, 1, Path(folder))
        run_fedsim(
            warm, Samples(), Quiet(cores=float(os.cpu_count() or 1))
        )  # fills Numba's cache; not timed
        for n, r in a.cases:
            topology = write_topology(n, r, Path(folder))
            fs, fl = Samples(), Samples()
            for i in range(a.repeats):
                run_fedsim(topology, fs, quiet)
                run_flower(n, r, a.ray_cpus, fl, quiet)
                print(f"N={n} R={r} run {i + 1}: fedsim {fs.process_s[-1]:.1f} s "
                      f"(loop {fs.loop_s[-1]:.1f} s, acc {fs.accuracy[-1]:.3f}), Flower "
                      f"{fl.process_s[-1]:.1f} s (loop {fl.loop_s[-1]:.1f} s, "
                      f"acc {fl.accuracy[-1]:.3f})", flush=True)  # fmt: skip
            results.append((n, r, fs, fl))
    text = table(results, a.repeats, a.ray_cpus, quiet, python_loop_s)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    print(
        f"\n{text}\nwritten to {a.out.relative_to(ROOT) if a.out.is_relative_to(ROOT) else a.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
