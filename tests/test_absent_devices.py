"""Devices that never took part are named, whatever their count, with why.

Outside finding (redteam7): lora_farm's two SF12 sensors were never selected (one never
got a byte of its registration out, the other never got an answer), yet `fedsim run` said
"0 dropouts" without a warning (it flagged only devices selected 5 times or more), the
report said "Every selected device had at least one upload accepted", and their group
rows read "reported 0 of 0 selections" with no flag.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import pytest
from fake_results import fake_summary, write_synthetic_run

from fedsim.cli import main
from fedsim.cli.run import _print_summary
from fedsim.record.absent_devices import (
    absence,
    absent_devices,
    absent_warning,
    offline_throughout,
    timed_out_warning,
)
from fedsim.record.participation import participation_html
from fedsim.record.runs import load_run
from fedsim.record.schema import ClientRow, TimelineRow
from fedsim.record.topology_svg import topology_svg


def _row(name: str, selected: int, reported: int, up: int, down: int, **more: int) -> ClientRow:
    cols = {f: 0 for f in ClientRow.__dataclass_fields__ if f.startswith("dropouts_")}
    cols.update(more)
    return ClientRow(
        client=name, device="esp32", gateway="gw", rounds_selected=selected,
        rounds_reported=reported, rounds_surplus=more.get("rounds_surplus", 0),
        dropouts=sum(v for k, v in more.items() if k.startswith("dropouts_")),
        bytes_up=up, bytes_down=down, energy_compute_j=0.0, energy_radio_j=0.0,
        **{k: v for k, v in cols.items() if k != "rounds_surplus"},
    )  # fmt: skip


CONNECTED_NEVER = _row("south-edge", 0, 0, 0, 0)
REGISTERED_NEVER = _row("north-edge", 0, 0, 376, 0)
CHOSEN_NEVER = _row("idle-1", 0, 0, 900, 800)
DEADLINE = _row("far-1", 1, 0, 1157, 5889, dropouts_deadline=1)
GOOD = _row("near-1", 19, 19, 40_000, 50_000)


def test_why_a_never_selected_device_took_no_part() -> None:
    assert absence(CONNECTED_NEVER).startswith("never connected: no byte of its registration")
    assert absence(REGISTERED_NEVER) == (
        "never registered: it sent 376 B up and no answer came back"
    )
    assert absence(CHOSEN_NEVER).startswith("never selected: ")
    assert absent_devices([GOOD, CONNECTED_NEVER, DEADLINE]) == [CONNECTED_NEVER]


def test_one_absent_device_is_warned_about() -> None:
    """Any count: one selection missed, or none at all."""
    assert absent_warning([GOOD, GOOD]) is None
    line = absent_warning([GOOD, REGISTERED_NEVER])
    assert line == (
        "1 of 2 devices never had an update accepted: 1 never registered (bytes sent up, no "
        "answer came back): north-edge (clients.csv: rounds_selected, bytes_up, bytes_down, "
        "rounds_surplus, dropouts_*)"
    )
    line = absent_warning([GOOD, DEADLINE, CONNECTED_NEVER, CHOSEN_NEVER])
    assert line is not None
    assert line.startswith("3 of 4 devices never had an update accepted: ")
    assert "1 never connected (no byte of a registration got out): south-edge" in line
    assert "1 never selected (heard from the server, never chosen): idle-1" in line
    assert "1 selected, none accepted: far-1 (1×: deadline ×1)" in line


def test_many_absent_devices_are_counted_by_why() -> None:
    many = [dataclasses.replace(CONNECTED_NEVER, client=f"s-{i}") for i in range(28)]
    line = absent_warning(many)
    assert line is not None
    assert "28 of 28 devices never had an update accepted: 28 never connected" in line
    assert "s-0, s-1, s-2 and 25 more" in line


def _with_clients(tmp_path: Path, edit: dict[int, dict[str, int]]) -> Path:
    run = Path(write_synthetic_run(tmp_path, name="farm", seed=1))
    path = run / "clients.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for i, cells in edit.items():
        for k, v in cells.items():
            rows[i][k] = str(v)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return run


NEVER_SELECTED = {
    "rounds_selected": 0, "rounds_reported": 0, "rounds_surplus": 0, "dropouts": 0,
    "bytes_up": 376, "bytes_down": 0,
}  # fmt: skip


def test_fedsim_run_warns_about_a_device_never_selected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _with_clients(tmp_path, {0: {**NEVER_SELECTED, **_zero_drops()}})
    name = load_run(run).clients[0].client
    _print_summary(run)
    err = capsys.readouterr().err
    assert f"1 never registered (bytes sent up, no answer came back): {name}" in err


def _zero_drops() -> dict[str, int]:
    return {f: 0 for f in ClientRow.__dataclass_fields__ if f.startswith("dropouts_")}


def test_the_report_lists_and_flags_devices_never_selected(tmp_path: Path) -> None:
    run = load_run(_with_clients(tmp_path, {0: {**NEVER_SELECTED, **_zero_drops()}}))
    name = run.clients[0].client
    html = participation_html(run)
    assert "Every selected device" not in html
    assert "1 device(s) never selected (never registered: 1), flagged too." in html
    row = re.search(rf"<tr><td>{re.escape(name)}</td>.*?</tr>", html)
    assert row, html
    assert "never registered: it sent 376 B up" in row.group(0)
    assert "⚑ flagged" in row.group(0)
    assert "1 never reported" in topology_svg(run)  # its group's box says so


def test_a_report_where_every_device_took_part_says_every_device(tmp_path: Path) -> None:
    run = load_run(write_synthetic_run(tmp_path, name="all", seed=1))
    clients = [
        dataclasses.replace(c, rounds_reported=max(c.rounds_reported, 1)) for c in run.clients
    ]
    html = participation_html(dataclasses.replace(run, clients=clients))
    assert "Every device had at least one upload accepted." in html


EMPTY_BATTERY = Path(__file__).resolve().parent / "redteam8" / "empty_battery.yaml"


def test_a_device_offline_throughout_is_named_by_its_cause() -> None:
    """Outside audit redteam8, finding 6: `initial_charge: 0%` read "never connected"."""
    timeline = [
        TimelineRow("b", "offline", 0.0, 60.0, "battery"),
        TimelineRow("f", "offline", 0.0, 60.0, "device_failure"),
        TimelineRow("late", "offline", 0.0, 5.0, "device_failure"),
        TimelineRow("late", "idle", 5.0, 60.0, ""),
        TimelineRow("w", "idle", 0.0, 60.0, ""),
    ]
    offline = offline_throughout(timeline)
    assert offline == {"b": "battery", "f": "device_failure"}
    assert absence(CONNECTED_NEVER, "battery").startswith(
        "empty battery: offline from the start to the end (timeline.csv cause battery)"
    )
    assert absence(CONNECTED_NEVER, "device_failure").startswith("offline throughout: ")
    line = absent_warning([GOOD, CONNECTED_NEVER], offline={"south-edge": "battery"})
    assert line is not None
    assert "1 empty battery (initial_charge 0%: offline the whole run): south-edge" in line
    assert "never connected" not in line
    assert line.endswith("; timeline.csv: state, cause)")


def test_fedsim_run_and_the_report_name_an_empty_battery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", str(EMPTY_BATTERY), "--quiet", "--no-plots", "--out", str(tmp_path)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 of 2 devices never had an update accepted: 1 empty battery" in err
    assert "never connected" not in err
    (folder,) = tmp_path.iterdir()
    html = participation_html(load_run(folder))
    assert "1 device(s) never selected (empty battery: 1), flagged too." in html
    assert "empty battery: offline from the start to the end" in html


def test_a_task_request_that_timed_out_and_was_retried_is_not_called_none_during_a_task() -> None:
    """Outside audit redteam9, finding 2: s-1's upload timed out mid-task, the device
    fetched the task again and reported; "none during a task" was false."""
    retried = _row("s-1", 4, 4, 51_488, 50_058, requests_timed_out=1)
    line = timed_out_warning([GOOD, retried], fake_summary())
    assert line is not None
    assert "none during a task" not in line
    assert "no task lost to one, so no dropout" in line
    assert "s-1 (1× timed out, reported 4 of 4 rounds selected)" in line
    assert "a device tries again after a timeout" in line


def test_timeouts_of_devices_never_selected_are_none_during_a_task() -> None:
    line = timed_out_warning([_row("far", 0, 0, 0, 0, requests_timed_out=5)], fake_summary())
    assert line is not None
    assert "none during a task: no device that timed out was ever selected" in line


def test_timeouts_that_lost_tasks_count_them_and_name_the_retried() -> None:
    lost = _row("s-2", 3, 1, 9_000, 9_000, requests_timed_out=2, dropouts_request_timeout=2)
    line = timed_out_warning([lost], fake_summary(dropouts={"request_timeout": 2}))
    assert line is not None
    assert "2 of them during a task, its update lost: dropouts_request_timeout" in line
    assert "s-2 (2× timed out, reported 1 of 3 rounds selected)" in line
