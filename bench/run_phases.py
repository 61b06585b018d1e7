"""Where the wall time of one `fedsim run` goes, phase by phase, as ratios.

Runs `fedsim run` in a fresh interpreter (so imports count, as they do for a user) with
a timer around each phase: imports (the CLI's, then the run path's), reading and
checking the topology, the simulation (its set-up and collection apart from the event
loop itself, timed around `asyncio.Runner.run`), writing the results, the audit,
reading them back (and building report.html's page), the plots (drawn here, or waited
for from the plot helper process) and report.html; the process wall around it all.
Each phase has its wall and this process's CPU time (on a shared machine wall also
counts other people's work; the plot helper's CPU is not in this process's column).
Absolute times depend on the machine; the ratios are against the simulation measured
in the same process (e.g. plots / simulation).

    python bench/run_phases.py [TOPOLOGY] [--devices N --rounds R] [fedsim run flags...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

__all__ = ["measure_phases", "phase_table"]

_DRIVER = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import fedsim.cli
phases = {"imports: CLI": time.perf_counter() - t0}
cpu = {"imports: CLI": time.process_time() - c0}
t, c = time.perf_counter(), time.process_time()
try:  # as `fedsim run` imports aiohttp in its own process (no CA bundle: no TLS in a run)
    from fedsim.aiohttp_import import import_aiohttp_without_ca_bundle
    import_aiohttp_without_ca_bundle()
except ImportError:  # a tree before it
    pass
import fedsim.run as run_module, fedsim.scenario as scenario_module
phases["imports: run path"] = time.perf_counter() - t
cpu["imports: run path"] = time.process_time() - c
folders = []

def timed(owner, attr, phase, keep=None):
    inner = getattr(owner, attr)
    def wrapper(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            out = inner(*a, **k)
            if keep is not None:
                keep.append(out)
            return out
        finally:
            phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t
            cpu[phase] = cpu.get(phase, 0.0) + time.process_time() - c
    setattr(owner, attr, wrapper)

import asyncio
import fedsim.record.runs as runs_module
timed(scenario_module, "prepare_scenario", "topology file")
timed(run_module, "simulate", "simulation (incl. task setup)")
timed(asyncio.Runner, "run", "  of which event loop")
timed(run_module, "write_run", "results files")
timed(run_module, "_write_audit", "audit")
timed(runs_module, "load_run", "read back (+ report page)")
if hasattr(run_module, "_start_report"):  # the page is built while plot helpers draw
    timed(run_module, "_start_report", "read back (+ report page)")
timed(run_module, "_write_plots", "plots (drawn or awaited)")
timed(run_module, "_write_report", "report.html")
timed(run_module, "run_scenario", "run_scenario", folders)
def report(code):
    phases["total (from first import)"] = time.perf_counter() - t0
    cpu["total (from first import)"] = time.process_time() - c0
    phases.pop("run_scenario", None)
    sim, loop = "simulation (incl. task setup)", "  of which event loop"
    if loop in phases:
        phases["  of which set-up + collection"] = phases[sim] - phases[loop]
        cpu["  of which set-up + collection"] = cpu[sim] - cpu[loop]
        phases[loop] = phases.pop(loop)  # after the simulation in the table
        cpu[loop] = cpu.pop(loop)
    heavy = ("matplotlib", "sklearn", "sklearn.datasets", "scipy", "numba", "aiohttp",
             "rich", "pydantic")
    print("PHASES " + json.dumps({"phases": phases, "cpu": cpu, "code": code,
          "cpu_s": time.process_time(), "modules": [m for m in heavy if m in sys.modules]}),
          flush=True)

# As the console script (no argv: sys.argv[1:] is the run's command line), so the process
# ends as a user's does; the table is printed just before.
import fedsim.cli.app as app_module
exit_now = app_module._exit_now
def report_then_exit(code):
    report(code)
    exit_now(code)
app_module._exit_now = report_then_exit
report(fedsim.cli.main())
"""


def measure_phases(args: list[str]) -> dict:
    """Phase times of `fedsim run ARGS` in a fresh interpreter."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, "run", *args],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PHASES ")]
    if not lines:
        raise RuntimeError(f"fedsim run {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1][len("PHASES ") :])
    result["phases"]["process wall (start to exit)"] = wall
    return result


def phase_table(result: dict) -> str:
    """Seconds per phase (wall, and this process's CPU: the plot helper's is not in it)
    and each phase as a ratio of the simulation."""
    phases, cpu = result["phases"], result.get("cpu", {})
    sim = phases.get("simulation (incl. task setup)", 0.0) or 1e-9
    rows = [f"{'phase':32s} {'wall s':>8s} {'cpu s':>7s} {'/ simulation':>13s}"]
    for name, secs in phases.items():
        used = f"{cpu[name]:7.2f}" if name in cpu else " " * 7
        rows.append(f"{name:32s} {secs:8.2f} {used} {secs / sim:13.2f}")
    drawn = sum(v for k, v in phases.items() if k.startswith(("plots", "report", "read back")))
    rows.append(f"plots + report / simulation: {drawn / sim:.2f}; "
                f"everything but the simulation / simulation: "
                f"{(phases['total (from first import)'] - sim) / sim:.2f}")  # fmt: skip
    loop = phases.get("  of which event loop")
    if loop is not None:
        rows.append(f"process wall - event loop: "
                    f"{phases['process wall (start to exit)'] - loop:.2f} s; "
                    f"process CPU {result['cpu_s']:.2f} s")  # fmt: skip
    rows.append(f"heavy modules imported: {', '.join(result['modules']) or 'none'}")
    return "\n".join(rows)


def scale_topology(devices: int, rounds: int) -> Path:
    """The scale benchmark's FedAvg topology (digits, fast links) as a file."""
    import yaml
    from scale import fast_topology

    path = Path(tempfile.mkdtemp()) / f"scale-{devices}.yaml"
    path.write_text(yaml.safe_dump(fast_topology(devices, rounds), sort_keys=False))
    return path


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    args = list(argv)
    if "--devices" in args:
        i = args.index("--devices")
        devices = int(args.pop(i + 1))
        args.pop(i)
        rounds = 5
        if "--rounds" in args:
            j = args.index("--rounds")
            rounds = int(args.pop(j + 1))
            args.pop(j)
        args.insert(0, str(scale_topology(devices, rounds)))
    elif not args or args[0].startswith("-"):
        args.insert(0, str(ROOT / "topologies/default.yaml"))
    if "--out" not in args:
        args += ["--out", tempfile.mkdtemp()]
    print(f"fedsim run {' '.join(a for a in args)}")
    print(phase_table(measure_phases(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
