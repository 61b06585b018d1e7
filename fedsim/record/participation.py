"""The report's participation section: who took part, per device group, and who never did.

Why per group: at thousands of devices a per-device table is a haystack; a group row says
at once that the basement meters report a third of the time. Devices that were selected
and never had an upload accepted are listed by name with why (their dropout causes from
clients.csv, or selections that were surplus), flagged when selected at least
`NEVER_CONTRIBUTED_MIN_SELECTED` times (summary.json `never_contributed`); devices never
selected at all (never connected, never registered, never chosen) are listed and flagged
too, with which it was. Every group's
member list sits in a closed `<details>` the topology's group boxes link to.
"""

from __future__ import annotations

from html import escape

from fedsim.record.absent_devices import absence, absent_devices, offline_throughout
from fedsim.record.device_groups import DeviceGroup, device_groups, flagged, never_reported
from fedsim.record.html import html_table
from fedsim.record.runs import RunData
from fedsim.record.schema import (
    DROPOUT_CAUSES,
    NEVER_CONTRIBUTED_MIN_SELECTED,
    ClientRow,
    TimelineRow,
)
from fedsim.record.tables import format_causes

__all__ = ["MAX_NEVER_ROWS", "never_reported_why", "participation_html"]

MAX_NEVER_ROWS = 200


def never_reported_why(row: ClientRow) -> str:
    """`surplus ×15, gateway_down ×1: the round filled up without it ...`: what each
    selection ended as, most frequent first, and what the most frequent means."""
    ends = [(cause, n, DROPOUT_CAUSES[cause]) for cause, n in row.dropouts_by_cause().items()]
    if row.rounds_surplus:
        ends.append(("surplus", row.rounds_surplus, _SURPLUS))
    if not ends:
        return "no cause recorded"
    ends.sort(key=lambda e: -e[1])
    return f"{', '.join(f'{c} ×{n}' for c, n, _ in ends)}: {ends[0][2]}"


_SURPLUS = "the round filled up without it (over-selection), or the run ended first"


def _share_bar(part: int, whole: int) -> str:
    if whole <= 0:
        return "—"
    pct = 100.0 * part / whole
    return (
        f'<span class="bar-bg"><span class="bar" style="width:{pct:.0f}%"></span></span>'
        f'<span class="pct">{pct:.0f} %</span>'
    )


def _count(n: int | None) -> str:
    return "—" if n is None else str(n)


def _group_row(g: DeviceGroup) -> list[str]:
    never = g.never_reported()
    never_cell = f'<span class="alert">{len(never)}</span>' if never else "0"
    return [
        f'<a href="#{escape(g.anchor)}">{escape(g.name)}</a>',
        escape(g.parent or "—"),
        str(len(g.members)),
        escape(g.profile),
        escape(g.link_class),
        str(g.selected),
        str(g.reported),
        _share_bar(g.reported, g.selected),
        _count(g.discarded),
        str(g.surplus),
        escape(format_causes(g.dropouts_by_cause()) or "—"),
        never_cell,
    ]


def _never_table(
    groups: list[DeviceGroup], clients: list[ClientRow], timeline: list[TimelineRow]
) -> str:
    group_of = {m: g for g in groups for m in g.members}
    rows = never_reported(clients)
    if not rows:
        return "<p>Every device had at least one upload accepted.</p>"
    absent = absent_devices(rows)
    offline = offline_throughout(timeline) if absent else {}
    n_flag = sum(flagged(r) for r in rows)
    shown = rows[:MAX_NEVER_ROWS]
    cells = []
    for r in shown:
        g = group_of.get(r.client)
        mark = '<span class="alert">⚑ flagged</span>' if flagged(r) or not r.rounds_selected else ""
        cells.append(
            [
                escape(r.client),
                f'<a href="#{escape(g.anchor)}">{escape(g.name)}</a>' if g else "—",
                escape(r.gateway or "—"),
                str(r.rounds_selected),
                escape(
                    never_reported_why(r)
                    if r.rounds_selected
                    else absence(r, offline.get(r.client))
                ),
                mark,
            ]
        )
    more = f" The table lists the {len(shown)} most selected." if len(rows) > len(shown) else ""
    selected = len(rows) - len(absent)
    head = '<p class="alert">'
    if selected:
        head += (
            f"{selected} device(s) selected but never reported; {n_flag} flagged (selected "
            f"at least {NEVER_CONTRIBUTED_MIN_SELECTED} times)."
        )
    if absent:
        kinds: dict[str, int] = {}
        for r in absent:
            kind = absence(r, offline.get(r.client)).split(":")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        head += (
            f"{' ' if selected else ''}{len(absent)} device(s) never selected ("
            + ", ".join(f"{k}: {n}" for k, n in kinds.items())
            + "), flagged too."
        )
    head += f"{more}</p>"
    table = html_table(
        ["device", "group", "parent", "selected", "why (clients.csv)", ""], cells, "never", raw=True
    )
    return head + table


def _members(g: DeviceGroup) -> str:
    rows = [
        [
            c.client,
            c.rounds_selected,
            c.rounds_reported,
            c.rounds_discarded,
            c.rounds_surplus,
            format_causes(c.dropouts_by_cause()) or "—",
        ]
        for c in g.clients
    ]
    listed = {c.client for c in g.clients}
    rows += [
        [m, None, None, None, None, "not in clients.csv"] for m in g.members if m not in listed
    ]
    table = html_table(
        ["device", "selected", "reported", "discarded", "surplus", "dropouts"], rows, "members"
    )
    summary = f"{g.name} ×{len(g.members)} under {g.parent or 'no parent'}"
    return f'<details id="{escape(g.anchor)}"><summary>{escape(summary)}</summary>{table}</details>'


def participation_html(run: RunData) -> str:
    """Participation per device group, the never-reported devices, the member lists."""
    groups = device_groups(run)
    if not groups:
        return "<p><em>No devices recorded.</em></p>"
    table = html_table(
        [
            "group",
            "parent",
            "devices",
            "profile",
            "link class",
            "selected",
            "reported",
            "reported share",
            "discarded",
            "surplus",
            "dropouts by cause",
            "never reported",
        ],
        [_group_row(g) for g in groups],
        "groups",
        raw=True,
    )
    members = "".join(_members(g) for g in groups)
    return (
        table
        + "<h3>Devices that never reported</h3>"
        + _never_table(groups, run.clients, run.timeline)
        + "<h3>Members per group</h3>"
        + members
    )
