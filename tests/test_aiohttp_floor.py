"""bench/aiohttp_floor.py measures what it says: every bare exchange carries its body both
ways, and fedsim's side is a real run's event loop (no timing is asserted here)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import aiohttp_floor


def test_bare_exchange_carries_every_body_both_ways() -> None:
    """Every client posts a whole body every round (the first, untimed, included), and
    `post` checks each answer's length: 3 clients x (1 + 2 rounds)."""
    _, served = asyncio.run(aiohttp_floor.bare_rounds(3, 2, bytes(2600)))
    assert served == 9
    assert aiohttp_floor.bare_exchange_s(devices=3, rounds=2, body_bytes=2600) > 0.0


def test_fedsim_side_is_a_whole_run(tmp_path: Path) -> None:
    per_round = aiohttp_floor.fedsim_client_round_s(devices=4, rounds=2, folder=tmp_path)
    assert per_round > 0.0
    assert len(list(tmp_path.rglob("summary.json"))) == 1


def test_table_has_one_row_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert aiohttp_floor.main(["--cases", "3x1,4x1", "--repeats", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| N=")]
    assert [row.split("|")[1].strip() for row in rows] == ["N=3, 1 rounds", "N=4, 1 rounds"]
    cells = [[c.strip() for c in row.strip(" |").split("|")] for row in rows]
    assert all(c[4].endswith("x") and c[5].endswith("%") for c in cells)


def test_free_network_is_undone_and_runs_whole(tmp_path: Path) -> None:
    """The free network model delivers every message (the run completes its rounds, the
    function checks) and the real `send` is back afterwards, even after a failure."""
    from fedsim.net.flow import FlowChannel

    real = FlowChannel.send
    assert aiohttp_floor.fedsim_client_round_s(4, 2, tmp_path, free_net=True) > 0.0
    assert FlowChannel.send is real

    def fail_inside() -> None:
        with aiohttp_floor.free_network():
            assert FlowChannel.send is not real
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fail_inside()
    assert FlowChannel.send is real
