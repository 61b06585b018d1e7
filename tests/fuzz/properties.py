"""The fuzzer's own checks on a finished run: facts any correct run has that need no
auditor (bounds and sums over what `simulate` returned). Each returns lines, one per
broken fact, naming the offending row."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from fedsim.record.end_reasons import EARLY, END_REASONS

EPS = 1e-6

Check = Callable[[Any], Iterator[str]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def check_properties(result: Any) -> list[tuple[str, str]]:
    """(property name, what is wrong) for every broken property."""
    return [(fn.__name__.replace("_", "-"), line) for fn in CHECKS for line in fn(result)]


def _limit(result: Any) -> float:
    """The latest a run may end: the time limit (a round still open then closes)."""
    fl = result.scenario.fl
    if fl.time_limit_s is None:
        return math.inf
    return fl.time_limit_s + EPS


@check
def ends_in_time(result: Any) -> Iterator[str]:
    end = result.summary["sim_time_s"]
    if not end <= _limit(result):
        yield f"sim_time_s {end} is past time_limit {result.scenario.fl.time_limit_s}"


@check
def ends_for_its_reason(result: Any) -> Iterator[str]:
    """summary.json's `end_reason` agrees with the rest of the results."""
    s, fl = result.summary, result.scenario.fl
    reason, end, rows = s["end_reason"], s["sim_time_s"], result.recorder.rounds
    if reason not in END_REASONS:
        yield f"end_reason {reason!r} is not one of {sorted(END_REASONS)}"
    if (reason in EARLY) != bool(s["end_note"]):
        yield f"end_reason {reason!r} with end_note {s['end_note']!r}"
    if reason == "rounds" and s["rounds"] != fl.rounds:
        yield f"end_reason rounds after {s['rounds']} of {fl.rounds} rounds"
    if reason == "time_limit" and (fl.time_limit_s is None or abs(end - fl.time_limit_s) > EPS):
        yield f"end_reason time_limit at {end} s, fl.time_limit is {fl.time_limit_s}"
    if reason == "stall_limit" and fl.stall_limit_s is not None:
        # A round the stall found open closes at once, at the end, with its missing
        # reports `run_stopped`: a consequence of the stall, not progress before it.
        progress = [
            r
            for r in rows
            if not (r.failed_causes.get("run_stopped") and r.sim_time_s >= end - EPS)
        ]
        last = progress[-1].sim_time_s if progress else 0.0
        if end - last < fl.stall_limit_s - EPS:
            yield f"end_reason stall_limit at {end} s, a round closed at {last} s"


@check
def rounds_within_limits(result: Any) -> Iterator[str]:
    rows = result.recorder.rounds
    fl = result.scenario.fl
    if len(rows) > fl.rounds:
        yield f"{len(rows)} rounds recorded, fl.rounds is {fl.rounds}"
    if result.summary["rounds"] != len(rows):
        yield f"summary rounds {result.summary['rounds']} != {len(rows)} rows in rounds.csv"
    if fl.engine == "async":  # a window's reports may answer tasks of earlier windows
        selected = sum(r.selected for r in rows)
        if sum(r.reported + r.failed for r in rows) > selected:
            yield f"rounds.csv: reports + failures exceed the {selected} tasks issued"
    last = 0.0
    for r in rows:
        where = f"rounds.csv round {r.round}"
        if fl.engine == "sync" and not r.reported <= r.selected:
            yield f"{where}: reported {r.reported} > selected {r.selected}"
        if fl.engine == "sync" and not 0 <= r.failed <= r.selected - r.reported:
            yield f"{where}: failed {r.failed} not in [0, selected - reported]"
        if r.accepted not in (0, 1):
            yield f"{where}: accepted is {r.accepted}"
        if r.sim_time_s < last - EPS or r.sim_time_s > result.summary["sim_time_s"] + EPS:
            yield f"{where}: ends at {r.sim_time_s}, out of order or after the run's end"
        last = r.sim_time_s
        if min(r.bytes_up, r.bytes_down, r.wire_bytes_up, r.wire_bytes_down) < 0:
            yield f"{where}: negative byte count"


@check
def summary_bytes_are_round_sums(result: Any) -> Iterator[str]:
    rows = result.recorder.rounds
    for key in ("bytes_up", "bytes_down", "wire_bytes_up", "wire_bytes_down"):
        total = sum(getattr(r, key) for r in rows)
        if result.summary[key] != total:
            yield f"summary {key} {result.summary[key]} != sum over rounds.csv {total}"


@check
def clients_within_bounds(result: Any) -> Iterator[str]:
    devices = {n.name for n in result.scenario.device_nodes}
    seen = set()
    for c in result.clients:
        where = f"clients.csv {c['client']}"
        seen.add(c["client"])
        if not 0 <= c["rounds_reported"] <= c["rounds_selected"]:
            yield f"{where}: reported {c['rounds_reported']} of {c['rounds_selected']} selected"
        if (
            c["rounds_selected"] > len(result.recorder.rounds)
            and result.scenario.fl.engine == "sync"
        ):
            rounds = len(result.recorder.rounds)
            yield f"{where}: selected {c['rounds_selected']} times in {rounds} rounds"
        if min(c["bytes_up"], c["bytes_down"]) < 0:
            yield f"{where}: negative bytes"
        for key in ("energy_compute_j", "energy_radio_j"):
            if not c[key] >= 0:
                yield f"{where}: {key} is {c[key]}"
    if seen != devices:
        yield f"clients.csv lists {sorted(seen)}, the topology has {sorted(devices)}"
    total_selected = sum(c["rounds_selected"] for c in result.clients)
    if result.scenario.fl.engine == "sync":
        rows_selected = sum(r.selected for r in result.recorder.rounds)
        if total_selected < rows_selected:
            yield f"clients.csv selections {total_selected} < rounds.csv selections {rows_selected}"


@check
def links_within_run(result: Any) -> Iterator[str]:
    end = result.summary["sim_time_s"]
    for row in result.links:
        where = f"links.csv {row['link']} {row['direction']}"
        if not 0 <= row["down_time_s"] <= end + EPS:
            yield f"{where}: down_time_s {row['down_time_s']} outside [0, run {end}]"
        if not 0 <= row["busy_fraction"] <= 1:
            yield f"{where}: busy_fraction {row['busy_fraction']}"
        if min(row["payload_bytes"], row["wire_bytes"], row["packets"], row["drops"]) < 0:
            yield f"{where}: negative counter"


@check
def timeline_inside_run(result: Any) -> Iterator[str]:
    end = result.summary["sim_time_s"]
    for iv in result.recorder.timeline:
        if not -EPS <= iv.start_s < iv.end_s <= end + EPS:
            yield (f"timeline.csv {iv.client} {iv.state} [{iv.start_s}, {iv.end_s}] "
                   f"is empty or outside the run [0, {end}]")  # fmt: skip


@check
def metrics_are_numbers(result: Any) -> Iterator[str]:
    for r in result.recorder.rounds:
        if isinstance(r.metric, float) and math.isnan(r.metric):
            yield f"rounds.csv round {r.round}: metric is NaN"


@check
def energy_within_battery(result: Any) -> Iterator[str]:
    """A battery-powered device cannot spend more than it started with."""
    sc = result.scenario
    nodes = {n.name: n for n in sc.device_nodes}
    for c in result.clients:
        node = nodes[c["client"]]
        capacity = sc.devices[node.device].battery_j if node.device else None
        if capacity is None:
            continue
        start = capacity * node.connectivity.initial_charge[1]
        spent = c["energy_compute_j"] + c["energy_radio_j"]
        if spent > start * (1 + 1e-9) + 1e-12:
            yield (f"clients.csv {c['client']}: spent {spent:.6g} J, "
                   f"its battery held at most {start:.6g} J")  # fmt: skip
