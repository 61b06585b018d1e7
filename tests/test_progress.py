"""progress: live output on a terminal, nothing at all otherwise."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from fedsim.record.progress import RunProgress


def _drive(console: Console, quiet: bool = False) -> RunProgress:
    with RunProgress(3, title="demo", quiet=quiet, console=console) as p:
        for r in range(1, 4):
            p.update(
                round=r,
                sim_time_s=30.0 * r,
                metric=0.2 * r,
                bytes_total=r * 10**6,
                online=5,
                training=2,
                dropped=r - 1,
            )
    return p


def test_terminal_shows_round_metric_bytes_devices() -> None:
    buf = io.StringIO()
    p = _drive(Console(file=buf, force_terminal=True, width=140))
    out = buf.getvalue()
    assert "3/3" in out
    assert "metric 0.6" in out
    assert "3 MB payload" in out
    assert "5 online" in out
    assert "2 dropped" in out
    assert p.state["round"] == 3


@pytest.mark.parametrize("quiet", [True, False])
def test_silent_when_quiet_or_not_a_terminal(quiet: bool) -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True if quiet else None)
    _drive(console, quiet=quiet)
    assert buf.getvalue() == ""


def test_unknown_field_is_a_programming_error() -> None:
    with RunProgress(1, quiet=True) as p, pytest.raises(TypeError):
        p.update(rnd=1)
