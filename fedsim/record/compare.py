"""Compare finished runs side by side: what did a change buy, in time, bytes and energy?

One row per quantity, one column per run, and deltas against the first run (the baseline),
absolute and in percent. Runs that measure different things (another task or metric) are
still tabulated, but flagged loudly: a silent comparison of accuracy against mean return
would be worse than none. Figures straight from summary.json are copied verbatim, so the CSV
can be checked against the runs; derived figures (split of bytes-to-target, wire overhead)
come from rounds.csv and clients.csv and are named as such. Runs made by different code (their
summary.json `code` fingerprints differ) get a one-line warning: legitimate when comparing
before/after a change, misleading when it is an accident. A run that failed its audit, or was
never audited (no audit.json), is marked in its column and its CSV row and named in a
warning (`audit_warnings`, printed on stderr): its numbers were not checked or are wrong.
A run that ended before its job was done (summary.json `end_reason`: the time limit, devices
lost for good, a stall) is marked likewise and named in a warning: its bytes and energy stop
where it stopped, so a ratio against a finished run is not a like-for-like saving. Runs of
another network (node set, device count, link classes) or another seed get a line each
(fedsim.record.compare_network); totals over a different device count get no ratio, and
per-device rows compare them instead; whole-run totals over a different number of rounds
likewise, with per-round rows (fedsim.record.compare_rounds). Link packets sent, dropped
on the wire and refused (never sent) are sums of links.csv (fedsim.record.link_packets),
named and defined as the schema defines them, the definitions printed under the table: a
connectivity failure shows as refusals, a lossy radio as drops. Config rows show each key
by its full path, as the topology model reads it (fedsim.record.run_settings): set, its
default, or absent (`—, no such link`); a key set to its default is not a difference.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fedsim.errors import FedsimError
from fedsim.record.audit_status import VOID
from fedsim.record.compare_caveats import dropout_rule_caveat, metric_caveat, model_caveat
from fedsim.record.compare_network import device_count, network_warnings, seed_warning
from fedsim.record.compare_rounds import per_round, rounds_warning
from fedsim.record.compare_totals import asked_per_round, asked_text, same_asked
from fedsim.record.end_reasons import EARLY
from fedsim.record.labels import labels_for, override_keys
from fedsim.record.link_packets import DROPPED, REFUSED, SENT, definition, run_packets
from fedsim.record.run_settings import RunSettings, differing_keys, run_settings
from fedsim.record.runs import RunData, VoidRunError, folder_labels, load_run
from fedsim.record.schema import Summary
from fedsim.record.transport_words import run_transport, shared_words

__all__ = [
    "CompareTable",
    "Quantity",
    "compare_runs",
    "default_compare_out",
    "load_run",
    "print_table",
    "write_compare",
]

Number = int | float


@dataclass(frozen=True)
class Quantity:
    """One row of the comparison: a figure per run, and which direction is better."""

    key: str
    label: str
    values: list[Any]
    better: str | None = None  # "higher", "lower" or None (not a score)
    numeric: bool = True
    texts: list[str] | None = None
    """What the tables show where it is not the value itself (the CSV keeps the value)."""
    devices: list[Any] | None = None
    """Each run's device count, for a total that grows with it: no ratio or change
    between runs of different device counts (their per-device rows have one)."""
    rounds: list[Any] | None = None
    """Each run's completed rounds, for a whole-run total that grows with them: no ratio
    or change between runs of different round counts (fedsim.record.compare_rounds)."""

    def comparable(self, i: int) -> bool:
        """False where run i's total is over another device or round count than the
        baseline's."""
        return (self.devices is None or self.devices[i] == self.devices[0]) and (
            self.rounds is None or self.rounds[i] == self.rounds[0]
        )

    def ratio(self, i: int) -> float | None:
        """Run i's value over run 0's (None where undefined)."""
        base, value = self.values[0], self.values[i]
        if not self.numeric or not _is_num(base) or not _is_num(value) or base == 0:
            return None
        if not self.comparable(i):
            return None
        return value / base

    def delta(self, i: int) -> tuple[Number | None, float | None]:
        """(absolute, percent) change of run i against run 0; None where undefined."""
        base, value = self.values[0], self.values[i]
        if not self.numeric or not _is_num(base) or not _is_num(value):
            return None, None
        if not self.comparable(i):
            return None, None
        diff = value - base
        pct = None if base == 0 else 100.0 * diff / abs(base)
        return diff, pct


@dataclass
class CompareTable:
    """The comparison: labels of the runs, their quantities, and mismatch warnings."""

    runs: list[RunData]
    labels: list[str]
    quantities: list[Quantity]
    warnings: list[str] = field(default_factory=list)
    mismatched: list[bool] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    """Each run's folder label (the CSV's `run` column; `labels` say what differs)."""
    audit_warnings: list[str] = field(default_factory=list)
    """One line per run that failed its audit, one for those never audited."""
    notes: list[str] = field(default_factory=list)
    """What some rows mean, printed under the table (which link packets are dropped and
    which refused)."""

    def header(self, i: int) -> str:
        """Run i's column heading: ⚠ when it measures something else, its audit when
        that did not pass."""
        mark = "⚠ " if self.mismatched[i] else ""
        return mark + self.labels[i] + audit_mark(self.runs[i]) + end_mark(self.runs[i])

    def quantity(self, key: str) -> Quantity:
        for q in self.quantities:
            if q.key == key:
                return q
        raise KeyError(key)

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown: warnings first, then the table."""
        lines = ["# Run comparison", ""]
        lines += [f"> **Warning:** {w}" for w in self.audit_warnings + self.warnings]
        if self.warnings or self.audit_warnings:
            lines.append("")
        lines.append(f"Baseline: `{self.labels[0]}`. Deltas are against the baseline.")
        lines.append("")
        header = ["quantity"] + [self.header(i) for i in range(len(self.labels))]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * len(self.labels)) + "|")
        for q in self.quantities:
            cells = [q.label] + [self.cell_text(q, i) for i in range(len(self.labels))]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines) + "\n"

    def cell_text(self, q: Quantity, i: int) -> str:
        """The value, plus `(×ratio, +Δ, +x%)` for runs after the baseline."""
        text = q.texts[i] if q.texts is not None else format_value(q.key, q.values[i])
        if i == 0 or not q.numeric:
            return text
        if not q.comparable(i) and q.devices is not None:
            return f"{text} (not compared: {q.devices[i]} vs {q.devices[0]} devices)"
        diff, pct = q.delta(i)
        if diff is None:
            return text
        parts = [] if (r := q.ratio(i)) is None else [f"×{r:.3g}"]
        parts.append(format_value(q.key, diff, signed=True))
        if pct is not None:
            parts.append(f"{pct:+.1f}%")
        return f"{text} ({', '.join(parts)})"

    def short_cell(self, q: Quantity, i: int) -> str:
        """The terminal's cell: the value, and under it `×ratio ±x%` against the baseline
        (narrow enough for four runs in 100 columns)."""
        text = q.texts[i] if q.texts is not None else format_value(q.key, q.values[i])
        if i == 0 or not q.numeric:
            return text
        if not q.comparable(i) and q.devices is not None:
            return f"{text}\n{q.devices[i]} vs {q.devices[0]} devices"
        diff, pct = q.delta(i)
        if diff is None or diff == 0:
            return text
        r = q.ratio(i)
        below = " ".join(
            p for p in ((f"×{r:.3g}" if r is not None else ""), _pct(pct)) if p
        ) or format_value(q.key, diff, signed=True)
        return f"{text}\n{below}"

    def to_csv(self) -> str:
        """One row per run; raw values, exact as in summary.json, then delta columns."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        numeric = [q for q in self.quantities if q.numeric]
        header = ["run", "label", "path", "mismatch"] + [q.key for q in self.quantities]
        header += [f"delta_{q.key}" for q in numeric] + [f"delta_pct_{q.key}" for q in numeric]
        header += [f"ratio_{q.key}" for q in numeric]
        w.writerow(header)
        for i, run in enumerate(self.runs):
            folder = self.folders[i] if self.folders else self.labels[i]
            row: list[Any] = [folder, self.labels[i], str(run.path), _yes(self.mismatched[i])]
            row += [_csv_cell(q.values[i]) for q in self.quantities]
            deltas = [q.delta(i) for q in numeric]
            row += [_csv_cell(d[0]) for d in deltas] + [_csv_cell(d[1]) for d in deltas]
            row += [_csv_cell(q.ratio(i)) for q in numeric]
            w.writerow(row)
        return buf.getvalue()


def audit_mark(run: RunData) -> str:
    """What a run's label carries when its audit did not pass."""
    return run.audit.mark()


def end_mark(run: RunData) -> str:
    """What a run's label carries when it ended before its job was done:
    `` (ended early: time_limit)``."""
    reason = run.summary.get("end_reason")
    return f" (ended early: {reason})" if reason in EARLY else ""


def short_note(note: str | None) -> str:
    """An end note's first clause (up to `; ` or `, which` outside brackets): what
    stopped the run, without the detail summary.json keeps."""
    if not note:
        return "—"
    depth = 0
    for i, ch in enumerate(note):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and (note.startswith("; ", i) or note.startswith(", which", i)):
            return note[:i]
    return note


def end_warning(runs: list[RunData], labels: list[str]) -> str | None:
    """One line naming the runs that ended early, and why."""
    early = [(label, r) for label, r in zip(labels, runs, strict=True) if end_mark(r)]
    if not early:
        return None
    shown = "; ".join(
        f"`{label}` ({r.summary.get('end_reason')}: {short_note(r.summary.get('end_note'))})"
        for label, r in early[:3]
    )
    more = f" and {len(early) - 3} more" if len(early) > 3 else ""
    return (
        f"{len(early)} of {len(runs)} runs ended before their job was done, so their bytes, "
        f"energy and time stop where they stopped: {shown}{more}"
    )


def audit_warnings(runs: list[RunData], labels: list[str]) -> list[str]:
    """A line per run that failed its audit (its violations); one for the runs never
    audited (no audit.json: `--no-audit`, or an older fedsim)."""
    lines = []
    for label, run in zip(labels, runs, strict=True):
        if run.audit.state == VOID:
            lines.append(f"`{label}`: {run.audit.line()}")
        elif run.audit.failed:
            shown = "; ".join(run.audit.violations[:3])
            more = len(run.audit.violations) - 3
            shown += f" (+{more} more, see its audit.json)" if more > 0 else ""
            lines.append(f"`{label}` FAILED its audit, {run.audit.verdict()}: {shown}")
    unaudited = [(label, r) for label, r in zip(labels, runs, strict=True)
                 if not (r.audit.passed or r.audit.failed)]  # fmt: skip
    if unaudited:
        names = ", ".join(f"`{label}`" for label, _ in unaudited[:3])
        names += f" and {len(unaudited) - 3} more" if len(unaudited) > 3 else ""
        why = unaudited[0][1].audit.note
        lines.append(
            f"{len(unaudited)} of {len(runs)} runs were not audited ({names}: {why}): "
            "their numbers were never checked"
        )
    return lines


def _pct(pct: float | None) -> str:
    if pct is None:
        return ""
    return f"{pct:+.0f}%" if abs(pct) >= 10 else f"{pct:+.1f}%"


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    return v  # ints and floats: str() is repr(), which round-trips exactly


def format_value(key: str, v: Any, *, signed: bool = False) -> str:
    """Human text for a value, choosing units from the key name (bytes, seconds, joules)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, int | float):
        return str(v)
    sign = "+" if signed and v > 0 else ""
    if "bytes" in key:
        return sign + human_bytes(v)
    if key.endswith("_s"):
        return sign + human_seconds(v)
    if key.endswith("_j") or "energy" in key:
        return f"{sign}{v:.4g} J"
    if key.endswith("_pct"):
        return f"{sign}{v:.2f}%"
    if isinstance(v, int):
        return f"{sign}{v:d}"
    return f"{sign}{v:.4g}"


def human_bytes(n: Number) -> str:
    """SI units, as the topology files use (1 kB = 1000 B)."""
    size = abs(n)
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{'-' if n < 0 else ''}{size / scale:.3g} {unit}"
    return f"{n:.0f} B" if isinstance(n, float) else f"{n} B"


def human_seconds(s: Number) -> str:
    size = abs(s)
    if size >= 3600:
        return f"{s / 3600:.3g} h"
    if size >= 60:
        return f"{s / 60:.3g} min"
    return f"{s:.3g} s"


def _to_target_split(run: RunData) -> dict[str, int | None]:
    """Bytes up/down/wire until the first round that reached the target: wire from
    summary.json where it has it, up/down (and an older run's wire) from rounds.csv."""
    s = run.summary
    target = s.get("target_metric")
    split = _split_from_rounds(run, target)
    if s.get("wire_bytes_to_target") is not None:
        split["wire"] = s.wire_bytes_to_target
    return split


def _split_from_rounds(run: RunData, target: float | None) -> dict[str, int | None]:
    none: dict[str, int | None] = {"up": None, "down": None, "wire": None}
    if target is None or not run.rounds:
        return none
    up = down = wire = 0
    for row in run.rounds:
        up += row.bytes_up or 0
        down += row.bytes_down or 0
        wire += (row.wire_bytes_up or 0) + (row.wire_bytes_down or 0)
        m = row.metric
        if m is not None and (m >= target if run.higher_is_better else m <= target):
            return {"up": up, "down": down, "wire": wire}
    return none


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ledger(s: Summary, *classes: str) -> int | None:
    """Bytes of `classes` both ways from summary.json's ledger (None: an older run)."""
    totals = s.get("ledger")
    if totals is None:
        return None
    return sum(int(totals.get(f"{c}_{d}", 0)) for c in classes for d in ("up", "down"))


def _config_rows(settings: list[RunSettings]) -> list[Quantity]:
    """Every config key whose value differs between the runs as the model reads them
    (fedsim.record.run_settings), except those the table shows anyway."""
    shown = {"fl.strategy", "fl.engine", "fl.codec", "fidelity", "seed", "name"}
    return [
        Quantity(f"config.{key}", f"  {key}", [s.get(key).shown for s in settings],
                 None, numeric=False)
        for key in differing_keys(settings)
        if key not in shown
    ]  # fmt: skip


def _end_rows(runs: list[RunData]) -> list[Quantity]:
    """Why each run ended (`time_limit (early)`), and the note's first clause; the CSV
    keeps summary.json's `end_reason` and `end_note` verbatim."""
    reasons = [r.summary.get("end_reason") for r in runs]
    notes = [r.summary.get("end_note") for r in runs]
    return [
        Quantity("end_reason", "end", reasons, None, numeric=False,
                 texts=[f"{why} (early)" if why in EARLY else str(why or "—") for why in reasons]),
        Quantity("end_note", "  why", notes, None, numeric=False,
                 texts=[short_note(n) for n in notes]),
    ]  # fmt: skip


def _quantities(runs: list[RunData], settings: list[RunSettings]) -> list[Quantity]:
    rows = _per_device(_rows(runs, settings), runs, _same_asked(runs, settings) is not None)
    return per_round(rows, runs)


def _same_asked(runs: list[RunData], settings: list[RunSettings]) -> str | None:
    """What every run asks a round, in words, when it is the same in all (their totals
    per round compare across device counts); None otherwise."""
    asked = [asked_per_round(s, device_count(r)) for s, r in zip(settings, runs, strict=True)]
    return asked_text(asked[0]) if same_asked(asked) and asked[0] is not None else None


def _rows(runs: list[RunData], settings: list[RunSettings]) -> list[Quantity]:
    S = [r.summary for r in runs]

    def col(key: str) -> list[Any]:
        return [s.get(key) for s in S]

    def q(key: str, label: str, better: str | None = None) -> Quantity:
        return Quantity(key, label, col(key), better)

    def derived(key: str, label: str, values: list[Any], better: str | None = None) -> Quantity:
        return Quantity(key, label, values, better)

    def text(key: str, label: str) -> Quantity:
        return Quantity(key, label, col(key), None, numeric=False)

    metric_better = next("higher" if r.higher_is_better else "lower" for r in runs)
    split = [_to_target_split(r) for r in runs]
    payload = [_sum(s, "bytes_up", "bytes_down") for s in S]
    wire = [_sum(s, "wire_bytes_up", "wire_bytes_down") for s in S]
    overhead = [
        None if p in (None, 0) or w is None else 100.0 * (w - p) / p
        for p, w in zip(payload, wire, strict=True)
    ]
    share = [None if s.get("overhead_share") is None else 100.0 * s.overhead_share for s in S]
    overrides = [
        "—" if s.get("overrides") is None else ("; ".join(s.overrides) or "none") for s in S
    ]
    causes = sorted({c for s in S for c in (s.get("dropouts") or {})})
    words = shared_words([run_transport(r.config) for r in runs])
    packets = [run_packets(r) for r in runs]
    return [
        Quantity("audit", "audit", [r.audit.short() for r in runs], None, numeric=False),
        *_end_rows(runs),
        text("scenario", "scenario"),
        text("task", "task"),
        text("metric_name", "metric"),
        text("engine", "engine"),
        text("strategy", "strategy"),
        text("codec", "codec"),
        text("fidelity", "fidelity"),
        Quantity("seed", "seed", col("seed"), None, numeric=False),
        Quantity("overrides", "overrides (--set)", overrides, None, numeric=False),
        *_config_rows(settings),
        q("devices", "devices"),
        q("rounds", "rounds"),
        q("final_metric", "final metric", metric_better),
        q("best_metric", "best metric", metric_better),
        q("target_metric", "target metric"),
        q("time_to_target_s", "time to target (sim)", "lower"),
        q("bytes_to_target", "payload to target", "lower"),
        derived("bytes_up_to_target", "  up", [d["up"] for d in split], "lower"),
        derived("bytes_down_to_target", "  down", [d["down"] for d in split], "lower"),
        derived("wire_bytes_to_target", "wire to target", [d["wire"] for d in split], "lower"),
        q("energy_to_target_j", "energy to target (all)", "lower"),
        q("bytes_up", "payload bytes up", "lower"),
        q("bytes_down", "payload bytes down", "lower"),
        q("wire_bytes_up", "wire bytes up", "lower"),
        q("wire_bytes_down", "wire bytes down", "lower"),
        derived("wire_overhead_pct", "wire over payload", overhead, "lower"),
        derived(
            "ledger_model_bytes",
            "ledger (first hops): model",
            [_ledger(s, "model") for s in S],
            "lower",
        ),
        derived(
            "ledger_protocol_bytes",
            f"  {words.protocol_label}",
            [_ledger(s, "protocol") for s in S],
            "lower",
        ),
        derived(
            "ledger_transport_bytes",
            f"  transport ({words.below})",
            [_ledger(s, "header", "control") for s in S],
            "lower",
        ),
        derived("ledger_retx_bytes", "  retransmitted", [_ledger(s, "retx") for s in S], "lower"),
        derived("ledger_lost_bytes", "  lost", [_ledger(s, "lost") for s in S], "lower"),
        derived("overhead_share_pct", "  not model (share)", share, "lower"),
        q("wire_bytes_per_update", "wire / accepted update", "lower"),
        derived(
            "link_packets_sent",
            f"link packets {SENT}",
            [None if p is None else p.packets for p in packets],
        ),
        derived(
            "link_packets_dropped",
            f"  {DROPPED}",
            [None if p is None else p.drops for p in packets],
            "lower",
        ),
        derived(
            "link_packets_refused",
            f"link packets {REFUSED}",
            [None if p is None else p.refused for p in packets],
            "lower",
        ),
        derived(
            "dropouts_total",
            "dropouts (total)",
            [sum((s.get("dropouts") or {}).values()) for s in S],
            "lower",
        ),
        *(
            derived(
                f"dropouts.{c}",
                f"  {c}",
                [(s.get("dropouts") or {}).get(c, 0) for s in S],
                "lower",
            )
            for c in causes
        ),
        q("rounds_surplus", "surplus selections"),
        q("energy_j_mean", "energy per device", "lower"),
        derived(
            "energy_compute_j_mean",
            "  compute",
            [
                _mean([c.energy_compute_j for c in r.clients if c.energy_compute_j is not None])
                for r in runs
            ],
            "lower",
        ),
        derived(
            "energy_radio_j_mean",
            "  radio",
            [
                _mean([c.energy_radio_j for c in r.clients if c.energy_radio_j is not None])
                for r in runs
            ],
            "lower",
        ),
        q("sim_time_s", "simulated time", None),
        q("wall_time_s", "wall-clock time", None),
    ]


_TOTALS = {
    "bytes_to_target", "bytes_up_to_target", "bytes_down_to_target", "wire_bytes_to_target",
    "energy_to_target_j", "bytes_up", "bytes_down", "wire_bytes_up", "wire_bytes_down",
    "ledger_model_bytes", "ledger_protocol_bytes", "ledger_transport_bytes",
    "ledger_retx_bytes", "ledger_lost_bytes", "dropouts_total", "link_packets_sent",
    "link_packets_dropped", "link_packets_refused",
}  # fmt: skip
"""Rows that sum over devices: a ratio between different device counts is mostly the count."""

_PER_DEVICE = {"bytes_to_target", "wire_bytes_to_target", "energy_to_target_j", "bytes_up",
               "bytes_down", "wire_bytes_up", "wire_bytes_down",
               "ledger_protocol_bytes", "ledger_transport_bytes"}  # fmt: skip
"""Totals that get a per-device row when the device counts differ."""

_ASKED_TOTALS = {"ledger_model_bytes", "dropouts_total"}
"""Totals only the clients a round asks make (model bytes; dropouts, which happen to a
selected device's task): where every run asks the same clients a round, they compare
as they are across device counts. Every other total also holds what the devices never
asked spend (long polls, keep-alives, listening), so it follows the device count
(redteam9, finding 1: 4 vs 16 devices asking 2 a round moved the same model bytes and
3.8x the protocol bytes)."""

_IDLE_SCALED = {"wire_bytes_per_update"}
"""Not a total, but a total over the accepted updates: its wire holds the idle devices'
polls too, so its ratio across device counts is mostly the count."""


def _compares_as_total(key: str, same_asked: bool) -> bool:
    return same_asked and (key in _ASKED_TOTALS or key.startswith("dropouts."))


def _per_device(
    quantities: list[Quantity], runs: list[RunData], same_asked: bool = False
) -> list[Quantity]:
    """Where the runs' device counts differ: totals lose their ratio across counts, and
    the main ones gain a `per device` row that has one; unless every run asks the same
    clients a round (`same_asked`: fedsim.record.compare_totals), where the totals only
    the asked clients make (model bytes, dropouts) compare as they are."""
    counts = [device_count(r) for r in runs]
    if len(set(counts)) < 2:
        return quantities
    out = []
    for q in quantities:
        if _compares_as_total(q.key, same_asked):
            out.append(q)
            continue
        if q.key in _TOTALS or q.key in _IDLE_SCALED or q.key.startswith("dropouts."):
            q = replace(q, devices=counts)
        out.append(q)
        if q.key in _PER_DEVICE:
            values = [
                v / n if _is_num(v) and isinstance(n, int) and n > 0 else None
                for v, n in zip(q.values, counts, strict=True)
            ]
            out.append(Quantity(f"{q.key}_per_device", "  per device", values, q.better))
    return out


def _sum(s: Summary, a: str, b: str) -> int | None:
    x, y = s.get(a), s.get(b)
    return None if x is None or y is None else x + y


def compare_runs(paths: Sequence[str | Path | RunData]) -> CompareTable:
    """Build the comparison of `paths` (run folders or loaded runs); the first is the baseline."""
    if not paths:
        raise FedsimError("no run folders given")
    runs, void = _readable(paths)
    settings = [run_settings(r.config, r.summary) for r in runs]
    folders = folder_labels(runs)  # warnings name folders: what to go and look at
    labels = labels_for(
        settings, folders, override_keys([r.summary.get("overrides") for r in runs])
    )
    base = runs[0].summary
    warnings, mismatched = [], [False]
    for label, run in zip(folders[1:], runs[1:], strict=True):
        diffs = [
            f"{key} {run.summary.get(key)!r} vs {base.get(key)!r}"
            for key in ("task", "metric_name")
            if run.summary.get(key) != base.get(key)
        ]
        mismatched.append(bool(diffs))
        if diffs:
            warnings.append(
                f"`{label}` is not comparable with baseline `{folders[0]}`: {'; '.join(diffs)}"
            )
    code_warning = _code_warning(runs, folders)
    if code_warning:
        warnings.append(code_warning)
    caveat = model_caveat(runs, folders, settings)  # fidelity or transport differs
    if caveat:
        warnings.append(caveat)
    rule = dropout_rule_caveat(runs, folders)  # async dropouts before dropouts_after_rounds
    if rule:
        warnings.append(rule)
    personalized = metric_caveat(runs, folders)  # a personalised metric beside a plain one
    if personalized:
        warnings.append(personalized)
    warnings += network_warnings(runs, folders, _same_asked(runs, settings))
    seeds = seed_warning(settings, folders)
    if seeds:
        warnings.append(seeds)
    ended = end_warning(runs, folders)
    if ended:
        warnings.append(ended)
    rounds = rounds_warning(runs, folders)  # after an early end, which explains it
    if rounds:
        warnings.append(rounds)
    warnings += missing_curves(runs, folders)
    notes = (
        [definition(run_transport(r.config) for r in runs)] if any(r.links for r in runs) else []
    )
    return CompareTable(
        runs, labels, _quantities(runs, settings), warnings, mismatched, folders,
        void + audit_warnings(runs, folders), notes,
    )  # fmt: skip


def _readable(paths: Sequence[str | Path | RunData]) -> tuple[list[RunData], list[str]]:
    """The runs that can be read, and a line for each left out because it cannot be and
    its audit is void (a file edited since: `VoidRunError`); the others compare on."""
    runs, void = [], []
    for p in paths:
        if isinstance(p, RunData):
            runs.append(p)
            continue
        try:
            runs.append(load_run(p))
        except VoidRunError as exc:
            void.append(f"`{Path(p).name}` ✗ AUDIT VOID, left out of the comparison: {exc.detail}")
    if not runs:
        raise FedsimError(f"no run can be read: {void[0]}")
    if void and not isinstance(paths[0], RunData) and runs[0].path != Path(paths[0]):
        void.append(f"the baseline is `{runs[0].name}`, the first run that can be read")
    return runs, void


def no_curve_reason(run: RunData) -> str | None:
    """Why a run has no metric curve (its rounds.csv missing or empty), None if it has one."""
    if run.rounds:
        return None
    return "no rounds.csv" if not (run.path / "rounds.csv").is_file() else "rounds.csv is empty"


def missing_curves(runs: list[RunData], labels: list[str]) -> list[str]:
    """One line naming the runs with no per-round table: no curve in the plots, no
    up/down split to target; summary.json's figures are still shown."""
    missing = [(label, why) for label, r in zip(labels, runs, strict=True)
               if (why := no_curve_reason(r))]  # fmt: skip
    if not missing:
        return []
    shown = "; ".join(f"`{label}` ({why})" for label, why in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return [
        f"{len(missing)} of {len(runs)} runs have no per-round table, so no curve in the "
        f"plots and no up/down split to target (summary.json's totals are shown): "
        f"{shown}{more}"
    ]


def _code_warning(runs: list[RunData], labels: list[str]) -> str | None:
    """One line if the runs recorded different code fingerprints."""
    groups: dict[str, list[str]] = {}
    for label, run in zip(labels, runs, strict=True):
        code = run.summary.code
        groups.setdefault(code, []).append(label)
    if len(groups) < 2:
        return None

    def who(names: list[str]) -> str:
        shown = ", ".join(f"`{n}`" for n in names[:3])
        return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    parts = [f"{code} ({who(names)})" for code, names in groups.items()]
    return f"runs were made by different code (fingerprint {'; '.join(parts)})"


def write_compare(table: CompareTable, out_dir: str | Path) -> tuple[Path, Path]:
    """Write compare.md and compare.csv into out_dir; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, csv_path = out / "compare.md", out / "compare.csv"
    md.write_text(table.to_markdown(), encoding="utf-8")
    csv_path.write_text(table.to_csv(), encoding="utf-8")
    return md, csv_path


RUNS_PER_TABLE = 4
"""Runs per terminal table (the baseline and three others): 100 columns stay readable;
more runs are printed as several tables, each starting with the baseline."""


def rich_table(table: CompareTable, runs: Sequence[int] | None = None) -> Any:
    """A rich Table of `runs` (indices, the baseline first; default all); deltas coloured
    green when better, red when worse."""
    from rich.table import Table

    shown = list(range(len(table.labels))) if runs is None else list(runs)
    part = ""
    if len(shown) < len(table.labels):
        part = f" (runs {shown[1] + 1}-{shown[-1] + 1} of {len(table.labels)})"
    t = Table(
        title="Run comparison" + part,
        caption=f"baseline: {table.labels[0]}; under each value: ratio and change against it",
    )
    # config rows name full key paths (nodes.flaky.connectivity.mean_down): folded, so the
    # run columns keep room for their values
    t.add_column("quantity", style="bold", width=22, overflow="fold")
    for i in shown:
        run = table.runs[i]
        label, bad = table.labels[i], table.mismatched[i] or not run.audit.passed
        bad = bad or bool(end_mark(run))
        mark = (audit_mark(run) + end_mark(run)).strip()
        t.add_column(
            ("⚠ " if table.mismatched[i] else "")
            + label.replace(", ", "\n")
            + (f"\n{mark}" if mark else "")
            + ("\n(baseline)" if i == 0 else ""),
            justify="right",
            header_style="bold red" if bad else "bold",
            overflow="fold",
        )
    for q in table.quantities:
        cells = []
        for i in shown:
            text = table.short_cell(q, i)
            if q.key == "overrides":
                text = text.replace("; ", "\n")
            diff, _ = q.delta(i)
            if i and diff and q.better:
                good = (diff > 0) == (q.better == "higher")
                text = f"[{'green' if good else 'red'}]{text}[/]"
            cells.append(text)
        t.add_row(q.label, *cells)
    return t


def print_table(table: CompareTable, console: Any = None) -> None:
    """Print warnings (red) and the table to the terminal; audit warnings on stderr, so
    a script that keeps only the table still hears of them."""
    import sys

    from rich.console import Console

    console = console or Console(width=min(Console().width, 100))
    for w in table.audit_warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    for w in table.warnings:
        console.print(f"[bold red]WARNING:[/] {w}", markup=True, highlight=False)
    others = list(range(1, len(table.labels)))
    step = RUNS_PER_TABLE - 1
    for start in range(0, max(len(others), 1), step):
        console.print(rich_table(table, [0, *others[start : start + step]]))
    for note in table.notes:
        console.print(note, style="dim", markup=False, highlight=False)


def _finished(folder: Path) -> bool:
    return (folder / "summary.json").is_file()


def expand_run_args(args: Sequence[str | Path]) -> list[Path]:
    """Run folders from the command line: a run folder as is; a glob (quoted, or a shell
    that left it unexpanded) as its matching finished runs, sorted; a folder of runs (a
    sweep folder, its `runs/`, a results folder) as every finished run inside, sorted.
    Each run once, in the order given."""
    import glob

    out: list[Path] = []
    for arg in args:
        text = str(arg)
        if any(c in text for c in "*?["):
            found = [Path(p) for p in sorted(glob.glob(text)) if _finished(Path(p))]
            if not found:
                raise FedsimError(f"{text}: matches no finished run folder")
        elif _finished(Path(text)) or not Path(text).is_dir():
            found = [Path(text)]  # load_run names what is wrong with it
        else:
            root = Path(text) / "runs" if (Path(text) / "runs").is_dir() else Path(text)
            found = sorted(p for p in root.iterdir() if p.is_dir() and _finished(p))
            if not found:
                raise FedsimError(f"{text}: no finished run folders inside")
        out += [p for p in found if p not in out]
    return out


def default_compare_out(first_arg: str | Path, first_run: Path) -> Path:
    """A sweep or results folder given: its compare/; else beside the first run."""
    given = Path(first_arg)
    if given.is_dir() and not _finished(given):
        return given / "compare"
    return first_run.parent / "compare"
