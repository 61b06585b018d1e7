"""The one line `fedsim run` prints about a finished run, from its summary.json.

Why a module: each figure on the line must say what it counts. "4.85 MB moved" was the
payload of the rounds alone; a run that stalled after its first round printed "0.05 MB
moved" while its devices had sent 0.11 MB of payload and 2.34 MB on the wire. A run
with no accepted round printed the untrained model's accuracy as if it were the result,
and a `--no-audit` run looked like an audited one.
"""

from __future__ import annotations

from fedsim.record.absent_devices import plural
from fedsim.record.audit_status import NO_AUDIT_JSON, AuditStatus
from fedsim.record.schema import Summary

__all__ = ["bytes_text", "metric_text", "run_line", "seconds_figure"]


def seconds_figure(seconds: float) -> str:
    """Simulated seconds on the run line: whole from 100 s up, three significant figures
    below. One rounding for both the target's time and the run's, so the two never
    contradict ("target reached at 10 s; 9.6 s simulated": redteam9, finding 3)."""
    return f"{seconds:.0f}" if seconds >= 100 else f"{seconds:.3g}"


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def bytes_text(s: Summary) -> str:
    """The devices' first hops, whole run (rounds + after them, as ledger.csv's `run`
    rows): `4.85 MB payload (5.61 MB wire)`, and what of it came after the last round
    (when that shows: a few kB of final polls would read "0.00 MB (0.00 MB wire)")."""
    after = s.bytes_after_rounds_up + s.bytes_after_rounds_down
    wire_after = s.wire_bytes_after_rounds_up + s.wire_bytes_after_rounds_down
    payload = s.bytes_up + s.bytes_down + after
    wire = s.wire_bytes_up + s.wire_bytes_down + wire_after
    text = f"{_mb(payload)} payload ({_mb(wire)} wire)"
    if not s.rounds:
        text += ", no round"
    elif _mb(after) != _mb(0) or _mb(wire_after) != _mb(0):  # not "0.00 MB (0.00 MB wire)"
        text += f", {_mb(after)} ({_mb(wire_after)} wire) of it after the last round"
    return text


def metric_text(s: Summary) -> str:
    """`accuracy 0.9526`; with no round's model accepted, that it is the initial model's."""
    final = "n/a" if s.final_metric is None else f"{s.final_metric:.4f}"
    if not s.accepted_rounds:
        return f"no model accepted (the initial model's {s.metric_name}: {final})"
    return f"{s.metric_name} {final}"


def run_line(s: Summary, audit: AuditStatus, wall_ratio: str, sim: str) -> str:
    """The run's line: rounds, metric, time, bytes, dropouts, and `NOT AUDITED` (why)
    unless its audit passed. `sim` and `wall_ratio` are the caller's formatted figures
    (`sim`: `seconds_figure(s.sim_time_s)`, as the target's time)."""
    at = s.time_to_target_s
    reached = f", target reached at {seconds_figure(at)} s" if at is not None else ""
    drops = sum(s.dropouts.values())
    line = (
        f"{s.scenario} ({s.engine}, {s.strategy}): {plural(s.rounds, 'round')}, "
        f"{metric_text(s)}{reached}; {sim} s simulated in {s.wall_time_s:.2f} s "
        f"({wall_ratio}x); {bytes_text(s)}; {plural(drops, 'dropout')}"
    )
    if audit.note == NO_AUDIT_JSON:
        line += "; not audited (--no-audit)"
    elif not audit.passed:
        line += f"; {audit.short()}"
    return line
