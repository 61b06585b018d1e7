"""`make bench`: every benchmark, each reporting ratios against a baseline measured
in the same run (absolute times depend on the machine; ratios much less).

    python bench/run_all.py [--quick]
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
sys.path.insert(0, str(HERE))


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def default_topology() -> None:
    from fedsim.run import run_scenario

    section("default topology (topologies/default.yaml)")
    run_scenario(
        ROOT / "topologies/default.yaml",
        overrides=["fl.rounds=2"],
        out_root=Path(tempfile.mkdtemp()),
    )  # fmt: skip  (warm-up: JIT caches)
    out = run_scenario(ROOT / "topologies/default.yaml", out_root=Path(tempfile.mkdtemp()))
    s = json.loads((out / "summary.json").read_text())
    print(f"rounds {s['rounds']}, simulated {s['sim_time_s']:.0f} s, wall {s['wall_time_s']:.2f} s")
    print(f"wall per round: {1e3 * s['wall_time_s'] / s['rounds']:.1f} ms")
    print(f"simulated-to-wall ratio: {s['sim_time_s'] / s['wall_time_s']:.0f}x")


def idle_time() -> None:
    """Simulated waiting costs (almost) no wall time. Claimed here as ratios, not in
    tests: a test that asserts wall-clock time fails on a loaded machine."""
    import asyncio

    from fedsim.clock import VirtualTimeLoop
    from fedsim.run import run_scenario

    section("idle time: an hour of asyncio.sleep, an hour-long gateway outage")
    loop = VirtualTimeLoop()
    t = time.perf_counter()
    loop.run_until_complete(asyncio.sleep(3600))
    wall = time.perf_counter() - t
    loop.close()
    print(f"asyncio.sleep(3600): {wall * 1e3:.3f} ms wall, simulated-to-wall {3600 / wall:.0f}x")
    outage = ["fl.rounds=3", "fl.target=null", "failures.0.at=1s", "failures.0.duration=1h"]
    out = run_scenario(ROOT / "topologies/default.yaml", overrides=outage,
                       out_root=Path(tempfile.mkdtemp()))  # fmt: skip
    s = json.loads((out / "summary.json").read_text())
    sim, wall = s["sim_time_s"], s["wall_time_s"]
    print(f"default, 3 rounds, gateway down 1 h: simulated {sim:.0f} s, wall {wall:.2f} s, "
          f"ratio {sim / wall:.0f}x")  # fmt: skip


def scale(quick: bool) -> None:
    from scale import fedsim_per_client_round, numpy_per_client_round

    section("FedAvg scale: all devices every round, digits, 1 epoch, batch 16, fast links")
    fedsim_per_client_round(20, 1)  # warm-up
    for n in (100,) if quick else (100, 1000):
        rounds = 5 if n <= 100 else 3
        t_fs, _ = fedsim_per_client_round(n, rounds)
        t_np = numpy_per_client_round(n, rounds)
        print(f"{n:5d} devices: fedsim {t_fs * 1e3:.3f} ms per client-round "
              f"(real aiohttp + emulated TCP), plain NumPy loop {t_np * 1e3:.3f} ms "
              f"(no network); fedsim/numpy = {t_fs / t_np:.1f}")  # fmt: skip
    flower = HERE / "results" / "flower.md"
    if flower.exists():  # measured, never quoted: written by `make bench-flower`
        print(f"fedsim vs Flower, last `make bench-flower` ({flower.relative_to(ROOT)}):")
        print(flower.read_text().rstrip())
    else:
        print("fedsim vs Flower: run `make bench-flower` (measures both, side by side)")


def run_phases(quick: bool) -> None:
    """Where a `fedsim run`'s wall time goes, as a user types it (fresh process)."""
    from run_phases import measure_phases, phase_table, scale_topology

    cases = [("default topology", [str(ROOT / "topologies/default.yaml")])]
    if not quick:
        cases.append(("1000 devices, 5 rounds (digits)", [str(scale_topology(1000, 5))]))
    for title, args in cases:
        section(f"fedsim run phases: {title}, --quiet")
        print(phase_table(measure_phases([*args, "--quiet", "--out", tempfile.mkdtemp()])))


def script(name: str, *args: str) -> None:
    section(name)
    t = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / name), *args], check=False, cwd=ROOT)
    print(f"({time.perf_counter() - t:.0f} s)")


def main() -> int:
    quick = "--quick" in sys.argv
    default_topology()
    run_phases(quick)
    idle_time()
    scale(quick)
    for name in (
        "aiohttp_floor.py",
        "loop_split.py",
        "bench_net.py",
        "bench_kernels.py",
        "bench_cnn.py",
        "bench_rl.py",
    ):
        if (HERE / name).exists():
            quick_too = name in ("aiohttp_floor.py", "bench_kernels.py", "bench_cnn.py")
            args = ["--quick"] if quick and quick_too else []
            if name == "loop_split.py" and quick:
                args = ["100", "5"]
            script(name, *args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
