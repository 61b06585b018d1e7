"""Draw a run's topology as a self-contained SVG: an indented tree of server, gateways and
device groups.

Why an indented tree of groups rather than one circle per device: a tree drawn sideways
grows one device wide per device and leaves the page at a few dozen devices; an indented
tree grows downward by one row per gateway or device group, so its width is fixed and the
server and every gateway stay in view at 28 devices or 2,000. A group box (`sensor ×16`)
links to the group's member list in the report (`#group-...`), its `<title>` tooltip names
the first members. Links are coloured by kind (Okabe-Ito palette); a link that was down
during the run is dashed vermillion and says for how long. No JavaScript: the file is
hand-written SVG.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fedsim.record.compare import human_seconds
from fedsim.record.device_groups import DeviceGroup, device_groups, link_classes
from fedsim.record.runs import RunData

__all__ = ["LINK_COLOURS", "topology_svg"]

LINK_COLOURS = {
    "wifi": "#0072B2",
    "lora": "#E69F00",
    "nbiot": "#CC79A7",
    "lte": "#009E73",
    "ethernet": "#000000",
    "backhaul": "#999999",
}
_EXTRA = ["#56B4E9", "#F0E442", "#7F3C8D", "#8C564B"]
_DOWN = "#D55E00"
_NODE_FILL = {"server": "#000000", "gateway": "#56B4E9"}
_ROW, _INDENT, _MARGIN, _CHAR = 32.0, 34.0, 24.0, 6.6
_MIN_WIDTH = 640.0
_MAX_TIP_MEMBERS = 12


def _link_rate(link: dict[str, Any]) -> str:
    """A topology.json link's rate; both directions when they differ (older folders
    have only `bandwidth_bps`, the uplink's)."""
    up = link.get("bandwidth_up_bps", link.get("bandwidth_bps"))
    down = link.get("bandwidth_down_bps", up)
    return _fmt_bps(up) if up == down else f"{_fmt_bps(up)} up / {_fmt_bps(down)} down"


def _fmt_bps(bps: Any) -> str:
    if not isinstance(bps, int | float):
        return "?"
    for scale, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} bit/s"


def _node_shape(kind: str, x: float, y: float) -> str:
    fill = _NODE_FILL.get(kind, "#F0E442")
    style = f'fill="{fill}" stroke="#000" stroke-width="1.5"'
    if kind == "server":
        return f'<rect x="{x - 9:.1f}" y="{y - 9:.1f}" width="18" height="18" {style}/>'
    if kind == "gateway":
        pts = f"{x:.1f},{y - 11:.1f} {x + 11:.1f},{y:.1f} {x:.1f},{y + 11:.1f} {x - 11:.1f},{y:.1f}"
        return f'<polygon points="{pts}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="#fff" stroke="#000" stroke-width="1.5"/>'


class _Rows:
    """Rows of the indented tree, in drawing order: (depth, node dict or group, parent row)."""

    def __init__(self, run: RunData) -> None:
        nodes = [n for n in run.topology.get("nodes") or [] if isinstance(n, dict) and "name" in n]
        infra = [n for n in nodes if n.get("kind", "device") != "device"]
        known = {str(n["name"]) for n in infra}
        self.children: dict[str, list[dict[str, Any]]] = {}
        roots: list[dict[str, Any]] = []
        for n in infra:
            parent = n.get("parent")
            if parent in known and parent != n["name"]:
                self.children.setdefault(str(parent), []).append(n)
            else:
                roots.append(n)
        roots.sort(key=lambda n: n.get("kind") != "server")
        self.groups: dict[str, list[DeviceGroup]] = {}
        orphans: list[DeviceGroup] = []
        for g in device_groups(run):
            if g.parent in known:
                self.groups.setdefault(g.parent, []).append(g)
            else:
                orphans.append(g)
        if orphans and roots:
            self.groups.setdefault(str(roots[0]["name"]), []).extend(orphans)
            orphans = []
        self.rows: list[tuple[int, dict[str, Any] | DeviceGroup, int | None]] = []
        seen: set[str] = set()
        for root in roots:
            self._walk(root, 0, None, seen)
        for g in orphans:  # devices with no topology.json: a flat list
            self.rows.append((0, g, None))

    def _walk(self, node: dict[str, Any], depth: int, parent: int | None, seen: set[str]) -> None:
        name = str(node["name"])
        if name in seen:
            return
        seen.add(name)
        me = len(self.rows)
        self.rows.append((depth, node, parent))
        for g in self.groups.get(name, []):
            self.rows.append((depth + 1, g, me))
        for child in self.children.get(name, []):
            self._walk(child, depth + 1, me, seen)


def _down_by_link_end(run: RunData) -> dict[str, float]:
    """Node name -> the longest down time of its uplink (links.csv `down_time_s`)."""
    out: dict[str, float] = {}
    for row in run.links:
        if row.down_time_s:
            out[row.a] = max(out.get(row.a, 0.0), float(row.down_time_s))
    return out


def _group_text(g: DeviceGroup, down: dict[str, float]) -> tuple[str, str, str]:
    """(bold name, plain detail, alert) of a group's box."""
    detail = f" ×{len(g.members)} · {g.profile} · {g.link_class}"
    if g.clients:
        detail += f" · reported {g.reported} of {g.selected} selections"
    alerts = []
    never = g.never_reported()
    if never:
        alerts.append(f"{len(never)} never reported")
    cut = [down[m] for m in g.members if m in down]
    if cut:
        alerts.append(f"{len(cut)} uplinks down, up to {human_seconds(max(cut))}")
    return g.name, detail, " · ".join(alerts)


def _group_svg(
    g: DeviceGroup, x: float, y: float, down: dict[str, float], colour: str
) -> tuple[str, float]:
    """(svg, right end) of a group's box: `name ×N · profile · link class · reported ...`,
    alerts in vermillion."""
    name, detail, alert = _group_text(g, down)
    text_w = _CHAR * (len(name) + len(detail) + (len(alert) + 3 if alert else 0))
    members = ", ".join(g.members[:_MAX_TIP_MEMBERS])
    if len(g.members) > _MAX_TIP_MEMBERS:
        members += f", … ({len(g.members)} devices)"
    tip = f"{g.name} under {g.parent or 'no parent'}: {members}"
    alert_svg = (
        f'<tspan fill="{_DOWN}" font-weight="bold"> · {escape(alert)}</tspan>' if alert else ""
    )
    return (
        f'<a href="#{escape(g.anchor)}" class="group"><g class="node node-group">'
        f"<title>{escape(tip)}</title>"
        f'<rect x="{x - 10:.1f}" y="{y - 12:.1f}" width="{text_w + 24:.1f}" height="24" '
        f'rx="5" fill="#fff" stroke="{colour}" stroke-width="2"/>'
        f'<text x="{x:.1f}" y="{y + 4.5:.1f}"><tspan font-weight="bold">{escape(name)}'
        f"</tspan>{escape(detail)}{alert_svg}</text></g></a>"
    ), x + text_w + 14


def _node_svg(
    node: dict[str, Any], x: float, y: float, uplink_text: str, alert: str
) -> tuple[str, float]:
    """(svg, right end) of a server or gateway: shape, name, uplink class and bandwidth,
    down time."""
    name, kind = str(node["name"]), str(node.get("kind", "gateway"))
    return (
        f'<g class="node node-{escape(kind)}"><title>{escape(f"{name} ({kind})")}</title>'
        f"{_node_shape(kind, x, y)}"
        f'<text x="{x + 16:.1f}" y="{y + 4.5:.1f}"><tspan font-weight="bold">'
        f'{escape(name)}</tspan><tspan fill="#555">{escape(uplink_text)}</tspan>'
        f'<tspan fill="{_DOWN}" font-weight="bold">{escape(alert)}</tspan></text></g>'
    ), x + 16 + _CHAR * (len(name) + len(uplink_text) + len(alert))


def _edge_svg(
    parent: tuple[float, float], x: float, y: float, kind: str, colour: str, cut: bool
) -> str:
    """A grey trunk down from the parent, then the link in its colour (dashed if it was down)."""
    px, py = parent
    stroke = _DOWN if cut else colour
    dash = ' stroke-dasharray="6 3"' if cut else ""
    return (
        f'<path d="M{px:.1f},{py + 10:.1f} V{y:.1f}" stroke="#bbb" stroke-width="1.5" '
        f'fill="none"/><path d="M{px:.1f},{y:.1f} H{x - 12:.1f}" stroke="{stroke}" '
        f'stroke-width="3" fill="none"{dash} class="link link-{escape(kind)}'
        f'{" link-down" if cut else ""}"/>'
    )


def _legend_svg(kinds: list[str], colours: dict[str, str], y: float) -> tuple[str, float]:
    parts, x = [], _MARGIN + 10
    for kind in ("server", "gateway"):
        parts.append(_node_shape(kind, x, y) + f'<text x="{x + 16}" y="{y + 4.5}">{kind}</text>')
        x += 90
    parts.append(
        f'<rect x="{x - 10}" y="{y - 9}" width="26" height="18" rx="5" fill="#fff" '
        f'stroke="#555" stroke-width="2"/><text x="{x + 22}" y="{y + 4.5}">device group</text>'
    )
    x += 130
    for colour, dash, text in [(colours[k], "", k) for k in kinds] + [
        (_DOWN, ' stroke-dasharray="6 3"', "was down")
    ]:
        parts.append(
            f'<line x1="{x - 8}" y1="{y}" x2="{x + 14}" y2="{y}" stroke="{colour}" '
            f'stroke-width="3"{dash}/><text x="{x + 20}" y="{y + 4.5}">{escape(text)}</text>'
        )
        x += 40 + _CHAR * len(text)
    return "".join(parts), x


def topology_svg(run: RunData) -> str:
    """An `<svg>` element for the run's topology.json; no topology -> a note."""
    if not run.topology.get("nodes"):
        return "<p><em>No topology.json in this run.</em></p>"
    tree = _Rows(run)
    links = list(run.topology.get("links") or [])
    uplink = {str(ln.get("a")): ln for ln in links}
    kinds = sorted({str(ln.get("kind", "?")) for ln in links})
    colours = dict(LINK_COLOURS)
    for i, k in enumerate(k for k in kinds if k not in colours):
        colours[k] = _EXTRA[i % len(_EXTRA)]
    classes = link_classes(run)
    down = _down_by_link_end(run)
    body: list[str] = []
    edges: list[str] = []
    right = _MIN_WIDTH - _MARGIN
    pos: list[tuple[float, float]] = []
    for i, (depth, item, parent) in enumerate(tree.rows):
        x, y = _MARGIN + 12 + depth * _INDENT, _MARGIN + 12 + i * _ROW
        pos.append((x, y))
        if isinstance(item, DeviceGroup):
            kind, cut = item.link_kind, any(m in down for m in item.members)
            svg, end = _group_svg(item, x, y, down, colours.get(kind, "#999"))
        else:
            name = str(item["name"])
            ln = uplink.get(name)
            kind, cut = (str(ln.get("kind", "?")) if ln else ""), name in down
            text = f"  {classes.get(name, kind)} {_link_rate(ln)}" if ln else ""
            alert = f"  uplink down {human_seconds(down[name])}" if cut else ""
            svg, end = _node_svg(item, x, y, text, alert)
        body.append(svg)
        right = max(right, end)
        if parent is not None:
            edges.append(_edge_svg(pos[parent], x, y, kind, colours.get(kind, "#999"), cut))
    legend_y = _MARGIN + 12 + len(tree.rows) * _ROW + 14
    legend, legend_end = _legend_svg(kinds, colours, legend_y)
    width = max(right, legend_end) + _MARGIN
    height = legend_y + 24
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'style="width:100%;height:auto;max-width:{width:.0f}px" '
        f'aria-label="network topology" font-family="sans-serif" font-size="13">'
    )
    return head + "".join(edges) + "".join(body) + legend + "</svg>"
