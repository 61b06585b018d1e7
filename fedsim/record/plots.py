"""Figures for one run and for a comparison, as SVG (reports, zoomable) and PNG (slides).

Why these six per run: learning progress against the two costs that matter on an IoT
network (simulated time and bytes), who took part in each round and why others failed, what
each client was doing when (outages stand out in vermillion), which link was the
bottleneck, and what each device (or device group) paid in energy, compute vs radio, and
how much of its battery that is. Colours are Okabe-Ito, safe for the common colour-vision
deficiencies.

Figures are built with the object API (`matplotlib.figure.Figure`), not pyplot: no global
state, nothing to close, no GUI backend is ever touched, and output is deterministic
(fixed SVG hash salt, no dates in metadata).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import IO, Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from pydantic import ValidationError

from fedsim.config.devices import DeviceModel, device_profile
from fedsim.devices import BUILTIN_DEVICES
from fedsim.errors import FedsimError
from fedsim.record import figure_pool
from fedsim.record.cause_colours import UNKNOWN_CAUSE, cause_style
from fedsim.record.device_groups import device_groups
from fedsim.record.html import inline_svg
from fedsim.record.link_groups import MAX_LINK_GROUPS, link_groups, shown_link_groups
from fedsim.record.round_outcomes import OUTCOMES, discarded_uploads, round_outcome
from fedsim.record.runs import RunData, load_run, run_labels
from fedsim.record.schema import ClientRow
from fedsim.record.single_draw import savefig_single_draw
from fedsim.record.text_layout import shared_text_layouts
from fedsim.record.transport_words import run_transport, words_for

__all__ = [
    "MAX_ENERGY_DEVICES",
    "OKABE_ITO",
    "PLOT_FORMATS",
    "RUN_FIGURES",
    "STATE_COLOURS",
    "comparison_figures",
    "comparison_legend_labels",
    "figure_svg",
    "inline_svg",
    "make_figures_ahead",
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
_RC = {
    "svg.hashsalt": "fedsim",
    "axes.prop_cycle": matplotlib.cycler(color=_CYCLE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
    # Titles at a fixed height: no figure has decorations above its axes, and matplotlib
    # would measure every tick label of every axis to find that out (~15 % of a figure).
    "axes.titley": 1.0,
}
_SVG_META = {"Date": None, "Creator": None, "Format": None, "Type": None}
MAX_TIMELINE_CLIENTS = 80
MAX_TIMELINE_SPANS = 20_000
"""Above this many intervals among the shown clients, the timeline is drawn as an image of
`TIMELINE_COLUMNS` time columns (one element instead of one rectangle per interval)."""
TIMELINE_COLUMNS = 1000
_PAINT_ORDER = ("idle", "downloading", "training", "uploading", "offline")
"""Raster timeline: later states are painted over earlier ones within a column, so a short
outage or upload stays visible at any run length."""
MAX_POINTS_WITH_MARKERS = 200
"""Longer series are drawn as plain lines: one marker per point costs more than the line."""
MAX_ROUND_BARS = 200
"""Above this many rounds, the participation bars are means over groups of rounds."""
MAX_ENERGY_DEVICES = 60
"""Above this many devices the energy figure draws one bar per device group (mean, min-max)."""
MAX_ENERGY_GROUPS = 60
ENERGY_COLOURS = {
    "compute": OKABE_ITO["bluish_green"],
    "radio": OKABE_ITO["blue"],
    "tx": OKABE_ITO["blue"],
    "rx": OKABE_ITO["sky_blue"],
    "idle": OKABE_ITO["orange"],
    "sleep": OKABE_ITO["yellow"],
}
"""Compute in the timeline's training green, radio (and its TX) in its uploading blue."""
RADIO_PARTS = ("tx", "rx", "idle", "sleep")
"""The radio's energy by state (clients.csv energy_tx_j ... energy_sleep_j)."""
_CONNECTIVITY_WORDS = {"periodic": "duty-cycled", "markov": "on/off", "trace": "trace"}


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


def _energy_scale(max_j: float) -> tuple[float, str]:
    for scale, unit in ((1e3, "kJ"), (1.0, "J"), (1e-3, "mJ")):
        if max_j >= scale:
            return scale, unit
    return 1e-6, "µJ"


def _metric_label(run: RunData) -> str:
    arrow = "higher is better" if run.higher_is_better else "lower is better"
    return f"{run.metric_name} ({arrow})"


def _new(width: float = 7.0, height: float = 4.0) -> tuple[Figure, Any]:
    made = figure_pool.take(width, height)
    if made is not None:
        return made
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _marker(series: Sequence[Any]) -> str | None:
    return "." if len(series) <= MAX_POINTS_WITH_MARKERS else None


def _cum(values: list[Any]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v or 0
        out.append(total)
    return out


def _target(ax: Any, run: RunData) -> None:
    target = run.summary.target_metric
    if target is not None:
        ax.axhline(
            target, color=OKABE_ITO["grey"], linestyle="--", linewidth=1, label=f"target {target:g}"
        )


def _metric_vs_time(run: RunData, title: str) -> Figure:
    fig, ax = _new()
    t = [r.sim_time_s for r in run.rounds]
    scale, unit = _time_scale(max(t, default=0.0))
    ax.plot(
        [x / scale for x in t], [r.metric for r in run.rounds], marker=_marker(t), label=run.name
    )
    _target(ax, run)
    ttt = run.summary.time_to_target_s
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
    payload = _cum([(r.bytes_up or 0) + (r.bytes_down or 0) for r in run.rounds])
    wire = _cum([(r.wire_bytes_up or 0) + (r.wire_bytes_down or 0) for r in run.rounds])
    scale, unit = _byte_scale(max(wire + payload, default=0.0))
    metric = [r.metric for r in run.rounds]
    words = words_for(run_transport(run.config))
    ax.plot([b / scale for b in payload], metric, marker=_marker(metric), label=words.payload_label)
    ax.plot(
        [b / scale for b in wire],
        metric,
        linestyle="--",
        color=OKABE_ITO["orange"],
        label=words.wire_label,
    )
    _target(ax, run)
    ax.set(xlabel=f"cumulative bytes, up + down ({unit})", ylabel=_metric_label(run), title=title)
    ax.legend(loc="best")
    return fig


def _binned(xs: list[float], ys: list[float], size: int) -> tuple[list[float], list[float]]:
    """Mean x and mean y over consecutive groups of `size` (size 1: unchanged)."""
    if size <= 1:
        return xs, ys
    groups = [range(i, min(i + size, len(xs))) for i in range(0, len(xs), size)]
    return (
        [sum(xs[j] for j in g) / len(g) for g in groups],
        [sum(ys[j] for j in g) / len(g) for g in groups],
    )


_OUTCOME_MARKS = {
    "gate_rejected": ("x", OKABE_ITO["vermillion"], "full"),
    "no_aggregate": ("v", OKABE_ITO["orange"], "full"),
    "no_update": ("o", OKABE_ITO["grey"], "none"),
}
"""How the participation figure marks a round without a deployed update, by what happened
(fedsim.record.round_outcomes)."""
_DISCARDED_GREEN = "#9FD8C4"
"""Reported uploads that were not aggregated: a light tint of the aggregated green."""
_SURPLUS_GREY = "#E3E3E3"
"""Selected clients not needed: the timeline's idle grey."""


def _participation_stacks(run: RunData) -> list[tuple[str, list[int], str, str | None]]:
    """(legend label, count per round, colour, hatch), bottom to top; series that are 0
    in every round are left out. Together they reach `selected` in every round."""
    rows = run.rounds
    per_round = [r.failed_causes for r in rows]
    causes = sorted({c for d in per_round for c in d})
    discarded = [discarded_uploads(r) for r in rows]
    aggregated = [(r.reported or 0) - d for r, d in zip(rows, discarded, strict=True)]
    unexplained = [
        max(0, (r.failed or 0) - sum(d.values())) for r, d in zip(rows, per_round, strict=True)
    ]
    accounted = [
        (r.reported or 0) + max(r.failed or 0, sum(d.values()))
        for r, d in zip(rows, per_round, strict=True)
    ]
    surplus = [max(0, (r.selected or 0) - n) for r, n in zip(rows, accounted, strict=True)]
    not_needed = (
        "selected, no outcome in this aggregation"
        if run.summary.get("engine") == "async"
        else "selected, not needed (round filled)"
    )
    stacks: list[tuple[str, list[int], str, str | None]] = [
        ("aggregated", aggregated, OKABE_ITO["bluish_green"], None),
        ("reported, discarded", discarded, _DISCARDED_GREEN, None),
    ]
    for cause in causes:
        style = cause_style(cause)
        stacks.append((f"failed: {cause}", [d.get(cause, 0) for d in per_round], *style))
    stacks.append(("failed: cause not recorded", unexplained, *UNKNOWN_CAUSE))
    stacks.append((not_needed, surplus, _SURPLUS_GREY, None))
    return [s for s in stacks if any(s[1])]


def _bar_stack(
    ax: Any,
    xs: list[float],
    heights: list[float],
    bottom: list[float],
    width: float,
    *,
    label: str,
    colour: str,
    hatch: str | None,
) -> None:
    """One layer of stacked bars as one artist (a collection of rectangles): `ax.bar`
    makes a patch per bar, and at 200 bars a layer that was most of the figure's time."""
    import numpy as np
    from matplotlib.collections import PolyCollection

    x = np.asarray(xs, dtype=float)
    lo = np.asarray(bottom, dtype=float)
    hi = lo + np.asarray(heights, dtype=float)
    left, right = x - width / 2, x + width / 2
    boxes = np.stack(
        [np.stack([left, lo], 1), np.stack([right, lo], 1),
         np.stack([right, hi], 1), np.stack([left, hi], 1)], 1,
    )  # fmt: skip
    layer = PolyCollection(
        boxes[hi > lo],
        facecolors=colour,
        edgecolors="#333333" if hatch else "none",  # the hatch lines' colour
        linewidths=0,
        hatch=hatch,
        label=label,
    )
    ax.add_collection(layer, autolim=True)
    ax.autoscale_view()


def _participation(run: RunData) -> Figure:
    fig, ax = _new()
    rounds = [r.round for r in run.rounds]
    size = -(-len(rounds) // MAX_ROUND_BARS)  # rounds per bar
    width = 0.8 if size == 1 else float(size)  # grouped bars touch: no moiré
    bottom: list[float] | None = None
    for label, counts, colour, hatch in _participation_stacks(run):
        xs, heights = _binned(rounds, [float(c) for c in counts], size)
        base = [0.0] * len(xs) if bottom is None else bottom
        _bar_stack(ax, xs, heights, base, width, label=label, colour=colour, hatch=hatch)
        bottom = [b + h for b, h in zip(base, heights, strict=True)]
    selected = [r.selected or 0 for r in run.rounds]
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
    outcomes = [round_outcome(r) for r in run.rounds]
    top = max(selected, default=0)
    for outcome, (marker, colour, fill) in _OUTCOME_MARKS.items():
        marked = [n for n, o in zip(rounds, outcomes, strict=True) if o == outcome]
        if marked:
            ax.plot(
                marked,
                [top * 1.08] * len(marked),
                linestyle="none",
                marker=marker,
                color=colour,
                fillstyle=fill,
                label=f"{OUTCOMES[outcome]}",
            )
    binned = f"bars: mean of {size} rounds" if size > 1 else ""
    ax.set(xlabel="round", ylabel="clients (count)")
    _two_line_title(ax, "Participation per round", run.name, binned)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False, fontsize=8)
    return fig


def _two_line_title(ax: Any, what: str, *details: str) -> None:
    """`what — details` on one line if it fits over the axes, else the details on a
    second line: a title wider than its axes is cut off at the figure's edge."""
    rest = ", ".join(d for d in details if d)
    one = f"{what} — {rest}" if rest else what
    # ~5.5 pt a character at 9 pt against the axes' width in points
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    if len(one) * 5.5 <= width_pt * 0.8 or not rest:
        ax.set_title(one)
    else:
        ax.set_title(f"{what}\n{rest}")


def _timeline(run: RunData) -> Figure:
    order = list(dict.fromkeys(row.client for row in run.timeline))
    shown = _timeline_clients(run, order)
    # each shown client's intervals by state (of 1,000 clients 80 are shown)
    spans: dict[str, dict[str, list[tuple[float, float]]]] = {c: {} for c in shown}
    for row in run.timeline:
        states = spans.get(row.client)
        if states is not None:
            lo, hi = row.start_s or 0.0, row.end_s or 0.0
            states.setdefault(row.state, []).append((lo, hi - lo))
    end = max((row.end_s or 0.0 for row in run.timeline), default=0.0)
    scale, unit = _time_scale(end)
    fig, ax = _new(8.0, min(30.0, 1.6 + 0.24 * max(1, len(shown))))
    count = sum(len(r) for c in shown for r in spans[c].values())
    raster = count > MAX_TIMELINE_SPANS and end > 0
    if raster:
        image = _timeline_image([spans[c] for c in shown], end)
        ax.imshow(
            image,
            aspect="auto",
            interpolation="nearest",
            extent=(0, end / scale, len(shown) - 0.5, -0.5),
        )
    else:
        _timeline_bars(ax, [spans[c] for c in shown], scale)
    ax.set_yticks(range(len(shown)), shown, fontsize=8 if len(shown) > 30 else 9)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0, end / scale if end else 1)
    ax.grid(axis="y", visible=False)
    more = f" ({len(shown)} of {len(order)} clients)" if len(order) > len(shown) else ""
    if raster:
        more += f", {TIMELINE_COLUMNS} time columns"
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


def _timeline_bars(ax: Any, rows: list[dict[str, list[tuple[float, float]]]], scale: float) -> None:
    """One filled path per state holding every client's rectangles of that state (bars 0.8
    high, centred on the client's row): the same picture as a rectangle per interval, drawn
    and written as a handful of SVG elements instead of thousands."""
    import numpy as np
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    boxes: dict[str, list[tuple[float, float, float]]] = {}
    for y, states in enumerate(rows):
        for state, ranges in states.items():
            boxes.setdefault(state, []).extend((y, a, w) for a, w in ranges)
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    codes = [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO, MplPath.CLOSEPOLY]
    for state, items in boxes.items():
        ys, starts, widths = (np.array(col, dtype=float) for col in zip(*items, strict=True))
        corners = np.empty((len(items), 5, 2))
        corners[:, :, 0] = (starts / scale)[:, None] + (widths / scale)[:, None] * unit[:, 0]
        corners[:, :, 1] = (ys - 0.4)[:, None] + 0.8 * unit[:, 1]
        path = MplPath(corners.reshape(-1, 2), codes * len(items))
        colour = STATE_COLOURS.get(state, OKABE_ITO["yellow"])
        # add_artist: add_patch would walk every vertex in Python for the data limits,
        # which the caller sets anyway
        ax.add_artist(PathPatch(path, facecolor=colour, edgecolor="none", linewidth=0))


def _timeline_clients(run: RunData, order: list[str]) -> list[str]:
    """At most `MAX_TIMELINE_CLIENTS` clients: all of them, or the first few of every
    device group (each group is seen, not only the first group in the file)."""
    if len(order) <= MAX_TIMELINE_CLIENTS:
        return order
    known = set(order)
    groups = [[m for m in g.members if m in known] for g in device_groups(run)]
    groups = [g for g in groups if g]
    per_group = max(1, MAX_TIMELINE_CLIENTS // max(1, len(groups)))
    picked = [m for g in groups for m in g[:per_group]][:MAX_TIMELINE_CLIENTS]
    return picked or order[:MAX_TIMELINE_CLIENTS]


def _timeline_image(rows: list[dict[str, list[tuple[float, float]]]], end: float) -> Any:
    """RGBA image, 10 pixel rows per client (the middle 8 coloured, as the bars are) and
    `TIMELINE_COLUMNS` columns over [0, end]; a column covered by several states shows the
    one painted last in `_PAINT_ORDER` (unknown states first)."""
    import numpy as np
    from matplotlib.colors import to_rgba

    image = np.ones((10 * len(rows), TIMELINE_COLUMNS, 4))
    per_column = TIMELINE_COLUMNS / end
    for y, states in enumerate(rows):
        band = image[10 * y + 1 : 10 * y + 9]
        rank = {s: _PAINT_ORDER.index(s) if s in _PAINT_ORDER else -1 for s in states}
        for state in sorted(states, key=lambda s: (rank[s], s)):
            colour = to_rgba(STATE_COLOURS.get(state, OKABE_ITO["yellow"]))
            for a, w in states[state]:
                lo = min(int(a * per_column), TIMELINE_COLUMNS - 1)
                hi = max(lo + 1, min(int(np.ceil((a + w) * per_column)), TIMELINE_COLUMNS))
                band[:, lo:hi] = colour
    return image


def _links(run: RunData) -> Figure:
    """Busy time per link group (class under one parent), mean bar and min-max whisker;
    every group with a link that went down is drawn, named, with its down time."""
    groups = link_groups(run)
    shown = shown_link_groups(groups)
    fig, ax = _new(9.0, min(30.0, 1.9 + 0.34 * max(1, len(shown))))
    ys = list(range(len(shown)))
    top = 0.0
    for offset, direction, colour in (
        (-0.2, "up", OKABE_ITO["blue"]),
        (0.2, "down", OKABE_ITO["orange"]),
    ):
        values = [g.busy_up if direction == "up" else g.busy_down for g in shown]
        means = [100 * sum(v) / len(v) if v else 0.0 for v in values]
        lows = [max(0.0, m - 100 * min(v, default=0.0)) for m, v in zip(means, values, strict=True)]
        highs = [
            max(0.0, 100 * max(v, default=0.0) - m) for m, v in zip(means, values, strict=True)
        ]
        spread = any(h > 1e-9 or lo > 1e-9 for lo, h in zip(lows, highs, strict=True))
        ax.barh(
            [y + offset for y in ys],
            means,
            height=0.4,
            color=colour,
            xerr=[lows, highs] if spread else None,
            error_kw={"ecolor": OKABE_ITO["black"], "elinewidth": 0.8, "capsize": 2},
            label=f"{direction} ({'to' if direction == 'up' else 'from'} server)",
        )
        top = max([top] + [m + h for m, h in zip(means, highs, strict=True)])
    xmax = max(0.1, min(100.0, top * 1.35))
    label_at = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for y, g in zip(ys, shown, strict=True):
        if g.failed:
            ax.text(
                0.99,
                y,
                g.down_text(),
                va="center",
                ha="right",
                fontsize=9,
                color=OKABE_ITO["vermillion"],
                fontweight="bold",
                transform=label_at,
            )
    labels = [g.label for g in shown]
    ax.set_yticks(ys, labels, fontsize=9)
    for tick, g in zip(ax.get_yticklabels(), shown, strict=True):
        if g.failed:
            tick.set_color(OKABE_ITO["vermillion"])
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0, xmax * 1.6 if any(g.failed for g in shown) else xmax)
    ax.grid(axis="y", visible=False)
    n_links = sum(len(g.links) for g in groups)
    more = f", {len(shown)} of {len(groups)} groups" if len(groups) > len(shown) else ""
    ax.set(
        xlabel="busy time (% of simulated time); bar: mean over the group, whisker: min-max",
        ylabel="link class → parent node (links)",
        title=f"Link utilization by link class — {run.name} ({n_links} links{more})",
    )
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return fig


# -- energy ---------------------------------------------------------------------------


def _energy_j(row: ClientRow, kind: str) -> float:
    return float(row.get(f"energy_{kind}_j") or 0.0)


def _has_energy(row: ClientRow) -> bool:
    return row.energy_compute_j is not None or row.energy_radio_j is not None


def _energy_kinds(rows: list[ClientRow]) -> tuple[str, ...]:
    """compute and the radio's parts, or compute and radio for runs without the parts."""
    split = rows and all(row.get(f"energy_{k}_j") is not None for row in rows for k in RADIO_PARTS)
    return ("compute", *RADIO_PARTS) if split else ("compute", "radio")


def _group_detail(item: dict[str, Any], links: Any) -> str:
    """`sf12 (10% duty) · cortex-m4 · on/off`: uplink link class (and its duty cycle), device
    profile, connectivity process."""
    uplink = item.get("uplink")
    link = uplink.get("link") if isinstance(uplink, dict) else None
    spec = links.get(link) if isinstance(links, dict) and link is not None else None
    duty = spec.get("duty_cycle") if isinstance(spec, dict) else None
    conn = item.get("connectivity")
    kind = conn.get("kind") if isinstance(conn, dict) else None
    parts = [
        f"{link} ({duty} duty)" if link and duty else link,
        item.get("device"),
        _CONNECTIVITY_WORDS.get(str(kind), str(kind)) if kind not in (None, "always") else None,
        "churn" if item.get("churn") else None,
    ]
    return " · ".join(str(p) for p in parts if p)


def _energy_groups(run: RunData) -> list[tuple[str, str, list[ClientRow]]]:
    """(group, detail, client rows) in first-seen order, for clients with energy columns.

    A group is a `nodes:` item of config.yaml (`name` with `count` expands to name-1..name-N,
    as the scenario does); clients not found there (synthetic or older runs) are grouped by
    gateway, with their device profiles as detail."""
    member: dict[str, tuple[str, str]] = {}
    nodes = run.config.get("nodes")
    for item in nodes if isinstance(nodes, list) else []:
        if not isinstance(item, dict) or item.get("kind") != "device" or "name" not in item:
            continue
        name = str(item["name"])
        try:
            count = int(item.get("count", 1))
        except (TypeError, ValueError):
            count = 1
        names = (
            [name]
            if count <= 1
            else [f"{name}-{j:0{len(str(count))}d}" for j in range(1, count + 1)]
        )
        for n in names:
            member[n] = (name, _group_detail(item, run.config.get("links")))
    groups: dict[str, tuple[str, list[ClientRow]]] = {}
    for row in run.clients:
        if not _has_energy(row):
            continue
        gw = row.gateway or ""
        name, detail = member.get(row.client, (f"via {gw}" if gw else "devices", ""))
        groups.setdefault(name, (detail, []))[1].append(row)
    out = []
    for name, (detail, rows) in groups.items():
        if not detail:
            profiles = sorted({str(r.device) for r in rows if r.device})
            detail = ", ".join(profiles[:3]) + (", ..." if len(profiles) > 3 else "")
        out.append((name, detail, rows))
    return out


def _battery_capacities(run: RunData) -> dict[str, float | None]:
    """Device profile -> battery capacity in J (None: mains powered), from the run's config."""
    caps: dict[str, float | None] = {n: p.battery_j for n, p in BUILTIN_DEVICES.items()}
    user = run.config.get("devices")
    for name, data in user.items() if isinstance(user, dict) else []:
        try:
            profile = device_profile(str(name), DeviceModel.model_validate(data))
        except (ValidationError, FedsimError):
            caps.pop(str(name), None)  # unreadable profile: say nothing about its battery
            continue
        caps[str(name)] = profile.battery_j
    return caps


def _joules(value: float | None) -> str:
    scale, unit = _energy_scale(value or 0.0)
    return f"{(value or 0.0) / scale:.3g} {unit}"


def _group_battery_note(
    rows: list[ClientRow], shares: list[float], of: str, caps: dict[str, float | None]
) -> str:
    """`max 3 % of 10 kJ battery`, `mains powered`, or both for a group with both kinds
    (a device whose profile is unknown says nothing)."""
    mains = sum(1 for r in rows if str(r.device) in caps and caps[str(r.device)] is None)
    battery = f"max {_pct(max(shares))} {of}" if shares else ""
    if not mains:
        return battery
    if not battery and mains == len(rows):
        return "mains powered"
    return " · ".join(p for p in (battery, f"{mains} mains powered") if p)


def _pct(fraction: float) -> str:
    p = 100.0 * fraction
    if p == 0:
        return "0 %"
    if p >= 100.0:
        return f"{p:.0f} %"
    if p >= 99.95:  # not all of it: never "100 %" beside parts that are not 0
        return ">99.9 %"
    if p >= 99.5:
        return f"{p:.1f} %"
    return f"{p:.2g} %" if p >= 0.001 else "<0.001 %"


def _energy(run: RunData) -> Figure | None:
    groups = _energy_groups(run)
    if not groups:
        return None
    caps = _battery_capacities(run)

    def total(row: ClientRow) -> float:
        return _energy_j(row, "compute") + _energy_j(row, "radio")

    def share(row: ClientRow) -> float | None:
        cap = caps.get(str(row.device))
        return total(row) / cap if cap else None

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    # Costliest group on top; devices keep their order within a group.
    groups.sort(key=lambda g: -mean([total(r) for r in g[2]]))
    n_dev = sum(len(rows) for _, _, rows in groups)
    per_group = n_dev > MAX_ENERGY_DEVICES
    shown = groups[:MAX_ENERGY_GROUPS] if per_group else groups
    all_rows = [r for _, _, rows in groups for r in rows]
    kinds = _energy_kinds(all_rows)
    sums = {k: sum(_energy_j(r, k) for r in all_rows) for k in kinds}
    grand = sum(sums.values())
    labels: list[str] = []
    parts: dict[str, list[float]] = {k: [] for k in kinds}
    notes: list[str] = []
    ends: list[float] = []  # where each row's note starts (bar or whisker end)
    whisker: list[tuple[float, float, float]] = []  # (mean, min, max) totals per group
    right_ticks: list[tuple[float, str]] = []
    breaks: list[float] = []
    if per_group:
        for name, detail, rows in shown:
            totals = [total(r) for r in rows]
            shares = [s for s in map(share, rows) if s is not None]
            cap_set = {caps.get(str(r.device)) for r in rows} - {None}
            of = f"of {_joules(next(iter(cap_set)))} battery" if len(cap_set) == 1 else "of battery"
            labels.append(f"{name} (×{len(rows)})")
            for k in kinds:
                parts[k].append(mean([_energy_j(r, k) for r in rows]))
            whisker.append((mean(totals), min(totals), max(totals)))
            ends.append(max(totals))
            notes.append(_group_battery_note(rows, shares, of, caps))
            right_ticks.append((len(labels) - 1, detail))
    else:
        for name, detail, rows in shown:
            if labels:
                breaks.append(len(labels) - 0.5)
            first = len(labels)
            for r in rows:
                labels.append(r.client)
                for k in kinds:
                    parts[k].append(_energy_j(r, k))
                ends.append(total(r))
                s = share(r)
                cap = caps.get(str(r.device))
                if s is not None and cap:
                    notes.append(f"{_pct(s)} of {_joules(cap)} battery")
                else:
                    notes.append("mains powered" if str(r.device) in caps else "")
            right_ticks.append(
                ((first + len(labels) - 1) / 2, f"{name} · {detail}" if detail else name)
            )
    scale, unit = _energy_scale(max(ends, default=0.0))
    for i, note in enumerate(notes):
        whole = sum(parts[k][i] for k in kinds)
        value = f"{'mean ' if per_group else ''}{whole / scale:.3g} {unit}"
        notes[i] = f"{value} · {note}" if note else value
    fig, ax = _new(9.0, min(30.0, 1.8 + 0.26 * max(1, len(labels))))
    ys = list(range(len(labels)))
    height = 0.7
    left = [0.0] * len(labels)
    for k in kinds:
        share_k = _pct(sums[k] / grand if grand else 0.0)
        ax.barh(
            ys,
            [v / scale for v in parts[k]],
            left=left,
            height=height,
            color=ENERGY_COLOURS[k],
            label=f"{k} ({share_k}{' of all energy' if k == 'compute' else ''})",
        )
        left = [a + v / scale for a, v in zip(left, parts[k], strict=True)]
    if whisker:
        ax.errorbar(
            [m / scale for m, _, _ in whisker],
            ys,
            xerr=[
                [(m - lo) / scale for m, lo, _ in whisker],
                [(hi - m) / scale for m, _, hi in whisker],
            ],
            fmt="none",
            ecolor=OKABE_ITO["black"],
            elinewidth=1,
            capsize=2.5,
            label="min–max over the group's devices",
        )
    for y, x, note in zip(ys, ends, notes, strict=True):
        ax.annotate(
            note, (x / scale, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9
        )
    for b in breaks:
        ax.axhline(b, color=OKABE_ITO["grey"], linewidth=0.6)
    small = 8 if len(labels) > 30 else 9
    ax.set_yticks(ys, labels, fontsize=small)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    top = max(ends, default=0.0) / scale
    # Room for the longest note right of the longest bar: ~5.2 pt a character at 9 pt,
    # on axes about 430 pt wide.
    room = min(0.7, 0.03 + 5.2 * max((len(n) for n in notes), default=0) / 430)
    ax.set_xlim(0, top / (1 - room) if top > 0 else 1.0)
    ax.grid(axis="y", visible=False)
    right = ax.secondary_yaxis("right")
    right.set_yticks([y for y, _ in right_ticks], [t for _, t in right_ticks], fontsize=small)
    right.tick_params(length=0)
    mean_all = grand / len(all_rows)
    m_scale, m_unit = _energy_scale(mean_all)
    if per_group:
        more = (
            f", costliest {len(shown)} of {len(groups)} groups" if len(groups) > len(shown) else ""
        )
        title = f"Energy per device, mean per group — {run.name} ({n_dev} devices{more})"
    else:
        title = f"Energy per device — {run.name} (mean {mean_all / m_scale:.3g} {m_unit})"
    ax.set(
        xlabel=f"energy spent over the run ({unit})",
        ylabel="device group" if per_group else "device",
        title=title,
    )
    fig.legend(
        loc="outside lower center",
        ncol=min(3, len(kinds) + bool(whisker)),
        frameon=False,
        fontsize=9,
    )
    return fig


_LABEL_CHARS = 48
"""A tick label longer than this is wrapped: a label of a whole line would leave the
axes no width (matplotlib then gives up its layout)."""


def _wrapped(label: str) -> str:
    """`label` on lines of about `_LABEL_CHARS`, broken at spaces only: all of it, as a
    label must tell its run apart (joining the lines with spaces gives it back)."""
    import textwrap

    lines = textwrap.wrap(label, _LABEL_CHARS, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) if " ".join(lines) == label else label


def _energy_comparison(runs: list[RunData], labels: list[str]) -> Figure | None:
    """Mean energy per device of each run, compute and radio side by side."""
    stats: list[tuple[float, float] | None] = []
    for run in runs:
        rows = [r for r in run.clients if _has_energy(r)]
        comp = [r.energy_compute_j for r in rows if r.energy_compute_j is not None]
        radio = [r.energy_radio_j for r in rows if r.energy_radio_j is not None]
        stats.append(
            (sum(comp) / len(comp) if comp else 0.0, sum(radio) / len(radio) if radio else 0.0)
            if rows
            else None
        )
    if all(s is None for s in stats):
        return None
    scale, unit = _energy_scale(max((max(s) for s in stats if s is not None), default=0.0))
    ticks = [_wrapped(x) for x in labels]
    lines = sum(max(1, t.count("\n") + 1) for t in ticks)
    fig, ax = _new(7.0, min(30.0, 1.8 + 0.5 * len(runs) + 0.16 * (lines - len(runs))))
    ys = list(range(len(runs)))
    for offset, kind, idx in ((-0.2, "compute", 0), (0.2, "radio", 1)):
        bars = ax.barh(
            [y + offset for y in ys],
            [(s[idx] if s is not None else 0.0) / scale for s in stats],
            height=0.4,
            color=ENERGY_COLOURS[kind],
            label=kind,
        )
        ax.bar_label(
            bars,
            [f"{s[idx] / scale:.3g} {unit}" if s is not None else "" for s in stats],
            padding=3,
            fontsize=9,
        )
    for y, s in zip(ys, stats, strict=True):
        if s is None:
            ax.text(
                0,
                y,
                " no energy data (clients.csv)",
                va="center",
                fontsize=9,
                color=OKABE_ITO["grey"],
            )
    top = max((max(s) for s in stats if s is not None), default=0.0) / scale
    ax.set_xlim(0, top * 1.25 if top > 0 else 1.0)
    ax.set_yticks(ys, ticks, fontsize=8 if len(runs) > 20 else 9)
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.set(xlabel=f"mean energy per device over the run ({unit})", ylabel="run")
    # over the figure, not the axes: long run labels push the axes right, and a title
    # centred on them runs off the figure's right edge
    fig.suptitle(
        "Energy per device (mean over each run's devices)",
        fontsize=matplotlib.rcParams["axes.titlesize"],
    )
    fig.legend(loc="outside lower center", ncol=2, frameon=False, fontsize=9)
    return fig


RUN_FIGURES = ("metric_vs_time", "metric_vs_bytes", "participation", "timeline", "links", "energy")
"""Every per-run figure's file stem, in page order (report.html)."""


def run_figures(run: RunData, only: Collection[str] | None = None) -> list[tuple[str, Figure]]:
    """(file stem, figure) pairs for one run; tables that are missing give no figure.
    `only`: just these stems (the others are not built)."""
    wanted = set(RUN_FIGURES if only is None else only)
    with matplotlib.rc_context(_RC):  # the style applies when artists are created
        return _run_figures(run, wanted)


def _run_figures(run: RunData, wanted: set[str]) -> list[tuple[str, Figure]]:
    builders: dict[str, Callable[[], Figure | None]] = {
        "metric_vs_time": lambda: _metric_vs_time(run, f"{run.metric_name} over time — {run.name}"),
        "metric_vs_bytes": lambda: _metric_vs_bytes(
            run, f"{run.metric_name} vs traffic — {run.name}"
        ),
        "participation": lambda: _participation(run),
        "timeline": lambda: _timeline(run),
        "links": lambda: _links(run),
        "energy": lambda: _energy(run),
    }
    has = {
        "metric_vs_time": bool(run.rounds),
        "metric_vs_bytes": bool(run.rounds),
        "participation": bool(run.rounds),
        "timeline": bool(run.timeline),
        "links": bool(run.links),
        "energy": True,  # None when no client has energy columns
    }
    out: list[tuple[str, Figure]] = []
    for stem in RUN_FIGURES:
        if stem in wanted and has[stem]:
            fig = builders[stem]()
            if fig is not None:
                out.append((stem, fig))
    return out


def comparison_figures(runs: Sequence[RunData]) -> list[tuple[str, Figure]]:
    """Metric vs time and vs payload bytes, one line per run (first run = baseline), and mean
    energy per device, compute and radio, one pair of bars per run (if any run has it)."""
    with matplotlib.rc_context(_RC):
        return _comparison_figures(list(runs))


_LEGEND_CHARS = 56
"""A comparison legend entry longer than this wraps: the legend sits under the axes, and a
line wider than the figure would be cut off."""


def _legend_entry(text: str) -> str:
    """`text` on lines of at most `_LEGEND_CHARS`, broken after a `, ` where it can."""
    import textwrap

    return "\n".join(textwrap.wrap(text, _LEGEND_CHARS, break_on_hyphens=False)) or text


def comparison_legend_labels(runs: list[RunData]) -> list[str]:
    """Each run's label with what its column carries: a failed or missing audit, an early
    end (`(ended early: time_limit)`), and the baseline's `(baseline)`."""
    from fedsim.record.compare import end_mark

    marked = [
        label + run.audit.mark() + end_mark(run)
        for label, run in zip(run_labels(runs), runs, strict=True)
    ]
    return [f"{label} (baseline)" if i == 0 else label for i, label in enumerate(marked)]


def _comparison_figures(runs: list[RunData]) -> list[tuple[str, Figure]]:
    from fedsim.record.compare import no_curve_reason

    labels = comparison_legend_labels(runs)
    metric_names = sorted({r.metric_name for r in runs})
    ylabel = (
        _metric_label(runs[0]) if len(metric_names) == 1 else " / ".join(metric_names) + " (mixed!)"
    )
    t_max = max((r.sim_time_s for run in runs for r in run.rounds), default=0.0)
    t_scale, t_unit = _time_scale(t_max)
    b_max = max(
        (sum((r.bytes_up or 0) + (r.bytes_down or 0) for r in run.rounds) for run in runs),
        default=0.0,
    )
    b_scale, b_unit = _byte_scale(b_max)
    # a run with no rounds.csv has no line: its entry says so instead of a line
    entries = [
        _legend_entry(label if run.rounds else f"no curve: {label} ({no_curve_reason(run)})")
        for label, run in zip(labels, runs, strict=True)
    ]
    ncol = 1 if any(len(e) > 28 for e in entries) else 2
    lines = sum(e.count("\n") + 1 for e in entries)
    height = 3.6 + 0.19 * math.ceil(lines / ncol) + 0.1 * len(entries) / ncol
    fig_t, ax_t = _new(7.0, height)
    fig_b, ax_b = _new(7.0, height)
    styles = ["-", "--", "-.", ":"]
    for i, (run, entry) in enumerate(zip(runs, entries, strict=True)):
        style = {
            "linestyle": styles[(i // len(_CYCLE)) % len(styles)],
            "marker": ".",
            "color": _CYCLE[i % len(_CYCLE)],
            "label": entry,
            # the baseline is drawn wide and on top: a run on the same numbers cannot hide it
            "linewidth": 3.0 if i == 0 else 1.3,
            "zorder": 3 if i == 0 else 2,
            "alpha": 0.55 if i == 0 else 0.95,
        }
        if not run.rounds:
            style.update(color="none", marker="")
        metric = [r.metric for r in run.rounds]
        ax_t.plot([r.sim_time_s / t_scale for r in run.rounds], metric, **style)
        cum = _cum([(r.bytes_up or 0) + (r.bytes_down or 0) for r in run.rounds])
        ax_b.plot([b / b_scale for b in cum], metric, **style)
    targets = {r.summary.get("target_metric") for r in runs} - {None}
    for fig, ax in ((fig_t, ax_t), (fig_b, ax_b)):
        for target in sorted(targets):
            ax.axhline(target, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
        fig.legend(loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)
    ax_t.set(xlabel=f"simulated time ({t_unit})", ylabel=ylabel, title="Metric over simulated time")
    ax_b.set(
        xlabel=f"cumulative payload bytes, up + down ({b_unit})",
        ylabel=ylabel,
        title="Metric vs traffic",
    )
    out = [("compare_metric_vs_time", fig_t), ("compare_metric_vs_bytes", fig_b)]
    ticks = [_legend_entry(label.removesuffix(" (baseline)")) for label in labels]
    energy = _energy_comparison(runs, ticks)
    if energy is not None:
        out.append(("compare_energy", energy))
    return out


PLOT_FORMATS = ("svg", "png")
"""What `save_figure` can write. `fedsim run` writes SVG (the report inlines it) and PNG
only when asked (`--png`): each format is a full render of the figure."""


def save_figure(
    fig: Figure, out_dir: str | Path, stem: str, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write `<stem>.<format>` for each format (PNG for slides, SVG for reports); returns
    the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    with matplotlib.rc_context(_RC):
        for fmt in formats:
            path = out / f"{stem}.{fmt}"
            _savefig(fig, path, fmt)
            paths.append(path)
    return paths


def render_figure(fig: Figure, formats: Sequence[str]) -> list[tuple[str, bytes]]:
    """Each format's file as `save_figure` writes it, drawn in memory: for a process that
    may draw before it may write (fedsim.record.plot_helper)."""
    rendered: list[tuple[str, bytes]] = []
    with matplotlib.rc_context(_RC):
        for fmt in formats:
            buffer = io.BytesIO()
            _savefig(fig, buffer, fmt)
            rendered.append((fmt, buffer.getvalue()))
    return rendered


def _savefig(fig: Figure, target: Path | IO[bytes], fmt: str) -> None:
    if fmt not in PLOT_FORMATS:
        raise FedsimError(f"plot format {fmt!r}: expected one of {', '.join(PLOT_FORMATS)}")
    with shared_text_layouts():
        if fmt == "png":
            savefig_single_draw(fig, target, "png", dpi=130, metadata={"Software": None})
        else:
            savefig_single_draw(fig, target, "svg", metadata=_SVG_META)


def warm_up(buffer: IO[bytes], fmt: str = "svg") -> None:
    """Draw a small labelled figure into `buffer`: loads the fonts, text layout and the
    format's backend once, so a process that waits to draw (fedsim.record.plot_helper)
    does not pay for it when the run is waiting on it."""
    fig, ax = _new(3.0, 2.0)
    with matplotlib.rc_context(_RC):
        ax.plot([0, 1], [0, 1], marker=".", label="warm-up")
        ax.set(xlabel="x (s)", ylabel="y", title="warm-up")
        ax.legend(loc="best")
        fig.legend(loc="outside lower center", frameon=False)
        with shared_text_layouts():
            savefig_single_draw(fig, buffer, fmt)


_Y_TICKS_AHEAD = {
    "timeline": MAX_TIMELINE_CLIENTS,
    "energy": max(MAX_ENERGY_DEVICES, MAX_ENERGY_GROUPS),
    "links": MAX_LINK_GROUPS,
}
"""Figures with a tick per row: as many rows as they may show. Others: a locator's few."""


def make_figures_ahead(stems: Sequence[str] = RUN_FIGURES) -> None:
    """Make the empty figures of the per-run figures `stems`, in this module's style and
    the order `run_figures` takes them (fedsim.record.figure_pool): for a process that
    has time before it draws."""
    with matplotlib.rc_context(_RC):
        figure_pool.fill(
            [_Y_TICKS_AHEAD.get(s, figure_pool.X_TICKS) for s in RUN_FIGURES if s in stems]
        )


def figure_svg(fig: Figure) -> str:
    """The figure as an `<svg>` element string, ready to inline in HTML."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC), shared_text_layouts():
        savefig_single_draw(fig, buf, "svg", metadata=_SVG_META)
    return inline_svg(buf.getvalue())


def plot_run(
    run_dir: str | Path | RunData,
    out_dir: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    only: Collection[str] | None = None,
) -> list[Path]:
    """All per-run figures (or `only` these stems) in out_dir, one file per figure and
    format."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    paths: list[Path] = []
    for stem, fig in run_figures(run, only):
        paths += save_figure(fig, out_dir, stem, formats)
    return paths


def plot_comparison(run_dirs: Sequence[str | Path | RunData], out_dir: str | Path) -> list[Path]:
    """Comparison figures (one line per run) as PNG + SVG in out_dir."""
    runs = [r if isinstance(r, RunData) else load_run(r) for r in run_dirs]
    paths: list[Path] = []
    for stem, fig in comparison_figures(runs):
        paths += save_figure(fig, out_dir, stem)
    return paths
