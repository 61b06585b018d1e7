"""No wall clock inside a simulation: results do not move when the host's clock does.

A slow host (a first Numba compile on a loaded machine, a swapped-out process)
looks, from inside the process, like the wall clock jumping forward. The run
must not notice: every file of the run folder stays byte-identical, apart from
summary.json's `wall_time_s` (the one documented wall-clock field). Plots are off:
they are drawn after the simulation from these files (tests/test_plots.py checks that
they are deterministic; matplotlib is told not to write a date into SVG metadata).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fedsim.fl.client import FLClient
from fedsim.run import run_scenario

ROOT = Path(__file__).resolve().parents[1]
JUMP_S = 120.0
"""Each training call moves the wall clock this far forward: minutes over a run."""

WALL_CLOCKS = ("monotonic", "time", "perf_counter", "monotonic_ns", "time_ns", "perf_counter_ns")
PATCHED_PACKAGES = ("aiohttp", "fedsim", "simpy", "asyncio", "yarl", "multidict")
"""Modules that copied a clock function at import (`from time import monotonic`)."""


class JumpingClock:
    """The process's wall clocks, offset by a growing amount."""

    def __init__(self) -> None:
        self.offset_s = 0.0
        self.jumps = 0

    def jump(self) -> None:
        self.offset_s += JUMP_S
        self.jumps += 1

    def wrap(self, real: Callable[[], float | int], name: str) -> Callable[[], float | int]:
        if name.endswith("_ns"):
            return lambda: real() + int(self.offset_s * 1e9)
        return lambda: real() + self.offset_s


def install(monkeypatch: pytest.MonkeyPatch) -> JumpingClock:
    """Patch `time`'s clocks and every imported copy of them in the simulation's modules."""
    clock = JumpingClock()
    for name in WALL_CLOCKS:
        real = getattr(time, name)
        fake = clock.wrap(real, name)
        monkeypatch.setattr(time, name, fake)
        for mod_name, module in list(sys.modules.items()):
            if module is None or not mod_name.startswith(PATCHED_PACKAGES):
                continue
            for attr, value in list(vars(module).items()):
                if value is real:
                    monkeypatch.setattr(module, attr, fake)
    original = FLClient._train_and_upload

    async def train_after_a_stall(self: FLClient, *args: object) -> None:
        clock.jump()
        await original(self, *args)

    monkeypatch.setattr(FLClient, "_train_and_upload", train_after_a_stall)
    return clock


def assert_identical_runs(a: Path, b: Path) -> None:
    """Every file byte for byte, except the documented wall-clock field."""
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert {"rounds.csv", "links.csv", "clients.csv", "timeline.csv"} <= {n.name for n in names}
    for name in names:
        if name.name == "summary.json":
            sa = json.loads((a / name).read_text())
            sb = json.loads((b / name).read_text())
            sa.pop("wall_time_s")
            sb.pop("wall_time_s")
            assert sa == sb
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_aiohttp_still_reads_the_clock_we_patch() -> None:
    """The test below patches what aiohttp's connector imported; fail if that name moves."""
    import aiohttp.connector

    assert aiohttp.connector.monotonic is time.monotonic


def test_a_jumping_wall_clock_changes_no_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wifi_home seed 11 is where a 16 s stall changed round-1 wire bytes.
    topo = ROOT / "topologies/wifi_home.yaml"
    short = ["fl.rounds=6", "fl.target=null"]
    calm = run_scenario(topo, overrides=short, out_root=tmp_path / "a", run_name="run")
    clock = install(monkeypatch)
    jumpy = run_scenario(topo, overrides=short, out_root=tmp_path / "b", run_name="run")
    assert clock.jumps >= 6  # minutes of wall clock passed during the run
    assert clock.offset_s >= 6 * JUMP_S
    assert_identical_runs(calm, jumpy)
