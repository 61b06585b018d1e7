"""compare shows settings as the runs have them: a key the file left out is its default
(with its value), a key of a link, device or failure the run does not have is absent (never
a default), a key set to its default value is no difference, and a run that ended early
says so (redteam6 #11)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_results import write_synthetic_run

from fedsim.record.compare import compare_runs, short_note
from fedsim.record.run_settings import run_settings


def _topology(**changes: Any) -> dict[str, Any]:
    topo: dict[str, Any] = {
        "name": "t",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax"},
        "fl": {"rounds": 4, "clients_per_round": 2, "min_available": 2},
        "links": {"eth": {"kind": "ethernet", "bandwidth": "1Mbps", "latency": "10ms"}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "d", "kind": "device", "count": 2, "device": "rpi4",
             "uplink": {"to": "server", "link": "eth"}},
        ],
    }  # fmt: skip
    topo.update(changes)
    return topo


def _run(root: Path, name: str, config: dict[str, Any], **summary: Any) -> Path:
    """A synthetic run with `config` as its config.yaml and `summary` over its summary."""
    run = write_synthetic_run(root, name=name)
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path = run / "summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(summary)
    path.write_text(json.dumps(data), encoding="utf-8")
    return run


def _row(table: Any, key: str) -> list[str]:
    return [table.cell_text(q, i) for q in [table.quantity(key)] for i in range(len(table.runs))]


def test_a_link_device_or_failure_a_run_lacks_is_absent_not_a_default(tmp_path: Path) -> None:
    other = _topology(
        links={
            "eth": {"kind": "ethernet", "bandwidth": "1Mbps", "latency": "10ms"},
            "lte": {"kind": "lte", "bandwidth": "300kbps", "latency": "40ms"},
        },
        devices={"tiny": {"like": "cortex-m4", "battery": "3J"}},
        failures=[{"link": "d-1", "at": "5s", "duration": "10s"}],
    )
    table = compare_runs([_run(tmp_path, "a", _topology()), _run(tmp_path, "b", other)])
    assert _row(table, "config.links.lte.bandwidth") == ["—, no such link", "300kbps"]
    assert _row(table, "config.devices.tiny.battery") == ["—, no such device profile", "3J"]
    assert _row(table, "config.failures.0.at") == ["—, no such failure", "5s"]
    assert "—, no such link" in table.to_markdown()
    assert "(default)" not in "".join(_row(table, "config.links.lte.kind"))
    # a key one run lacks is never in a label (its name says which topology it is)
    assert "devices.tiny" not in " ".join(table.labels)


def test_a_key_set_to_its_default_is_not_a_difference(tmp_path: Path) -> None:
    """`alpha: 0.5` is the default; `1000kbps` is `1Mbps`: neither is a row."""
    same = _topology(
        task={"kind": "digits", "partition": "iid", "model": "softmax", "alpha": 0.5},
        links={"eth": {"kind": "ethernet", "bandwidth": "1000kbps", "latency": "10ms"}},
    )
    table = compare_runs([_run(tmp_path, "a", _topology()), _run(tmp_path, "b", same)])
    keys = [q.key for q in table.quantities]
    assert not [k for k in keys if k.startswith("config.")]
    assert table.labels == ["name=a", "name=b"]  # only the scenario names differ


def test_a_default_that_differs_shows_its_value(tmp_path: Path) -> None:
    """quorum left out is 0.5 (the model's default), against a run that set 0%."""
    fl = {"rounds": 4, "clients_per_round": 2, "min_available": 2, "quorum": "0%"}
    table = compare_runs([_run(tmp_path, "a", _topology()), _run(tmp_path, "b", _topology(fl=fl))])
    assert _row(table, "config.fl.quorum") == ["0.5 (default)", "0%"]


def test_one_client_and_every_client_are_two_values(tmp_path: Path) -> None:
    """`clients_per_round: 1` (one client) and `100%` (every online client) both read 1
    as a number; the model keeps them apart, and so must the comparison."""
    one = _topology(fl={"rounds": 4, "clients_per_round": 1, "min_available": 2})
    every = _topology(fl={"rounds": 4, "clients_per_round": "100%", "min_available": 2})
    table = compare_runs([_run(tmp_path, "a", one), _run(tmp_path, "b", every)])
    assert _row(table, "config.fl.clients_per_round") == ["1", "100%"]


def test_async_settings_read_unused_in_a_sync_run(tmp_path: Path) -> None:
    fl = {"rounds": 4, "engine": "async", "async": {"buffer": 3}}
    table = compare_runs(
        [_run(tmp_path, "a", _topology()), _run(tmp_path, "b", _topology(fl=fl), engine="async")]
    )
    assert _row(table, "config.fl.async.buffer") == ["—, unused (engine sync)", "3"]


def test_a_file_the_model_cannot_load_keeps_its_text() -> None:
    """No task, no nodes: defaults unknown, so an unset key is `not set`, never a value."""

    class S(dict):
        get = dict.get

    broken = run_settings({"fl": {"rounds": 3}}, S())
    assert broken.resolved is None
    assert broken.get("fl.rounds").shown == "3"
    assert broken.get("fl.quorum").shown == "not set (default)"
    assert broken.get("links.eth.bandwidth").shown == "—, no such link"


def test_an_early_end_is_a_row_a_column_mark_and_a_warning(tmp_path: Path) -> None:
    note = (
        "fl.time_limit (100 s) ran out in round 2 of 50, which closed then, before its "
        "deadline, with 0 of 2 reports"
    )
    table = compare_runs(
        [
            _run(tmp_path, "a", _topology(), end_reason="rounds", end_note=None),
            _run(tmp_path, "b", _topology(), end_reason="time_limit", end_note=note),
        ]
    )
    assert _row(table, "end_reason") == ["rounds", "time_limit (early)"]
    assert _row(table, "end_note") == ["—", "fl.time_limit (100 s) ran out in round 2 of 50"]
    assert "ended early" not in table.header(0)
    assert table.header(1) == "name=b (not audited) (ended early: time_limit)"
    assert any("1 of 2 runs ended before their job was done" in w for w in table.warnings)
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert [r["end_reason"] for r in rows] == ["rounds", "time_limit"]
    assert rows[1]["end_note"] == note  # verbatim


@pytest.mark.parametrize(
    ("note", "short"),
    [
        (
            "no device can ever be online again (1 of 1 lost for good: battery 1); a round "
            "needs fl.min_available=1",
            "no device can ever be online again (1 of 1 lost for good: battery 1)",
        ),
        ("fl.time_limit (100 s) ran out after 12 of 1000 rounds",
         "fl.time_limit (100 s) ran out after 12 of 1000 rounds"),
        (None, "—"),
    ],
)  # fmt: skip
def test_an_end_note_is_cut_to_its_first_clause(note: str | None, short: str) -> None:
    assert short_note(note) == short
