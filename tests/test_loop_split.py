"""bench/loop_split.py times a real run without changing it, and puts the loop's time in
the buckets it names (no timing is asserted here: only that each side was seen)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import loop_split

from fedsim.clock import SimSelector, VirtualTimeLoop
from fedsim.net.transport import EmulatedTransport


def test_the_timed_run_has_the_untimed_runs_results(tmp_path: Path) -> None:
    """asyncio's own loop turn with every handle timed runs the same handles in the same
    order as the clock's inline turn: the two runs' tables are the same bytes."""
    spent = loop_split.measure_split(6, 3, folder=tmp_path)
    warm, measured = (next((tmp_path / k).rglob("rounds.csv")).parent for k in ("warm", "measured"))
    for name in ("rounds.csv", "clients.csv", "links.csv", "timeline.csv"):
        assert (warm / name).read_bytes() == (measured / name).read_bytes(), name
    for side in ("devices", "server", "network", "loop"):
        assert spent[side] > 0.0, side
    assert spent["other"] < 0.1 * spent["total"]  # every callback of a run has a side
    assert spent["total"] <= spent["wall"]


def test_patches_are_undone_even_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (
        VirtualTimeLoop._run_once,
        SimSelector.select,
        EmulatedTransport._data_received,
        asyncio.Handle._run,
    )
    undo = loop_split._instrumented(loop_split._Split())
    assert VirtualTimeLoop._run_once is not before[0]
    undo()
    assert VirtualTimeLoop._run_once is before[0]
    runs: list[Path] = []

    def failing_second_run(topology: Path, out: Path) -> None:
        runs.append(out)
        if len(runs) == 2:
            assert VirtualTimeLoop._run_once is not before[0]  # measured: patched
            raise RuntimeError("fedsim run exited 1")

    monkeypatch.setattr(loop_split, "_run", failing_second_run)
    with pytest.raises(RuntimeError, match="exited"):
        loop_split.measure_split(3, 1, folder=tmp_path)
    assert (
        VirtualTimeLoop._run_once,
        SimSelector.select,
        EmulatedTransport._data_received,
        asyncio.Handle._run,
    ) == before


@pytest.mark.parametrize(
    ("module", "side"),
    [
        ("fedsim.fl.client", "devices"),
        ("aiohttp.client_reqrep", "devices"),
        ("aiohttp.web_protocol", "server"),
        ("fedsim.fl.server", "server"),
        ("fedsim.run", "server"),
        ("fedsim.net.flow", "network"),
        ("simpy.core", "network"),
        ("asyncio.futures", "loop"),
        ("json.decoder", "other"),
    ],
)
def test_side_of(module: str, side: str) -> None:
    assert loop_split.side_of(module) == side
