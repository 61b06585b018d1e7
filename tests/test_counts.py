"""The compact snapshot of every count (`fedsim.net.counts`) that `nothing-after-end`
compares, and the run's use of it."""

from __future__ import annotations

from array import array

import pytest
from topo import tiny_topology

from fedsim.net.counts import Counts, moved_counts
from fedsim.run import simulate
from fedsim.scenario import parse_scenario

FIELDS = ("payload_bytes", "wire_bytes")


def _counts(*values: float) -> Counts:
    groups = [("link a up", FIELDS), ("energy a", ("tx_j",))]
    return Counts(groups, array("d", values))


def test_counts_read_as_a_mapping_of_names() -> None:
    c = _counts(10, 54, 0.5)
    assert list(c) == ["link a up payload_bytes", "link a up wire_bytes", "energy a tx_j"]
    assert dict(c) == {
        "link a up payload_bytes": 10.0,
        "link a up wire_bytes": 54.0,
        "energy a tx_j": 0.5,
    }
    assert c["link a up wire_bytes"] == 54.0
    assert c.name(2) == "energy a tx_j"
    with pytest.raises(KeyError):
        c["link a up drops"]
    with pytest.raises(KeyError):
        c["link b up wire_bytes"]


def test_counts_need_a_value_per_name() -> None:
    with pytest.raises(ValueError, match="as many values as names"):
        _counts(1, 2)


def test_moved_counts_names_each_change_in_name_order() -> None:
    before = _counts(10, 54, 0.5)
    assert moved_counts(before, _counts(10, 54, 0.5)) == []
    after = _counts(10, 124, 0.75)
    assert moved_counts(before, after) == [
        ("energy a tx_j", 0.5, 0.75),
        ("link a up wire_bytes", 54.0, 124.0),
    ]


def test_moved_counts_compares_by_name_when_the_names_differ() -> None:
    """A plain dict (a test's edit) or a snapshot with other names: compared by name,
    a name missing from one side is a change."""
    before = _counts(10, 54, 0.5)
    edited = {**before, "link a up wire_bytes": 55.0}
    assert moved_counts(before, edited) == [("link a up wire_bytes", 54.0, 55.0)]
    fewer = Counts([("link a up", FIELDS)], array("d", [10, 54]))
    assert moved_counts(before, fewer) == [("energy a tx_j", 0.5, None)]


def test_a_run_snapshots_its_counts_once_with_shared_names() -> None:
    """The second snapshot shares the first's names (memory: ~0.9 GB at 100,000 devices
    as dicts), and a run's counts do not move after its end."""
    ev = simulate(parse_scenario(tiny_topology(fl__rounds=2))).evidence
    assert ev is not None
    at_end, at_close = ev.counted_at_end, ev.counted_at_close
    assert isinstance(at_end, Counts)
    assert isinstance(at_close, Counts)
    assert at_close.groups is at_end.groups
    assert "link dev-1-gw dev-1->gw wire_bytes" in at_end
    assert at_end["link dev-1-gw dev-1->gw wire_bytes"] > 0
    assert not any(name.endswith(" wake") for name in at_end)  # a hook, not a count
    assert moved_counts(at_end, at_close) == []
