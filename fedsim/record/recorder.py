"""What happened in a run, as flat rows: rounds, client timelines, links, clients.

The recorder only collects; `writer.py` turns it into files (row types:
`fedsim.record.schema`). It is fed by plain
callbacks (round records from the engine, client states from the FL clients,
path up/down from the network) with the simulated time read from a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from fedsim.record.schema import RoundRow, TimelineRow

__all__ = ["Interval", "Recorder", "RoundRow", "round_row"]


@dataclass(slots=True)
class Interval:
    client: str
    state: str
    start_s: float
    end_s: float
    cause: str = ""
    """Why the client is offline: the outage category (`device_offline`, `link_down`,
    `gateway_down`, `partition`, `churn`, `battery`, ...); empty for other states."""


@dataclass(slots=True)
class _Track:
    state: str = "idle"
    offline: bool = False
    since: float = 0.0
    cause: str = ""
    closed: list[Interval] = field(default_factory=list)
    """The client's finished intervals in the order they ended: by start and by end
    (a client's intervals tile its time), so `close` needs no sort."""


@dataclass
class Recorder:
    clock: Callable[[], float]
    rounds: list[RoundRow] = field(default_factory=list)
    timeline: list[Interval] = field(default_factory=list)
    """Filled by `close`: every client's intervals, by client then start. (Kept per
    client while the run lasts: sorting ~10^6 intervals at the end cost seconds at
    10,000 devices.)"""
    dropouts: dict[str, int] = field(default_factory=dict)
    _tracks: dict[str, _Track] = field(default_factory=dict)

    def add_round(self, row: RoundRow, causes: dict[str, int]) -> None:
        self.rounds.append(row)
        for cause, n in causes.items():
            self.dropouts[cause] = self.dropouts.get(cause, 0) + n

    # -- per-client timeline: offline (from the network) overrides the client state --
    def _shown(self, t: _Track) -> tuple[str, str]:
        return ("offline", t.cause) if t.offline else (t.state, "")

    def _track(self, client: str) -> _Track:
        track = self._tracks.get(client)
        if track is None:
            track = self._tracks[client] = _Track(since=0.0)
        return track

    def _switched(self, client: str, track: _Track, before: tuple[str, str]) -> None:
        """Close the interval shown `before` if the track now shows something else."""
        if self._shown(track) != before:
            now = self.clock()
            if now > track.since:
                track.closed.append(Interval(client, before[0], track.since, now, before[1]))
            track.since = now

    def client_state(self, client: str, state: str) -> None:
        track = self._track(client)
        before = self._shown(track)
        track.state = "idle" if state == "done" else state
        self._switched(client, track, before)

    def path_state(self, client: str, up: bool, cause: str = "") -> None:
        """The client's path went up or down (or stays down for a new `cause`,
        `category:name`; the timeline keeps the category)."""
        track = self._track(client)
        before = self._shown(track)
        track.offline = not up
        track.cause = "" if up else cause.split(":", 1)[0]
        self._switched(client, track, before)

    def close(self, end: float) -> None:
        """End every open interval at `end` (the run's last simulated instant). What
        clients did while winding down after `end` is cut off: the timeline covers
        [0, end] exactly. The timeline is then sorted by (client, start): each client's
        intervals already are by start, and only their tail can reach past `end` (they
        were recorded as they ended, on a clock that never goes back)."""
        out = [iv for iv in self.timeline if iv.start_s < end]  # recorded before: kept
        for iv in out:
            iv.end_s = min(iv.end_s, end)
        for client, track in sorted(self._tracks.items()):
            spans = track.closed
            if spans and spans[-1].end_s > end:
                spans = [iv for iv in spans if iv.start_s < end]
                for iv in spans:
                    iv.end_s = min(iv.end_s, end)
            out += spans
            track.closed = []
            if end > track.since:
                state, cause = self._shown(track)
                out.append(Interval(client, state, track.since, end, cause))
                track.since = end
        if self.timeline:  # intervals put there by hand: no order to rely on
            out.sort(key=lambda iv: (iv.client, iv.start_s))
        self.timeline = out

    def timeline_rows(self) -> list[TimelineRow]:
        """The timeline as timeline.csv rows."""
        return [
            TimelineRow(
                client=iv.client, state=iv.state, start_s=iv.start_s, end_s=iv.end_s, cause=iv.cause
            )
            for iv in self.timeline
        ]


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def round_row(
    rec: Any,
    sim_time_s: float,
    delta: Mapping[str, int],
    adversaries: Collection[str] | None = None,
) -> RoundRow:
    """rounds.csv's row for an engine's `RoundRecord`: what the round did, at
    `sim_time_s`, with the bytes (`up`, `down`, `wire_up`, `wire_down`) it moved, and
    the strategy's or FedBuff's own figures (blank where they do not apply). With
    `adversaries` (the Byzantine clients), how many of the reporters were one. One
    builder for a simulation and a deployment, so their folders compare."""
    m = rec.metrics
    return RoundRow(
        round=rec.round,
        sim_time_s=sim_time_s,
        selected=rec.selected,
        reported=rec.reported,
        aggregated=rec.aggregated,
        failed=rec.failed,
        accepted=int(rec.accepted),
        deployed_version=rec.deployed_version,
        bytes_up=delta["up"],
        bytes_down=delta["down"],
        wire_bytes_up=delta["wire_up"],
        wire_bytes_down=delta["wire_down"],
        metric=rec.metric,
        failed_causes=dict(rec.failed_causes),
        candidate_metric=rec.candidate_metric,
        federated_metric=m.get("federated_metric"),
        krum_f=_whole(m.get("krum_f")),
        krum_selected=_whole(m.get("krum_selected")),
        trimmed_per_side=_whole(m.get("trimmed_per_side")),
        update_norm=m.get("update_norm"),
        staleness_mean=m.get("staleness_mean"),
        staleness_max=m.get("staleness_max"),
        staleness_discount=m.get("staleness_discount"),
        adversarial_updates=(
            None
            if adversaries is None
            else sum(1 for cid in getattr(rec, "reporters", ()) if cid in adversaries)
            if rec.aggregated
            else 0  # a discarded round's uploads entered no model
        ),
    )
