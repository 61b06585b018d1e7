"""When each link must have been down, derived from the scenario, not from the network.

The network keeps its own record of its outages (fedsim.net.evidence), and the other
down-time checks trust it. A network that lost an outage (two failures on one element,
the first one's end lifting both) records a shorter outage, and every check that reads
the record agrees with it. So this module derives each link's down intervals again,
from what the run was asked to do: every scheduled failure (node, link, group,
partition, links), every connectivity schedule (markov, periodic, trace, drawn again
from the run's seed exactly as the network draws them), every churn departure, and
every battery's death (the energy ledger's `empty_at`, from then on for good). A node
being down takes down its uplink and its children's uplinks, as in the network.

Two invariants compare: a link's `down_time_s` is the length of this union inside the
run, and the recorded down intervals are this union (no part missing, none extra);
and the path checks (`update-over-down-path`, `delivered-over-down-element`) read it
alongside the record (fedsim.audit.paths), so an update across a lost outage fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from fedsim.audit import MEMO, Violation, invariant
from fedsim.audit.intervals import Span, clipped_length, fmt, merged
from fedsim.audit.rows import cell, number
from fedsim.net.connectivity import churn_plan
from fedsim.rng import Streams
from fedsim.scenario import ConnectivitySpec, Scenario

__all__ = [
    "down_intervals_match_scenario",
    "down_time_matches_scenario",
    "for_good_links",
    "scenario_links",
]

TIME = "down-time-matches-scenario"
INTERVALS = "down-intervals-match-scenario"
_TOL = 1e-6
_CHUNK = 256


def scenario_links(result: Any) -> dict[str, list[Span]]:
    """Link name -> the merged spans in which the scenario holds it down (derived once
    per audit: three invariants read it)."""
    return _derived(result)[0]


def for_good_links(result: Any) -> dict[str, Span]:
    """Link name -> the earliest outage the scenario implies for it that is never lifted
    (start, inf, why): a `forever` failure, one that would end only after `fl.time_limit`,
    a trace's open last interval, churn, a battery's death. Read unmerged, so a finite
    outage that touches a later one for good does not date it earlier."""
    return _derived(result)[1]


def _derived(result: Any) -> tuple[dict[str, list[Span]], dict[str, Span]]:
    memo = MEMO.get(_MEMO_KEY)
    if memo is not None and memo[0] is result:
        return memo[1]
    ev = getattr(result, "evidence", None)
    until = max(float(result.summary["sim_time_s"]), getattr(ev, "closed_s", 0.0))
    dead = {dev: e.empty_at for dev, e in getattr(ev, "energy", {}).items()}
    raw = _spans(result.scenario, until, dead)
    out = (
        {link: merged(s) for link, s in raw.items()},
        {link: min(f) for link, s in raw.items() if (f := [x for x in s if x[1] == math.inf])},
    )
    MEMO[_MEMO_KEY] = (result, out)
    return out


_MEMO_KEY = "scenario-links"


def _spans(sc: Scenario, until: float, empty_at: dict[str, float | None]) -> dict[str, list[Span]]:
    """Link name -> down spans up to `until` (unmerged), from the scenario alone (plus
    when each battery ran dry, `empty_at`: device -> time or None)."""
    nodes = {n.name: n for n in sc.nodes}
    uplink = {n.name: f"{n.name}-{n.parent}" for n in sc.nodes if n.parent and n.link_class}
    children: dict[str, list[str]] = {}
    for n in sc.nodes:
        if n.parent is not None:
            children.setdefault(n.parent, []).append(n.name)
    spans: dict[str, list[Span]] = {}

    def node_down(node: str, s: float, e: float, why: str) -> None:
        for child in (node, *children.get(node, ())):
            if child == node and node not in uplink:
                continue
            if child in uplink:
                spans.setdefault(uplink[child], []).append((s, e, why))

    def link_down(child: str, s: float, e: float, why: str) -> None:
        if child in uplink:
            spans.setdefault(uplink[child], []).append((s, e, why))

    def lasting(e: float) -> float:
        """An outage that would end only after the run's horizon is never lifted."""
        return math.inf if sc.fl.lasts_for_good(e) else e

    for i, f in enumerate(sc.failures):
        end = lasting(f.at_s + f.duration_s)
        why = f"failures[{i}] ({f.target} {f.name})"
        if f.target == "node":
            node_down(f.name, f.at_s, end, why)
        elif f.target == "link":
            link_down(f.name, f.at_s, end, why)
        else:
            for child in f.links:
                link_down(child, f.at_s, end, why)
    streams = Streams(sc.seed)
    for n in sc.nodes:
        why = f"{n.connectivity.kind} connectivity of {n.name}"
        for s, e in _schedule(n.name, n.connectivity, streams, until):
            node_down(n.name, s, lasting(e) if n.connectivity.kind == "trace" else e, why)
    groups: dict[str, list[str]] = {}
    for n in sc.nodes:
        groups.setdefault(n.group, []).append(n.name)
    for n in sc.nodes:
        if n.connectivity.churn_fraction > 0 and groups.get(n.group):
            for at, who in churn_plan(n.group, groups.pop(n.group), n.connectivity, streams):
                node_down(who, at, math.inf, f"churn of {who}")
    for dev, at in sorted(empty_at.items()):
        if at is not None and dev in nodes:
            node_down(dev, at, math.inf, f"battery of {dev} ran dry")
    return spans


def _schedule(
    node: str, spec: ConnectivitySpec, streams: Streams, until: float
) -> list[tuple[float, float]]:
    """`node`'s own down intervals from its connectivity process, with the network's
    arithmetic (fedsim.net.connectivity), so the times agree to the last bit."""
    if spec.kind == "trace":
        return _trace([(s, e) for s, e, who in spec.trace if who is None or who == node])
    if spec.kind == "markov":
        return _markov(spec, streams.get("node", node, "connectivity"), until)
    if spec.kind == "periodic":
        return _periodic(spec, streams.get("node", node, "connectivity"), until)
    return []


def _trace(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    now = 0.0
    for s, e, _ in merged((s, e, "") for s, e in intervals):
        if s > now:
            now = now + (s - now)  # (a timeout of `start - now` from `now`)
        start = now
        if e == math.inf:
            out.append((start, math.inf))
            break
        now = now + (e - now)
        out.append((start, now))
    return out


def _markov(spec: ConnectivitySpec, rng: Any, until: float) -> list[tuple[float, float]]:
    """Alternating exponential periods: the k-th draw is `mean * standard_exponential`
    (numpy's own `exponential`), summed in order from 0."""
    up = spec.start_up
    toggles: list[float] = []
    now = 0.0
    while now <= until:
        draws = rng.standard_exponential(_CHUNK)
        parity = (np.arange(_CHUNK) + len(toggles)) % 2
        means = np.where(parity == 0, spec.mean_up_s if up else spec.mean_down_s,
                         spec.mean_down_s if up else spec.mean_up_s)  # fmt: skip
        times = np.cumsum(np.concatenate(([now], draws * means)))[1:]
        toggles.extend(times.tolist())
        now = toggles[-1]
    # The state flips at every toggle; down runs from a flip into down to the next.
    edges = ([0.0] if not up else []) + toggles
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2)]


def _periodic(spec: ConnectivitySpec, rng: Any, until: float) -> list[tuple[float, float]]:
    asleep = spec.period_s - spec.awake_s
    if asleep <= 0:
        return []
    phase = float(rng.uniform(0.0, spec.period_s))
    out: list[tuple[float, float]] = []
    if phase < spec.awake_s:
        now = 0.0 + (spec.awake_s - phase)
    else:
        woke = 0.0 + (spec.period_s - phase)
        out.append((0.0, woke))
        now = woke + spec.awake_s
    steps = np.tile([asleep, spec.awake_s], _CHUNK // 2)
    while now <= until:  # (sleeps and wakes summed in order, as the timeouts add up)
        edges = np.cumsum(np.concatenate(([now], steps))).tolist()
        out.extend(zip(edges[0:-1:2], edges[1::2], strict=True))
        now = edges[-1]
    return out


def _run_end(result: Any) -> float:
    return float(result.summary["sim_time_s"])


@invariant(
    TIME,
    "every link's down_time_s equals the length, inside [0, sim_time_s], of the union of "
    "the down intervals the scenario implies for it (scheduled failures, connectivity "
    "schedules drawn again from the seed, churn, battery deaths)",
    needs=("evidence", "links", "scenario", "summary"),
)
def down_time_matches_scenario(result: Any) -> Iterator[Violation]:
    if getattr(result, "evidence", None) is None:
        return  # `evidence-present` says so
    end = _run_end(result)
    want = scenario_links(result)
    for row in result.links:
        name = str(cell(row, "link"))
        spans = want.get(name, [])
        length = clipped_length(spans, 0.0, end)
        got = number(row, "down_time_s")
        if abs(got - length) > _TOL * max(1.0, length):
            yield Violation(
                TIME,
                f"link {name} {cell(row, 'direction')}: down_time_s {got:.3f}, but the "
                f"scenario holds it down {length:.3f} s ({_show(spans, end)})",
            )


@invariant(
    INTERVALS,
    "every link's recorded down intervals inside [0, sim_time_s] are exactly the union "
    "the scenario implies for it (no outage lost, none invented)",
    needs=("evidence", "links", "scenario", "summary"),
)
def down_intervals_match_scenario(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    end = _run_end(result)
    want = scenario_links(result)
    got: dict[str, list[Span]] = {}
    for d in ev.link_down:
        got.setdefault(d.element, []).append((d.start, d.end, d.cause))
    for name in sorted(set(want) | set(got)):
        a, b = want.get(name, []), merged(got.get(name, []))
        missing = _first_uncovered(a, b, end)
        if missing is not None:
            yield Violation(
                INTERVALS,
                f"link {name}: the scenario holds it down {fmt(missing[0])}-{fmt(missing[1])} "
                f"({missing[2]}), but the network recorded it up in part of that "
                f"(recorded: {_show(b, end)})",
            )
        extra = _first_uncovered(b, a, end)
        if extra is not None:
            yield Violation(
                INTERVALS,
                f"link {name}: recorded down {fmt(extra[0])}-{fmt(extra[1])} ({extra[2]}) "
                f"outside anything the scenario implies ({_show(a, end)})",
            )


def _first_uncovered(spans: list[Span], cover: list[Span], end: float) -> Span | None:
    """The first of `spans` (clipped to [0, end]) not inside the union of `cover`."""
    for s, e, why in spans:
        a, b = max(0.0, s), min(end, e)
        if b - a <= _TOL:
            continue
        inside = clipped_length(cover, a, b)
        if b - a - inside > _TOL * max(1.0, b - a):
            return (s, e, why)
    return None


def _show(spans: list[Span], end: float) -> str:
    shown = [f"{fmt(s)}-{fmt(min(e, end))}" for s, e, _ in spans if s < end][:3]
    return ", ".join(shown) or "none"
