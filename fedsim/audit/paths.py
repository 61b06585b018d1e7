"""When was each device's path to the server down, according to the evidence: the
union of the down intervals of every link and node on it and of the path-down
intervals the network reported (any one of them is enough to cut the path), and of
what the scenario itself implies for its links (fedsim.audit.scenario_down)."""

from __future__ import annotations

from typing import Any

from fedsim.audit import MEMO
from fedsim.audit.intervals import Span, merged

__all__ = ["by_element", "path_spans"]


def by_element(evidence: Any) -> dict[str, list[Span]]:
    """Element name -> its down spans, labelled `kind name (cause)`."""
    out: dict[str, list[Span]] = {}
    for kind, rows in (("link", evidence.link_down), ("node", evidence.node_down)):
        for d in rows:
            out.setdefault(f"{kind}:{d.element}", []).append(
                (d.start, d.end, f"{kind} {d.element} ({d.cause})")
            )
    for d in evidence.path_down:
        out.setdefault(f"path:{d.element}", []).append(
            (d.start, d.end, f"path of {d.element} ({d.cause})")
        )
    return out


def path_spans(
    evidence: Any, elements: dict[str, list[Span]] | None = None, result: Any = None
) -> dict[str, list[Span]]:
    """Device -> merged spans in which its path was down (derived once per audit:
    two invariants read it). With `result`, what the scenario implies for each link of
    the path is in the union too (fedsim.audit.scenario_down): an outage the network's
    record lost still counts as down."""
    if elements is None:
        memo = MEMO.get(_MEMO_KEY)
        if memo is not None and memo[0] is evidence and memo[1] is result:
            return memo[2]
        elements = by_element(evidence)
        if result is not None:
            elements.update(_scenario_elements(result))
        out = _path_spans(evidence, elements)
        MEMO[_MEMO_KEY] = (evidence, result, out)
        return out
    return _path_spans(evidence, elements)


def _scenario_elements(result: Any) -> dict[str, list[Span]]:
    from fedsim.audit.scenario_down import scenario_links

    return {
        f"scenario:{link}": [(s, e, f"link {link} per the scenario ({why})") for s, e, why in spans]
        for link, spans in scenario_links(result).items()
    }


_MEMO_KEY = "path-spans"


def _path_spans(evidence: Any, elements: dict[str, list[Span]]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for dev in evidence.devices:
        keys = [f"link:{name}" for name in evidence.paths.get(dev, ())]
        keys += [f"scenario:{name}" for name in evidence.paths.get(dev, ())]
        keys += [f"node:{name}" for name in evidence.path_nodes.get(dev, ())]
        keys.append(f"path:{dev}")
        out[dev] = merged(s for k in keys for s in elements.get(k, ()))
    return out
