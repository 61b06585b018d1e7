"""Aggregate a sweep over seeds: per grid point, a centre and 95% confidence interval, and
each point against the reference point.

Why t-intervals: sweeps use a handful of seeds, where the normal approximation is too
optimistic; with one seed there is no interval (blank). Positive quantities (bytes, times,
energy) are summarised on the log scale (geometric mean, an interval that stays positive,
effects as ratios) and bounded ones (accuracy, shares) on the linear scale, clipped to their
range (fedsim.record.sweep_stats). Time- and bytes-to-target are over the seeds that
reached the target, and the count that did is reported next to them, since "faster, but
only 1 of 3 got there" matters; their ratios against the reference carry both counts, and
say so when the two points' reaching seeds differ (then it is not a paired comparison).

Effects are paired by seed where both points have values for the same seeds (every point of
a sweep runs the same seeds, so seed s differs only in the swept keys): the shared
seed-to-seed spread cancels. Welch's unpaired interval is the fallback where the seeds differ;
each effect says which test it used (fedsim.record.sweep_stats).

A run whose audit failed (its audit.json lists violations) is left out, as a failed run
is, and counted in a warning; runs never audited (no audit.json) are kept and counted.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedsim.record.audit_status import VOID, AuditStatus
from fedsim.record.runs import RunData, VoidRunError, load_run
from fedsim.record.sweep_stats import PAIRED, WELCH, Effect, effect_by_seed, interval, seeds_needed

if TYPE_CHECKING:
    from fedsim.sweep import SweepRun, SweepSpec

__all__ = [
    "QUANTITIES",
    "SCALES",
    "PointStats",
    "aggregate",
    "audit_warnings",
    "mean_ci",
    "seed_warnings",
    "write_sweep_outputs",
]

QUANTITIES = {
    "final_metric": "final metric",
    "best_metric": "best metric",
    "time_to_target_s": "time to target",
    "bytes_to_target": "bytes to target",
    "wire_bytes_to_target": "wire bytes to target",
    "energy_to_target_j": "energy to target",
    "bytes_total": "payload bytes, up+down, whole run",
    "wire_bytes_total": "wire bytes, up+down, whole run",
    "model_bytes_total": "model payload",
    "overhead_bytes_total": "overhead (wire - model)",
    "wire_bytes_per_update": "wire per update",
    "overhead_share": "not model (share)",
    "energy_j_mean": "energy per device",
}

SCALES = {
    key: ("linear" if key in ("final_metric", "best_metric", "overhead_share") else "log")
    for key in QUANTITIES
}
"""How each quantity is summarised (fedsim.record.sweep_stats): `log` for positive,
multiplicative ones (geometric mean, ratios), `linear` for bounded ones."""

_BOUNDED_METRICS = {"accuracy": (0.0, 1.0)}
"""Metrics with a range their intervals are clipped to."""

WARN_FOR = ("final_metric", "time_to_target_s", "bytes_to_target", "wire_bytes_total",
            "energy_j_mean")  # fmt: skip
"""The quantities whose unresolved effects raise a seed warning."""


def mean_ci(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high) of the 95% t-interval; (None,)*3 if empty, no interval if n = 1."""
    n = len(values)
    if n == 0:
        return None, None, None
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None, None
    from scipy.stats import t

    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def _value(run: RunData, key: str) -> float | None:
    s = run.summary
    # Whole run (rounds + after them), as the model and overhead bytes (the ledger's run
    # rows) beside them: on a run stopped between rounds the rounds alone say too little.
    if key == "bytes_total":
        return float(
            s.bytes_up + s.bytes_down + s.bytes_after_rounds_up + s.bytes_after_rounds_down
        )
    if key == "wire_bytes_total":
        return float(
            s.wire_bytes_up
            + s.wire_bytes_down
            + s.wire_bytes_after_rounds_up
            + s.wire_bytes_after_rounds_down
        )
    if key in ("model_bytes_total", "overhead_bytes_total"):
        return _ledger_value(s, key)
    v = s.get(key)
    return None if v is None else float(v)


def _ledger_value(s: Any, key: str) -> float | None:
    """The first hops' model bytes, or their wire bytes that are not model (protocol,
    TCP/IP, retransmissions), both ways, whole run (summary.json `ledger`)."""
    totals = s.get("ledger")
    if not totals:
        return None
    both = ("up", "down")
    model = sum(totals.get(f"model_{d}", 0) for d in both)
    if key == "model_bytes_total":
        return float(model)
    wire = sum(
        totals.get(f"{c}_{d}", 0) for c in ("data", "header", "control", "retx") for d in both
    )
    return float(wire - model)


def _bounds(key: str, runs: list[RunData]) -> tuple[float, float] | None:
    if key == "overhead_share":
        return (0.0, 1.0)
    if key in ("final_metric", "best_metric") and runs:
        return _BOUNDED_METRICS.get(runs[0].metric_name)
    return None


@dataclass(frozen=True)
class UnreadableRun:
    """A finished run left out because a file of it cannot be read and its audit is
    void (edited since: fedsim.record.runs.VoidRunError): its name and why."""

    name: str
    audit: AuditStatus


@dataclass(frozen=True)
class PointStats:
    """One grid point: its values, the seeds that finished, and stats per quantity."""

    label: str
    point: tuple[tuple[str, Any], ...]
    runs: list[RunData]
    seeds: list[int]
    stats: dict[str, tuple[int, float | None, float | None, float | None]]
    """(n, centre, low, high) per quantity: the centre is the geometric mean on the log
    scale (`SCALES`), the mean on the linear one."""
    effects: dict[str, Effect | None] = field(default_factory=dict)
    """Against the reference point (None: no values, or this is the reference)."""
    reference: bool = False
    audit_failed: tuple[RunData | UnreadableRun, ...] = ()
    """Finished runs left out because their audit failed (or is void and they cannot be
    read)."""

    def reached(self, key: str) -> list[int]:
        """The seeds whose run has a value of `key` (for a to-target quantity: reached)."""
        return [s for s, d in zip(self.seeds, self.runs, strict=True) if _value(d, key) is not None]


def aggregate(
    runs: list[SweepRun], runs_root: Path, reference: str | None = None
) -> list[PointStats]:
    """Group finished runs by grid point (sweep order), compute the statistics and each
    point's effects against `reference` (a point label; default the first point)."""
    groups: dict[str, list[tuple[SweepRun, RunData]]] = {}
    failed: dict[str, list[RunData | UnreadableRun]] = {}
    for r in runs:
        folder = runs_root / r.run_name
        groups.setdefault(r.point_label, [])
        if (folder / "summary.json").is_file():
            try:
                data = load_run(folder)
            except VoidRunError as exc:  # edited since its audit: left out, as failed
                void = AuditStatus(VOID, violations=(f"AUDIT VOID: {exc.detail}",))
                failed.setdefault(r.point_label, []).append(UnreadableRun(folder.name, void))
                continue
            if data.audit.failed:  # its numbers are wrong: not a finished grid point
                failed.setdefault(r.point_label, []).append(data)
            else:
                groups[r.point_label].append((r, data))
    points = []
    seen: set[str] = set()
    for r in runs:
        if r.point_label in seen:
            continue
        seen.add(r.point_label)
        members = groups[r.point_label]
        datas = [d for _, d in members]
        stats = {}
        for key in QUANTITIES:
            vals = [v for d in datas if (v := _value(d, key)) is not None]
            stats[key] = interval(vals, SCALES[key], _bounds(key, datas))
        seeds = [s.seed for s, _ in members]
        bad = tuple(failed.get(r.point_label, []))
        points.append(PointStats(r.point_label, r.point, datas, seeds, stats, audit_failed=bad))
    return _with_effects(points, reference)


def _with_effects(points: list[PointStats], reference: str | None) -> list[PointStats]:
    if not points:
        return points
    ref = next((p for p in points if p.label == reference), points[0])
    out = []
    for p in points:
        effects: dict[str, Effect | None] = {}
        for key in QUANTITIES:
            mine, base = _by_seed(p, key), _by_seed(ref, key)
            effects[key] = None if p is ref else effect_by_seed(mine, base, SCALES[key])
        out.append(
            PointStats(
                p.label, p.point, p.runs, p.seeds, p.stats, effects, p is ref, p.audit_failed
            )
        )
    return out


def _by_seed(p: PointStats, key: str) -> dict[int, float]:
    """Each seed's value of `key` at point `p` (seeds without one left out)."""
    out = {}
    for seed, run in zip(p.seeds, p.runs, strict=True):
        if (v := _value(run, key)) is not None:
            out[seed] = v
    return out


def which_test(p: PointStats) -> str:
    """Which test the point's effects used: `paired, 3 seeds`; the quantities that fell
    back to Welch (their seeds differ from the reference's) named."""
    if p.reference:
        return "reference"
    found = [(key, e) for key, e in p.effects.items() if e is not None]
    welch = [QUANTITIES[key] for key, e in found if e.test == WELCH]
    paired = [e.n for _, e in found if e.test == PAIRED]
    if not found:
        return "—"
    if not paired:
        return "Welch (unpaired: not the same seeds)"
    text = f"paired, {max(paired)} seed{'s' if max(paired) != 1 else ''}"
    return text + (f"; Welch (unpaired): {', '.join(welch)}" if welch else "")


def seed_warnings(points: list[PointStats]) -> list[str]:
    """One line per quantity whose differences from the reference lie inside their 95 %
    intervals, with the seeds per point that would resolve the largest of them; one per
    quantity whose differences have no interval at all (a point with a single value)."""
    ref = next((p for p in points if p.reference), None)
    if ref is None or len(points) < 2:
        return []
    if max((len(p.runs) for p in points), default=0) < 2:
        return ["one seed per grid point: no intervals; run at least 3 seeds per point"]
    lines = []
    for key in WARN_FOR:
        found = [(p, e) for p in points if (e := p.effects.get(key)) is not None]
        total = len(found)
        noisy = [(p, e) for p, e in found if e.half_width is not None and not e.resolved]
        bare = [(p, e) for p, e in found if e.half_width is None]
        if noisy:
            p, e = max(noisy, key=lambda pe: pe[1].size)
            lines.append(_noise_line(key, p, e, ref, len(noisy), total))
        if bare:
            p, e = max(bare, key=lambda pe: pe[1].size)
            reach = reach_note(p, ref, key)
            lines.append(
                f"{QUANTITIES[key]}: {len(bare)} of {total} differences from the reference "
                f"({ref.label}) have a point with a single value (n = 1: no interval); "
                f"largest: {p.label}, {e.text()}{f' ({reach})' if reach else ''}"
            )
    return lines


def _noise_line(key: str, p: PointStats, e: Effect, ref: PointStats, k: int, total: int) -> str:
    need = seeds_needed(e)
    hint = ""
    if need is not None and need >= 200:
        hint = "; it is small against the noise (200+ seeds per point to resolve it)"
    elif need is not None:
        hint = f"; about {need} seeds per point would resolve the largest"
    reach = reach_note(p, ref, key)
    return (
        f"{QUANTITIES[key]}: {k} of {total} differences from the reference "
        f"({ref.label}) lie inside their 95 % intervals with {e.n} seeds, {_test_name(e)} "
        "(largest: "
        f"{p.label}, {e.text()}{f'; {reach}' if reach else ''}){hint}"
    )


def _test_name(e: Effect) -> str:
    return "paired" if e.test == PAIRED else "unpaired (Welch)"


def reach_note(p: PointStats, ref: PointStats, key: str) -> str:
    """For a to-target quantity: how many seeds reached the target at `p` and at the
    reference, and whether they are different seeds (then the ratio is not paired)."""
    if "to_target" not in key:
        return ""
    mine, base = p.reached(key), ref.reached(key)
    text = f"{len(mine)}/{len(p.runs)} vs {len(base)}/{len(ref.runs)} reached"
    if set(mine) != set(base):
        text += "; over different seeds: not a paired comparison"
    return text


def audit_warnings(points: list[PointStats]) -> list[str]:
    """How many finished runs were left out because their audit failed (the first named
    with its first violation), and how many were kept though never audited."""
    lines = []
    failed = [(p, d) for p in points for d in p.audit_failed]
    kept = sum(len(p.runs) for p in points)
    if failed:
        first, run = failed[0]
        lines.append(
            f"{len(failed)} of {len(failed) + kept} finished runs failed their audit and are "
            f"left out of the aggregate; e.g. {run.name} ({first.label}): "
            f"{run.audit.violations[0]} (see its audit.json)"
        )
    unaudited = [d for p in points for d in p.runs if not d.audit.passed]
    if unaudited:
        lines.append(
            f"{len(unaudited)} of {kept} aggregated runs were not audited "
            f"({unaudited[0].name}: {unaudited[0].audit.note}): their numbers were never checked"
        )
    return lines


def early_end_warnings(points: list[PointStats]) -> list[str]:
    """One line if any run ended before its job was done (summary.json `end_reason`):
    how many, why, and the first such run, so an unattended sweep says so."""
    early = [
        (p, d) for p in points for d in p.runs if d.summary.end_reason not in ("rounds", "target")
    ]
    if not early:
        return []
    reasons = Counter(d.summary.end_reason for _p, d in early)
    why = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
    total = sum(len(p.runs) for p in points)
    first, run = early[0]
    return [
        f"{len(early)} of {total} runs ended early ({why}); e.g. {run.name} ({first.label}): "
        f"{run.summary.end_note}"
    ]


def _num(v: float | None) -> Any:
    return "" if v is None else v


def aggregate_csv(points: list[PointStats], keys: list[str]) -> str:
    """One row per grid point: grid values, n, and mean/low/high/n per quantity."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = [*keys, "point", "runs", "seeds", "reference"]
    for q in QUANTITIES:
        header += [f"{q}_mean", f"{q}_ci95_low", f"{q}_ci95_high", f"{q}_n", f"{q}_scale"]
        header += [f"{q}_vs_ref", f"{q}_vs_ref_low", f"{q}_vs_ref_high", f"{q}_vs_ref_test"]
    w.writerow(header)
    for p in points:
        values = dict(p.point)
        row: list[Any] = [values.get(k, "") for k in keys]
        row += [p.label, len(p.runs), " ".join(map(str, p.seeds)), "yes" if p.reference else ""]
        for q in QUANTITIES:
            n, mean, lo, hi = p.stats[q]
            e = p.effects.get(q)
            row += [_num(mean), _num(lo), _num(hi), n, SCALES[q]]
            row += ["", "", "", ""] if e is None else [e.value, _num(e.low), _num(e.high), e.test]
        w.writerow(row)
    return buf.getvalue()


def _fmt(key: str, stat: tuple[int, float | None, float | None, float | None], n_runs: int) -> str:
    from fedsim.record.compare import format_value

    n, mean, lo, hi = stat
    if mean is None:
        # no seed reached the target: a bare dash would read as "not measured"
        return f"{n}/{n_runs} reached" if "to_target" in key else "—"
    k = _unit_key(key)
    if key == "overhead_share":
        text = f"{100 * mean:.1f}%"
        if lo is not None and hi is not None:
            text += f" [{100 * lo:.1f}, {100 * hi:.1f}]"
        return text
    text = format_value(k, mean)
    if lo is not None and hi is not None:
        text += f" [{format_value(k, lo)}, {format_value(k, hi)}]"
    if "to_target" in key:
        text += f" ({n}/{n_runs} reached)"
    return text


def _unit_key(key: str) -> str:
    """A key `format_value` reads the unit from."""
    if key == "overhead_share":
        return "share"
    if key.startswith("energy"):
        return "energy_j"
    return key.removesuffix("_total")


def _effect_cell(p: PointStats, key: str, ref: PointStats | None) -> str:
    if p.reference:
        return "reference"
    e = p.effects.get(key)
    if e is None:
        if ref is None or "to_target" not in key:
            return "—"
        mine, base = len(p.reached(key)), len(ref.reached(key))
        return f"— ({mine}/{len(p.runs)} vs {base}/{len(ref.runs)} reached)"
    marks = [] if e.resolved or e.half_width is None else ["within noise"]
    if e.test == WELCH:
        marks.append("Welch")
    if e.half_width is None:
        marks.append("n = 1: no interval")
    if ref is not None and (reach := reach_note(p, ref, key)):
        marks.append(reach)
    mark = f" ({'; '.join(marks)})" if marks else ""
    if e.kind == "difference" and key == "overhead_share":
        bounds = (
            "" if e.low is None or e.high is None else f" [{100 * e.low:+.1f}, {100 * e.high:+.1f}]"
        )
        return f"{100 * e.value:+.1f} pt{bounds}" + mark
    return e.text() + mark


CELLS_NOTE = (
    "Cells: centre [95% interval] over seeds; bytes, times and energy: geometric mean and a "
    "log-scale t-interval (always positive), metric and shares: mean and a t-interval "
    "clipped to their range."
)
EFFECTS_NOTE = (
    "Against the reference point: bytes, times and energy as a ratio (the geometric mean of "
    "the per-seed ratios) [95% interval], metric and shares as a difference of means. Points "
    "share their seeds, so the interval is paired: a t-interval of the per-seed differences "
    "(of logs for a ratio); where a point's seeds with a value differ from the reference's, "
    "it falls back to Welch's unpaired interval and the cell says `Welch` (column `test`). "
    "`within noise`: the interval holds no change. To-target ratios are over the seeds that "
    "reached the target at each point (`1/3 vs 2/3 reached`: this point's count, then the "
    "reference's); where those seeds differ, the ratio compares different seeds and is not a "
    "paired comparison."
)


def aggregate_markdown(spec: SweepSpec, points: list[PointStats]) -> str:
    """Markdown: the points' intervals, their effects against the reference, warnings."""
    ref_point = next((p for p in points if p.reference), None)
    ref = "—" if ref_point is None else ref_point.label
    lines = [
        f"# Sweep {spec.name}",
        "",
        f"Base: `{spec.base}`; seeds: {', '.join(map(str, spec.seeds))}; reference point: "
        f"`{ref}`. {CELLS_NOTE}",
        "",
        "| grid point | runs | " + " | ".join(QUANTITIES.values()) + " |",
        "|---|---:|" + "---:|" * len(QUANTITIES),
    ]
    for p in points:
        cells = [_fmt(q, p.stats[q], len(p.runs)) for q in QUANTITIES]
        lines.append(f"| {p.label} | {len(p.runs)} | " + " | ".join(cells) + " |")
    lines += ["", "## Against the reference point", "", EFFECTS_NOTE, ""]
    lines += ["| grid point | test | " + " | ".join(QUANTITIES.values()) + " |"]
    lines += ["|---|---|" + "---:|" * len(QUANTITIES)]
    for p in points:
        cells = [_effect_cell(p, q, ref_point) for q in QUANTITIES]
        lines.append(f"| {p.label} | {which_test(p)} | " + " | ".join(cells) + " |")
    audit = audit_warnings(points)
    if audit:
        lines += ["", "## Audit", ""] + [f"- **{w}**" for w in audit]
    warnings = seed_warnings(points)
    if warnings:
        lines += ["", "## Too few seeds", ""] + [f"- {w}" for w in warnings]
    return "\n".join(lines) + "\n"


def _errorbar_figures(points: list[PointStats]) -> list[tuple[str, Any]]:
    import matplotlib
    from matplotlib.figure import Figure

    from fedsim.record.plots import OKABE_ITO

    figs = []
    labels = [p.label for p in points]
    with matplotlib.rc_context({"svg.hashsalt": "fedsim", "font.size": 9}):
        for key in ("final_metric", "time_to_target_s", "bytes_to_target", "bytes_total",
                    "wire_bytes_total"):  # fmt: skip
            fig = Figure(figsize=(7.0, 1.8 + 0.35 * len(points)), layout="constrained")
            ax = fig.add_subplot()
            scale, unit = (1e6, "MB") if "bytes" in key else (1.0, "s")
            if key == "final_metric":
                scale, unit = 1.0, ""
            to_target = "to_target" in key
            if to_target:
                label_at = ax.get_yaxis_transform()  # x in axes fraction, y in data
            for y, p in enumerate(points):
                n, mean, lo, hi = p.stats[key]
                if to_target:
                    # how many seeds the point stands for: 2 of 3 looks as fast as 3 of 3
                    short = n < len(p.runs)
                    ax.text(
                        0.99,
                        y,
                        f"{n}/{len(p.runs)} reached",
                        transform=label_at,
                        ha="right",
                        va="center",
                        fontsize=8,
                        color=OKABE_ITO["vermillion"] if short else OKABE_ITO["black"],
                        fontweight="bold" if short else "normal",
                    )
                if mean is None:
                    continue
                err = (
                    [[0.0], [0.0]]
                    if lo is None or hi is None
                    else [[max(0.0, mean - lo) / scale], [max(0.0, hi - mean) / scale]]
                )
                ax.errorbar(
                    [mean / scale], [y], xerr=err, fmt="o", capsize=4, color=OKABE_ITO["blue"]
                )
                for run in p.runs:
                    v = _value(run, key)
                    if v is not None:
                        ax.plot(
                            [v / scale], [y], marker="|", color=OKABE_ITO["grey"], linestyle="none"
                        )
            ax.set_yticks(range(len(points)), labels, fontsize=8)
            ax.set_ylim(len(points) - 0.5, -0.5)
            ax.grid(axis="x", alpha=0.3)
            if key != "final_metric":
                ax.set_xlim(left=0.0)  # bytes and times: never a negative axis
            if to_target:  # room on the right for the reach counts
                ax.set_xlim(right=ax.get_xlim()[1] * 1.3)
            centre = "mean" if SCALES[key] == "linear" else "geometric mean"
            ax.set_xlabel(f"{QUANTITIES[key]}{f' ({unit})' if unit else ''}")
            ax.set_title(
                f"{QUANTITIES[key]}: {centre}, 95% interval, seeds (|)"
                + (" — over the seeds that reached it" if to_target else ""),
                loc="left",
                fontsize=9,
                wrap=True,
            )
            figs.append((f"sweep_{key}", fig))
    return figs


def write_sweep_outputs(
    spec: SweepSpec,
    runs: list[SweepRun],
    runs_root: Path,
    sweep_dir: Path,
    warnings_out: list[str] | None = None,
) -> list[Path]:
    """aggregate.csv/.md, runs.csv, plots (PNG+SVG) and report.html in sweep_dir; the
    warnings (`audit_warnings`, `early_end_warnings`, `seed_warnings`) are also appended
    to `warnings_out`."""
    from fedsim.record.compare import compare_runs, write_compare
    from fedsim.record.plots import comparison_figures, save_figure
    from fedsim.record.report import compare_table_html, figures_html, html_page, html_table

    points = aggregate(runs, runs_root, getattr(spec, "reference", None))
    keys = list(spec.grid)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    out = [sweep_dir / "aggregate.csv", sweep_dir / "aggregate.md", sweep_dir / "runs.csv"]
    out[0].write_text(aggregate_csv(points, keys), encoding="utf-8")
    out[1].write_text(aggregate_markdown(spec, points), encoding="utf-8")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*keys, "seed", "run_name", "done"])
    failed = {d.name for p in points for d in p.audit_failed}
    for r in runs:
        done = "yes" if (runs_root / r.run_name / "summary.json").is_file() else "no"
        done = "audit failed" if r.run_name in failed else done
        w.writerow([*(v for _, v in r.point), r.seed, r.run_name, done])
    out[2].write_text(buf.getvalue(), encoding="utf-8")
    figs = _errorbar_figures(points)
    firsts = [p.runs[0] for p in points if p.runs]
    if firsts:
        figs += comparison_figures(firsts)
    for stem, fig in figs:
        out += save_figure(fig, sweep_dir / "plots", stem)
    table_rows = [
        [p.label, len(p.runs)] + [_fmt(q, p.stats[q], len(p.runs)) for q in QUANTITIES]
        for p in points
    ]
    ref_point = next((p for p in points if p.reference), None)
    effect_rows = [
        [p.label, which_test(p)] + [_effect_cell(p, q, ref_point) for q in QUANTITIES]
        for p in points
    ]
    warnings = audit_warnings(points) + early_end_warnings(points) + seed_warnings(points)
    if warnings_out is not None:
        warnings_out.extend(warnings)
    body = [
        f"<h1>Sweep {escape(spec.name)}</h1>",
        f'<p class="sub">base {escape(str(spec.base))} · seeds '
        f"{escape(', '.join(map(str, spec.seeds)))} · {escape(CELLS_NOTE)}</p>",
        *(f'<p class="warn">⚠ {escape(w)}</p>' for w in warnings),
        html_table(["grid point", "runs", *QUANTITIES.values()], table_rows, "aggregate"),
        "<h2>Against the reference point</h2>",
        f'<p class="sub">{escape(EFFECTS_NOTE)}</p>',
        html_table(["grid point", "test", *QUANTITIES.values()], effect_rows, "effects"),
        "<h2>Plots</h2>",
        figures_html(figs),
    ]
    all_runs = [d for p in points for d in p.runs]
    if all_runs:
        table = compare_runs(all_runs)
        write_compare(table, sweep_dir)
        out += [sweep_dir / "compare.md", sweep_dir / "compare.csv"]
        body += [
            "<h2>All runs</h2>",
            f"<details><summary>{len(all_runs)} runs</summary>"
            f"{compare_table_html(table)}</details>",
        ]
    report = sweep_dir / "report.html"
    report.write_text(html_page(f"fedsim sweep — {spec.name}", "\n".join(body)), encoding="utf-8")
    return [*out, report]
