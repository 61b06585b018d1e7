"""Aggregate a sweep over seeds: per grid point, mean and 95% confidence interval.

Why a t-interval: sweeps use a handful of seeds, where the normal approximation is too
optimistic. `mean ± t(0.975, n-1) · s / √n`; with one seed there is no interval (blank).
Time- and bytes-to-target are averaged over the seeds that reached the target, and the
count that did is reported next to them, since "faster, but only 1 of 3 got there" matters.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedsim.record.runs import RunData, load_run

if TYPE_CHECKING:
    from fedsim.sweep import SweepRun, SweepSpec

__all__ = ["QUANTITIES", "PointStats", "aggregate", "mean_ci", "write_sweep_outputs"]

QUANTITIES = {
    "final_metric": "final metric",
    "best_metric": "best metric",
    "time_to_target_s": "time to target",
    "bytes_to_target": "bytes to target",
    "bytes_total": "payload bytes, up+down",
    "wire_bytes_total": "wire bytes, up+down",
    "energy_j_mean": "energy per device",
}


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
    if key == "bytes_total":
        return float(s.bytes_up + s.bytes_down)
    if key == "wire_bytes_total":
        return float(s.wire_bytes_up + s.wire_bytes_down)
    v = getattr(s, key)
    return None if v is None else float(v)


@dataclass(frozen=True)
class PointStats:
    """One grid point: its values, the seeds that finished, and stats per quantity."""

    label: str
    point: tuple[tuple[str, Any], ...]
    runs: list[RunData]
    seeds: list[int]
    stats: dict[str, tuple[int, float | None, float | None, float | None]]


def aggregate(runs: list[SweepRun], runs_root: Path) -> list[PointStats]:
    """Group finished runs by grid point (sweep order) and compute the statistics."""
    groups: dict[str, list[tuple[SweepRun, RunData]]] = {}
    for r in runs:
        folder = runs_root / r.run_name
        if (folder / "summary.json").is_file():
            groups.setdefault(r.point_label, []).append((r, load_run(folder)))
        else:
            groups.setdefault(r.point_label, [])
    points = []
    seen: set[str] = set()
    for r in runs:
        if r.point_label in seen:
            continue
        seen.add(r.point_label)
        members = groups[r.point_label]
        stats = {}
        for key in QUANTITIES:
            vals = [v for _, d in members if (v := _value(d, key)) is not None]
            stats[key] = (len(vals), *mean_ci(vals))
        points.append(
            PointStats(
                r.point_label, r.point, [d for _, d in members], [s.seed for s, _ in members], stats
            )
        )
    return points


def _num(v: float | None) -> Any:
    return "" if v is None else v


def aggregate_csv(points: list[PointStats], keys: list[str]) -> str:
    """One row per grid point: grid values, n, and mean/low/high/n per quantity."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = [*keys, "point", "runs", "seeds"]
    for q in QUANTITIES:
        header += [f"{q}_mean", f"{q}_ci95_low", f"{q}_ci95_high", f"{q}_n"]
    w.writerow(header)
    for p in points:
        values = dict(p.point)
        row: list[Any] = [values.get(k, "") for k in keys]
        row += [p.label, len(p.runs), " ".join(map(str, p.seeds))]
        for q in QUANTITIES:
            n, mean, lo, hi = p.stats[q]
            row += [_num(mean), _num(lo), _num(hi), n]
        w.writerow(row)
    return buf.getvalue()


def _fmt(key: str, stat: tuple[int, float | None, float | None, float | None], n_runs: int) -> str:
    from fedsim.record.compare import format_value

    n, mean, lo, hi = stat
    if mean is None:
        return "—"
    k = key.removesuffix("_total").replace("energy_j_mean", "energy")
    text = format_value(k if "bytes" in key or key.endswith("_s") else key, mean)
    if lo is not None and hi is not None:
        text += f" ± {format_value(k if 'bytes' in key else key, (hi - lo) / 2)}"
    if key.endswith("to_target") or key == "time_to_target_s":
        text += f" ({n}/{n_runs} reached)"
    return text


def aggregate_markdown(spec: SweepSpec, points: list[PointStats]) -> str:
    """Markdown table, mean ± 95% CI half-width over seeds."""
    lines = [
        f"# Sweep {spec.name}",
        "",
        f"Base: `{spec.base}`; seeds: {', '.join(map(str, spec.seeds))}. "
        "Cells: mean ± 95% t-interval half-width over seeds.",
        "",
        "| grid point | runs | " + " | ".join(QUANTITIES.values()) + " |",
        "|---|---:|" + "---:|" * len(QUANTITIES),
    ]
    for p in points:
        cells = [_fmt(q, p.stats[q], len(p.runs)) for q in QUANTITIES]
        lines.append(f"| {p.label} | {len(p.runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _errorbar_figures(points: list[PointStats]) -> list[tuple[str, Any]]:
    import matplotlib
    from matplotlib.figure import Figure

    from fedsim.record.plots import OKABE_ITO

    figs = []
    labels = [p.label for p in points]
    with matplotlib.rc_context({"svg.hashsalt": "fedsim", "font.size": 9}):
        for key in ("final_metric", "time_to_target_s", "bytes_to_target", "bytes_total"):
            fig = Figure(figsize=(7.0, 1.8 + 0.35 * len(points)), layout="constrained")
            ax = fig.add_subplot()
            scale, unit = (1e6, "MB") if "bytes" in key else (1.0, "s")
            if key == "final_metric":
                scale, unit = 1.0, ""
            for y, p in enumerate(points):
                _, mean, lo, hi = p.stats[key]
                if mean is None:
                    continue
                err = (
                    [[0.0], [0.0]] if lo is None else [[(mean - lo) / scale], [(hi - mean) / scale]]
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
            ax.set(
                xlabel=f"{QUANTITIES[key].split(' (')[0]}{f' ({unit})' if unit else ''}",
                title=f"{QUANTITIES[key]} per grid point: mean, 95% CI, seeds (|)",
            )
            figs.append((f"sweep_{key}", fig))
    return figs


def write_sweep_outputs(
    spec: SweepSpec, runs: list[SweepRun], runs_root: Path, sweep_dir: Path
) -> list[Path]:
    """aggregate.csv/.md, runs.csv, plots (PNG+SVG) and report.html in sweep_dir."""
    from fedsim.record.compare import compare_runs, write_compare
    from fedsim.record.plots import comparison_figures, save_figure
    from fedsim.record.report import compare_table_html, figures_html, html_page, html_table

    points = aggregate(runs, runs_root)
    keys = list(spec.grid)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    out = [sweep_dir / "aggregate.csv", sweep_dir / "aggregate.md", sweep_dir / "runs.csv"]
    out[0].write_text(aggregate_csv(points, keys), encoding="utf-8")
    out[1].write_text(aggregate_markdown(spec, points), encoding="utf-8")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*keys, "seed", "run_name", "done"])
    for r in runs:
        done = (runs_root / r.run_name / "summary.json").is_file()
        w.writerow([*(v for _, v in r.point), r.seed, r.run_name, "yes" if done else "no"])
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
    body = [
        f"<h1>Sweep {escape(spec.name)}</h1>",
        f'<p class="sub">base {escape(str(spec.base))} · seeds '
        f"{escape(', '.join(map(str, spec.seeds)))} · mean ± 95% t-interval half-width</p>",
        html_table(["grid point", "runs", *QUANTITIES.values()], table_rows, "aggregate"),
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
