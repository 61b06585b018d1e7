"""Draw topology.json as a self-contained SVG tree: server on top, gateways, then devices.

Why hand-written SVG rather than a graph library: the report must be one file with no
external assets, the layout is a tree by construction (every node names its parent), and
hover tooltips (`<title>`) give each link's bandwidth and latency without any JavaScript.
Edges are coloured by link kind (Okabe-Ito palette) with a legend.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["LINK_COLOURS", "topology_svg"]

LINK_COLOURS = {
    "wifi": "#0072B2",
    "lora": "#E69F00",
    "nbiot": "#CC79A7",
    "lte": "#009E73",
    "ethernet": "#000000",
    "backhaul": "#999999",
}
_EXTRA = ["#D55E00", "#56B4E9", "#F0E442", "#7F3C8D"]
_NODE_FILL = {"server": "#000000", "gateway": "#56B4E9", "device": "#FFFFFF"}
_GAP, _LEVEL, _MARGIN = 56.0, 110.0, 40.0


def _fmt_bps(bps: Any) -> str:
    if not isinstance(bps, int | float):
        return "?"
    for scale, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} bit/s"


def _layout(nodes: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    names = [n["name"] for n in nodes]
    known = set(names)
    children: dict[str | None, list[str]] = {}
    for n in nodes:
        parent = n.get("parent") if n.get("parent") in known else None
        children.setdefault(parent, []).append(n["name"])
    kind_rank = {"server": 0, "gateway": 1, "device": 2}
    kinds = {n["name"]: n.get("kind", "device") for n in nodes}
    roots = sorted(children.get(None, []), key=lambda x: kind_rank.get(kinds[x], 3))
    pos: dict[str, tuple[float, float]] = {}
    next_x = [0.0]

    def place(name: str, depth: int, seen: set[str]) -> float:
        seen.add(name)
        kids = [k for k in children.get(name, []) if k not in seen]
        if not kids:
            x = next_x[0]
            next_x[0] += _GAP
        else:
            xs = [place(k, depth + 1, seen) for k in kids]
            x = (xs[0] + xs[-1]) / 2
        pos[name] = (x, depth * _LEVEL)
        return x

    seen: set[str] = set()
    for root in roots:
        place(root, 0, seen)
    for name in names:  # cycles in parent links: put leftovers on the device row
        if name not in pos:
            pos[name] = (next_x[0], 2 * _LEVEL)
            next_x[0] += _GAP
    return pos


def _node_shape(kind: str, x: float, y: float) -> str:
    fill = _NODE_FILL.get(kind, "#F0E442")
    style = f'fill="{fill}" stroke="#000" stroke-width="1.5"'
    if kind == "server":
        return f'<rect x="{x - 11:.1f}" y="{y - 11:.1f}" width="22" height="22" {style}/>'
    if kind == "gateway":
        pts = f"{x:.1f},{y - 13:.1f} {x + 13:.1f},{y:.1f} {x:.1f},{y + 13:.1f} {x - 13:.1f},{y:.1f}"
        return f'<polygon points="{pts}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" {style}/>'


def topology_svg(topology: dict[str, Any]) -> str:
    """An `<svg>` element for topology.json (nodes + links); empty topology -> a note."""
    nodes = list(topology.get("nodes") or [])
    links = list(topology.get("links") or [])
    if not nodes:
        return "<p><em>No topology.json in this run.</em></p>"
    pos = _layout(nodes)
    kinds = sorted({str(ln.get("kind", "?")) for ln in links})
    colours = dict(LINK_COLOURS)
    for i, k in enumerate(k for k in kinds if k not in colours):
        colours[k] = _EXTRA[i % len(_EXTRA)]
    n_leaves = max(1, len({x for x, _ in pos.values()}))
    rotate = n_leaves > 14
    legend_w = 270 + sum(40 + 7 * len(k) for k in kinds)
    width = max(480.0, max(x for x, _ in pos.values()) + 2 * _MARGIN, legend_w + 2 * _MARGIN)
    depth = max(y for _, y in pos.values())
    legend_y = depth + (_MARGIN + 90 if rotate else _MARGIN + 60)
    height = legend_y + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-label="network topology" font-family="sans-serif" font-size="11">'
    ]
    pair_count: dict[tuple[str, str], int] = {}
    for ln in links:
        a, b = str(ln.get("a")), str(ln.get("b"))
        if a not in pos or b not in pos:
            continue
        key = (min(a, b), max(a, b))
        k = pair_count[key] = pair_count.get(key, 0) + 1
        (x1, y1), (x2, y2) = pos[a], pos[b]
        x1, x2, y1, y2 = x1 + _MARGIN, x2 + _MARGIN, y1 + _MARGIN, y2 + _MARGIN
        bend = 0.0 if k == 1 else (k // 2) * 18.0 * (1 if k % 2 else -1)
        cx, cy = (x1 + x2) / 2 + bend, (y1 + y2) / 2
        kind = str(ln.get("kind", "?"))
        tip = (
            f"{ln.get('name', a + '-' + b)}: {kind}, {_fmt_bps(ln.get('bandwidth_bps'))}, "
            f"latency {ln.get('latency_s', '?')} s"
        )
        parts.append(
            f'<path d="M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}" fill="none" '
            f'stroke="{colours[kind]}" stroke-width="2.5" class="link link-{escape(kind)}">'
            f"<title>{escape(tip)}</title></path>"
        )
    for n in nodes:
        x, y = pos[n["name"]]
        x, y = x + _MARGIN, y + _MARGIN
        kind = str(n.get("kind", "device"))
        tip = f"{n['name']} ({kind}{', ' + str(n['device']) if n.get('device') else ''})"
        label = escape(str(n["name"]))
        if kind == "device" and rotate:
            text = (
                f'<text x="{x:.1f}" y="{y + 16:.1f}" transform="rotate(50 {x:.1f} {y + 16:.1f})"'
                f">{label}</text>"
            )
        elif kind == "device":
            text = f'<text x="{x:.1f}" y="{y + 24:.1f}" text-anchor="middle">{label}</text>'
        else:
            text = f'<text x="{x + 17:.1f}" y="{y - 10:.1f}">{label}</text>'
        parts.append(
            f'<g class="node node-{escape(kind)}"><title>{escape(tip)}</title>'
            f"{_node_shape(kind, x, y)}{text}</g>"
        )
    lx = _MARGIN
    for kind in ("server", "gateway", "device"):
        parts.append(_node_shape(kind, lx, legend_y) + f'<text x="{lx + 16}" y="{legend_y + 4}">')
        parts.append(f"{kind}</text>")
        lx += 90
    for kind in kinds:
        parts.append(
            f'<line x1="{lx - 8}" y1="{legend_y}" x2="{lx + 14}" y2="{legend_y}" '
            f'stroke="{colours[kind]}" stroke-width="3"/>'
            f'<text x="{lx + 20}" y="{legend_y + 4}">{escape(kind)}</text>'
        )
        lx += 40 + 7 * len(kind)
    parts.append("</svg>")
    return "".join(parts)
