"""bench/flower_compare.py's table: every row as wide as its header, the host's speed said."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import flower_compare


def _samples(process: float, loop: float) -> flower_compare.Samples:
    return flower_compare.Samples(
        process_s=[process, process + 2], cpu_s=[1.0, 1.0], loop_s=[loop, loop], accuracy=[0.85] * 2
    )


def test_table_rows_match_header_and_name_the_host_speed() -> None:
    quiet = flower_compare.Quiet(cores=0.15)
    text = flower_compare.table(
        [(1000, 5, _samples(3.0, 2.0), _samples(24.0, 11.0))], 2, 2, quiet, python_loop_s=0.84
    )
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len({row.count("|") for row in rows}) == 1, rows
    assert "10,000,000-step Python loop took 0.84 s" in text
    ratio, outside = rows[-1].split("|")[4].strip(), rows[-1].split("|")[-2].strip()
    assert ratio == "6.2x"  # medians: 25.0 / 4.0
    assert outside == "14.0 s"  # Flower's process median 25.0 minus its loop 11.0
