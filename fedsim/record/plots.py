"""Figures for one run and for a comparison, as PNG (slides) and SVG (reports, zoomable).

Why these five per run: learning progress against the two costs that matter on an IoT
network (simulated time and bytes), who took part in each round and why others failed, what
each client was doing when (outages stand out in vermillion), and which link was the
bottleneck. Colours are Okabe-Ito, safe for the common colour-vision deficiencies.

Figures are built with the object API (`matplotlib.figure.Figure`), not pyplot: no global
state, nothing to close, no GUI backend is ever touched, and output is deterministic
(fixed SVG hash salt, no dates in metadata).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from fedsim.record.compare import human_seconds
from fedsim.record.runs import RunData, load_run, parse_causes, run_labels

__all__ = [
    "OKABE_ITO",
    "STATE_COLOURS",
    "comparison_figures",
    "figure_svg",
    "plot_comparison",
    "plot_run",
    "run_figures",
    "save_figure",
]

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
    "grey": "#999999",
}
_CYCLE = [
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "reddish_purple",
        "sky_blue",
        "black",
        "yellow",
    )
]
STATE_COLOURS = {
    "offline": OKABE_ITO["vermillion"],
    "idle": "#E3E3E3",
    "downloading": OKABE_ITO["sky_blue"],
    "training": OKABE_ITO["bluish_green"],
    "uploading": OKABE_ITO["blue"],
}
_CAUSE_COLOURS = [
    OKABE_ITO[k] for k in ("vermillion", "orange", "reddish_purple", "yellow", "black", "grey")
]
_RC = {
    "svg.hashsalt": "fedsim",
    "axes.prop_cycle": matplotlib.cycler(color=_CYCLE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
}
_SVG_META = {"Date": None, "Creator": None, "Format": None, "Type": None}
MAX_TIMELINE_CLIENTS = 80
MAX_LINKS = 60


def _time_scale(max_s: float) -> tuple[float, str]:
    if max_s >= 3 * 3600:
        return 3600.0, "h"
    if max_s >= 180:
        return 60.0, "min"
    return 1.0, "s"


def _byte_scale(max_b: float) -> tuple[float, str]:
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if max_b >= scale:
            return scale, unit
    return 1.0, "B"


def _metric_label(run: RunData) -> str:
    arrow = "higher is better" if run.higher_is_better else "lower is better"
    return f"{run.metric_name} ({arrow})"


def _new(width: float = 7.0, height: float = 4.0) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _cum(values: list[Any]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v or 0
        out.append(total)
    return out


def _target(ax: Any, run: RunData) -> None:
    target = run.summary.get("target_metric")
    if target is not None:
        ax.axhline(
            target, color=OKABE_ITO["grey"], linestyle="--", linewidth=1, label=f"target {target:g}"
        )


def _metric_vs_time(run: RunData, title: str) -> Figure:
    fig, ax = _new()
    t = [r["sim_time_s"] for r in run.rounds]
    scale, unit = _time_scale(max(t, default=0.0))
    ax.plot([x / scale for x in t], [r["metric"] for r in run.rounds], marker=".", label=run.name)
    _target(ax, run)
    ttt = run.summary.get("time_to_target_s")
    if ttt is not None:
        ax.axvline(
            ttt / scale,
            color=OKABE_ITO["grey"],
            linestyle=":",
            linewidth=1,
            label=f"target reached ({ttt / scale:.3g} {unit})",
        )
    ax.set(xlabel=f"simulated time ({unit})", ylabel=_metric_label(run), title=title)
    ax.legend(loc="best")
    return fig


def _metric_vs_bytes(run: RunData, title: str) -> Figure:
    fig, ax = _new()
    payload = _cum([(r["bytes_up"] or 0) + (r["bytes_down"] or 0) for r in run.rounds])
    wire = _cum([(r["wire_bytes_up"] or 0) + (r["wire_bytes_down"] or 0) for r in run.rounds])
    scale, unit = _byte_scale(max(wire + payload, default=0.0))
    metric = [r["metric"] for r in run.rounds]
    ax.plot([b / scale for b in payload], metric, marker=".", label="payload (HTTP)")
    ax.plot(
        [b / scale for b in wire],
        metric,
        linestyle="--",
        color=OKABE_ITO["orange"],
        label="on the wire (TCP/IP, retransmissions)",
    )
    _target(ax, run)
    ax.set(xlabel=f"cumulative bytes, up + down ({unit})", ylabel=_metric_label(run), title=title)
    ax.legend(loc="best")
    return fig


def _participation(run: RunData) -> Figure:
    fig, ax = _new()
    rounds = [r["round"] for r in run.rounds]
    reported = [r["reported"] or 0 for r in run.rounds]
    per_round = [parse_causes(r.get("failed_causes")) for r in run.rounds]
    causes = sorted({c for d in per_round for c in d})
    ax.bar(rounds, reported, color=OKABE_ITO["bluish_green"], label="reported", width=0.8)
    bottom = list(reported)
    for i, cause in enumerate(causes):
        counts = [d.get(cause, 0) for d in per_round]
        ax.bar(
            rounds,
            counts,
            bottom=bottom,
            width=0.8,
            label=f"failed: {cause}",
            color=_CAUSE_COLOURS[i % len(_CAUSE_COLOURS)],
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    unexplained = [
        max(0, (r["failed"] or 0) - sum(d.values()))
        for r, d in zip(run.rounds, per_round, strict=True)
    ]
    if any(unexplained):
        ax.bar(
            rounds,
            unexplained,
            bottom=bottom,
            width=0.8,
            color=OKABE_ITO["grey"],
            label="failed: unknown",
        )
    selected = [r["selected"] or 0 for r in run.rounds]
    ax.step(
        rounds,
        selected,
        where="mid",
        color=OKABE_ITO["black"],
        linewidth=1.5,
        zorder=5,
        label="selected",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(selected, default=1) * 1.18 + 0.5)
    rejected = [r["round"] for r in run.rounds if r.get("accepted") == 0]
    if rejected:
        top = max((r["selected"] or 0) for r in run.rounds)
        ax.plot(
            rejected,
            [top * 1.08] * len(rejected),
            linestyle="none",
            marker="x",
            color=OKABE_ITO["vermillion"],
            label="update rejected",
        )
    ax.set(xlabel="round", ylabel="clients (count)", title=f"Participation per round — {run.name}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def _timeline(run: RunData) -> Figure:
    order: list[str] = []
    spans: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in run.timeline:
        c = row["client"]
        if c not in spans:
            order.append(c)
            spans[c] = {}
        lo, hi = row["start_s"] or 0.0, row["end_s"] or 0.0
        spans[c].setdefault(row["state"], []).append((lo, hi - lo))
    shown = order[:MAX_TIMELINE_CLIENTS]
    end = max((row["end_s"] or 0.0 for row in run.timeline), default=0.0)
    scale, unit = _time_scale(end)
    fig, ax = _new(8.0, min(30.0, 1.6 + 0.24 * max(1, len(shown))))
    for y, client in enumerate(shown):
        for state, ranges in spans[client].items():
            colour = STATE_COLOURS.get(state, OKABE_ITO["yellow"])
            ax.broken_barh(
                [(a / scale, w / scale) for a, w in ranges],
                (y - 0.4, 0.8),
                facecolors=colour,
                linewidth=0,
            )
    ax.set_yticks(range(len(shown)), shown, fontsize=7 if len(shown) > 30 else 8)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0, end / scale if end else 1)
    ax.grid(axis="y", visible=False)
    more = f" (first {len(shown)} of {len(order)} clients)" if len(order) > len(shown) else ""
    ax.set(
        xlabel=f"simulated time ({unit})",
        ylabel="client",
        title=f"Client timeline — {run.name}{more}",
    )
    states = [s for s in STATE_COLOURS if any(s in spans[c] for c in shown)]
    fig.legend(
        handles=[Patch(color=STATE_COLOURS[s], label=s) for s in states],
        loc="outside lower center",
        ncol=len(states) or 1,
        frameon=False,
        fontsize=8,
    )
    return fig


def _links(run: RunData) -> Figure:
    names: list[str] = []
    busy: dict[tuple[str, str], float] = {}
    down: dict[str, float] = {}
    for row in run.links:
        if row["link"] not in names:
            names.append(row["link"])
        busy[(row["link"], row["direction"])] = row["busy_fraction"] or 0.0
        down[row["link"]] = max(down.get(row["link"], 0.0), row.get("down_time_s") or 0.0)
    names.sort(key=lambda n: -max(busy.get((n, "up"), 0.0), busy.get((n, "down"), 0.0)))
    shown = names[:MAX_LINKS]
    fig, ax = _new(7.0, min(30.0, 1.6 + 0.3 * max(1, len(shown))))
    ys = range(len(shown))
    for offset, direction, colour in (
        (-0.2, "up", OKABE_ITO["blue"]),
        (0.2, "down", OKABE_ITO["orange"]),
    ):
        ax.barh(
            [y + offset for y in ys],
            [100 * busy.get((n, direction), 0.0) for n in shown],
            height=0.4,
            color=colour,
            label=f"{direction} ({'to' if direction == 'up' else 'from'} server)",
        )
    top = max((100 * v for v in busy.values()), default=0.0)
    xmax = max(0.1, min(100.0, top * 1.35))
    label_at = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for y, n in zip(ys, shown, strict=True):
        if down.get(n):
            ax.text(
                0.99,
                y,
                f"down {human_seconds(down[n])}",
                va="center",
                ha="right",
                fontsize=7,
                color=OKABE_ITO["vermillion"],
                transform=label_at,
            )
    ax.set_yticks(list(ys), shown, fontsize=7 if len(shown) > 30 else 8)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0, xmax * 1.25 if any(down.values()) else xmax)
    more = f" (busiest {len(shown)} of {len(names)})" if len(names) > len(shown) else ""
    ax.set(
        xlabel="busy time (% of simulated time)",
        ylabel="link",
        title=f"Link utilization — {run.name}{more}",
    )
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return fig


def run_figures(run: RunData) -> list[tuple[str, Figure]]:
    """(file stem, figure) pairs for one run; tables that are missing give no figure."""
    with matplotlib.rc_context(_RC):  # the style applies when artists are created
        return _run_figures(run)


def _run_figures(run: RunData) -> list[tuple[str, Figure]]:
    out: list[tuple[str, Figure]] = []
    if run.rounds:
        out.append(
            ("metric_vs_time", _metric_vs_time(run, f"{run.metric_name} over time — {run.name}"))
        )
        out.append(
            ("metric_vs_bytes", _metric_vs_bytes(run, f"{run.metric_name} vs traffic — {run.name}"))
        )
        out.append(("participation", _participation(run)))
    if run.timeline:
        out.append(("timeline", _timeline(run)))
    if run.links:
        out.append(("links", _links(run)))
    return out


def comparison_figures(runs: Sequence[RunData]) -> list[tuple[str, Figure]]:
    """Metric vs time and vs payload bytes, one line per run (first run = baseline)."""
    with matplotlib.rc_context(_RC):
        return _comparison_figures(list(runs))


def _comparison_figures(runs: list[RunData]) -> list[tuple[str, Figure]]:
    labels = run_labels(runs)
    metric_names = sorted({r.metric_name for r in runs})
    ylabel = (
        _metric_label(runs[0]) if len(metric_names) == 1 else " / ".join(metric_names) + " (mixed!)"
    )
    t_max = max((r["sim_time_s"] for run in runs for r in run.rounds), default=0.0)
    t_scale, t_unit = _time_scale(t_max)
    b_max = max(
        (sum((r["bytes_up"] or 0) + (r["bytes_down"] or 0) for r in run.rounds) for run in runs),
        default=0.0,
    )
    b_scale, b_unit = _byte_scale(b_max)
    fig_t, ax_t = _new()
    fig_b, ax_b = _new()
    styles = ["-", "--", "-.", ":"]
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        style = {
            "linestyle": styles[(i // len(_CYCLE)) % len(styles)],
            "marker": ".",
            "color": _CYCLE[i % len(_CYCLE)],
            "label": label,
        }
        metric = [r["metric"] for r in run.rounds]
        ax_t.plot([r["sim_time_s"] / t_scale for r in run.rounds], metric, **style)
        cum = _cum([(r["bytes_up"] or 0) + (r["bytes_down"] or 0) for r in run.rounds])
        ax_b.plot([b / b_scale for b in cum], metric, **style)
    targets = {r.summary.get("target_metric") for r in runs} - {None}
    for ax in (ax_t, ax_b):
        for target in sorted(targets):
            ax.axhline(target, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
        ax.legend(loc="best", fontsize=8)
    ax_t.set(xlabel=f"simulated time ({t_unit})", ylabel=ylabel, title="Metric over simulated time")
    ax_b.set(
        xlabel=f"cumulative payload bytes, up + down ({b_unit})",
        ylabel=ylabel,
        title="Metric vs traffic",
    )
    return [("compare_metric_vs_time", fig_t), ("compare_metric_vs_bytes", fig_b)]


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """Write `<stem>.png` and `<stem>.svg`; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    with matplotlib.rc_context(_RC):
        fig.savefig(png, format="png", dpi=130, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata=_SVG_META)
    return [png, svg]


def figure_svg(fig: Figure) -> str:
    """The figure as an `<svg>` element string, ready to inline in HTML."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata=_SVG_META)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def plot_run(run_dir: str | Path | RunData, out_dir: str | Path) -> list[Path]:
    """All per-run figures as PNG + SVG in out_dir."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    paths: list[Path] = []
    for stem, fig in run_figures(run):
        paths += save_figure(fig, out_dir, stem)
    return paths


def plot_comparison(run_dirs: Sequence[str | Path | RunData], out_dir: str | Path) -> list[Path]:
    """Comparison figures (one line per run) as PNG + SVG in out_dir."""
    runs = [r if isinstance(r, RunData) else load_run(r) for r in run_dirs]
    paths: list[Path] = []
    for stem, fig in comparison_figures(runs):
        paths += save_figure(fig, out_dir, stem)
    return paths
