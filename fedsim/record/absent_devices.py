"""Devices that never took part: an empty battery (or offline throughout), requests timed
out, never connected, never registered, never selected.

Why: a device whose SYNs never got through, or whose registration never completed, is
never selected, so it has no dropouts and no selections to flag; totals then read "0
dropouts" and the report "every selected device reported" while a tenth of the fleet did
nothing (redteam7: lora_farm's SF12 sensors). What clients.csv records says which it was:
no payload up means its connection never opened in time; payload up and none down means no
answer ever reached it. The run line and the report both name such devices, whatever
their count (`never_contributed` only flags devices selected again and again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fedsim.record.schema import ClientRow, Summary, TimelineRow

__all__ = [
    "absence",
    "absent_devices",
    "absent_warning",
    "gave_up_warning",
    "offline_throughout",
    "plural",
    "timed_out_warning",
]

NEVER_CONNECTED = "never connected"
NEVER_REGISTERED = "never registered"
NEVER_SELECTED = "never selected"
TIMED_OUT = "timed out"
GAVE_UP = "gave up"
EMPTY_BATTERY = "empty battery"
OFFLINE = "offline throughout"


def offline_throughout(timeline: Iterable[TimelineRow]) -> dict[str, str]:
    """{client: cause} of the devices offline for the whole run from its start
    (timeline.csv): an empty battery (`initial_charge: 0%`), a failure or churn at t=0.
    Such a device never sent a byte, and "never connected" would blame its path."""
    first: dict[str, str] = {}
    online: set[str] = set()
    for t in timeline:
        if t.state != "offline":
            online.add(t.client)
        elif t.start_s <= 0.0 and t.client not in first:
            first[t.client] = t.cause or "offline"
    return {c: cause for c, cause in first.items() if c not in online}


def absence(row: ClientRow, offline: str | None = None) -> str:
    """Why a device never selected took no part, from its clients.csv row (and
    `offline`: the cause it was offline for the whole run, `offline_throughout`). Its
    own state comes first (an empty battery), then requests it abandoned: a registration
    that timed out may have sent nothing yet, and "never connected" would blame the path
    for what `fl.request_timeout` did."""
    if offline == "battery":
        return (
            f"{EMPTY_BATTERY}: offline from the start to the end (timeline.csv cause "
            "battery): it held no charge (nodes[].initial_charge 0%)"
        )
    if offline is not None:
        return f"{OFFLINE}: offline from the start to the end (timeline.csv cause {offline})"
    if row.requests_timed_out:
        return (
            f"{TIMED_OUT}: {plural(row.requests_timed_out, 'request')} abandoned after "
            "fl.request_timeout + fl.poll_wait (cause request_timeout), none answered in time"
        )
    if row.requests_gave_up:
        return (
            f"{GAVE_UP}: {plural(row.requests_gave_up, 'CoAP request')} got no ACK after "
            "fl.coap.max_retransmit retransmissions (cause coap_gave_up)"
        )
    if not row.bytes_up:
        return (
            f"{NEVER_CONNECTED}: no byte of its registration got out, its connection never "
            "opened in time"
        )
    if not row.bytes_down:
        return f"{NEVER_REGISTERED}: it sent {row.bytes_up} B up and no answer came back"
    return f"{NEVER_SELECTED}: it heard from the server but no round chose it"


def absent_devices(clients: Iterable[ClientRow]) -> list[ClientRow]:
    """Devices never selected (nothing they could have sent was asked for), in order."""
    return [c for c in clients if not c.rounds_selected and not c.rounds_reported]


def absent_warning(
    clients: Iterable[ClientRow], shown: int = 3, offline: Mapping[str, str] | None = None
) -> str | None:
    """One line naming every device with no update accepted, by why: an empty battery or
    offline throughout (`offline`, from timeline.csv), timed out, never connected, never
    registered, never selected (from clients.csv), or selected and never accepted (how
    often, and how its selections ended); None when every device took part."""
    rows = list(clients)
    offline = offline or {}
    kinds: dict[str, list[str]] = {}
    for c in absent_devices(rows):
        kind = absence(c, offline.get(c.client)).partition(": ")[0]
        kinds.setdefault(f"{kind} ({_generic(kind)})", []).append(c.client)
    unheard = sorted(
        (c for c in rows if c.rounds_selected and not c.rounds_reported),
        key=lambda c: -(c.rounds_selected or 0),
    )
    if unheard:
        kinds["selected, none accepted"] = [
            f"{c.client} ({c.rounds_selected}×: {_ends(c)})" for c in unheard
        ]
    if not kinds:
        return None
    n = sum(len(names) for names in kinds.values())
    timed = ", requests_timed_out" if any(k.startswith(TIMED_OUT) for k in kinds) else ""
    if any(k.startswith(GAVE_UP) for k in kinds):
        timed += ", requests_gave_up"
    if any(k.startswith((EMPTY_BATTERY, OFFLINE)) for k in kinds):
        timed += "; timeline.csv: state, cause"
    parts = []
    for kind, names in kinds.items():
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        parts.append(f"{len(names)} {kind}: {', '.join(names[:shown])}{more}")
    return (
        f"{n} of {plural(len(rows), 'device')} never had an update accepted: "
        f"{'; '.join(parts)} (clients.csv: rounds_selected, bytes_up, bytes_down, "
        f"rounds_surplus, dropouts_*{timed})"
    )


def timed_out_warning(clients: Iterable[ClientRow], summary: Summary) -> str | None:
    """One line about the requests clients abandoned (clients.csv `requests_timed_out`;
    before that column, summary.json's request_timeout dropouts), None when none was.
    A registration or poll that times out is no dropout (no task was out); nor is a
    task's download or upload that times out when the device polls again, fetches the
    task again and reports (redteam9, finding 2): clients.csv says which devices that
    timed out were selected and how many of those rounds they still reported."""
    rows = list(clients)
    dropouts = summary.dropouts.get("request_timeout", 0)
    requests = sum(c.requests_timed_out or 0 for c in rows)  # blank: not measured (a pilot)
    if not requests and not dropouts:
        return None
    devices = sum(1 for c in rows if c.requests_timed_out)
    if not requests:  # a folder written before `requests_timed_out`
        counted = f"{plural(dropouts, 'dropout')} with cause request_timeout"
    else:
        counted = (
            f"{plural(requests, 'request')} of {plural(devices, 'device')} timed out "
            f"(cause request_timeout; {_during_tasks(rows, dropouts)})"
        )
    return (
        f"{counted}: clients abandoned exchanges that took longer than fl.request_timeout + "
        "fl.poll_wait (slow paths: `fedsim show` estimates each one's upload and download); "
        "raise fl.request_timeout"
    )


def gave_up_warning(clients: Iterable[ClientRow], summary: Summary) -> str | None:
    """One line about the CoAP exchanges clients gave up (clients.csv `requests_gave_up`,
    cause `coap_gave_up`), None when none was. Not a request timeout: CoAP has none, so
    the advice is about what decides a give-up, the loss and the retransmission rule."""
    rows = list(clients)
    dropouts = summary.dropouts.get("coap_gave_up", 0)
    requests = sum(c.requests_gave_up or 0 for c in rows)  # blank: not measured (a pilot)
    if not requests and not dropouts:
        return None
    devices = sum(1 for c in rows if c.requests_gave_up)
    during = (
        f"{dropouts} of them during a task, its update lost: dropouts_coap_gave_up"
        if dropouts
        else "no task lost to one, so no dropout"
    )
    return (
        f"{plural(requests, 'CoAP request')} of {plural(devices, 'device')} gave up (cause "
        f"coap_gave_up; {during}): no ACK came back after fl.coap.max_retransmit "
        "retransmissions (loss on the path; a confirmable message lost 1 + max_retransmit "
        "times). Lower the loss, raise fl.coap.max_retransmit, or raise fl.coap.ack_timeout "
        "if the round trip is longer than it (fl.request_timeout does not apply to CoAP)"
    )


def _during_tasks(rows: list[ClientRow], dropouts: int, shown: int = 3) -> str:
    """What the timeouts cost tasks, from clients.csv: none of those devices selected,
    tasks lost (dropouts), or selected devices that timed out and still reported."""
    selected = [c for c in rows if c.requests_timed_out and c.rounds_selected]
    if not selected:
        return "none during a task: no device that timed out was ever selected, so no dropout"
    still = [c for c in selected if c.rounds_reported]
    more = f" and {len(still) - shown} more" if len(still) > shown else ""
    reported = ", ".join(
        f"{c.client} ({c.requests_timed_out}× timed out, reported {c.rounds_reported} of "
        f"{c.rounds_selected} rounds selected)"
        for c in still[:shown]
    )
    retried = (
        f"{'; ' if dropouts else ''}devices that timed out and still reported: "
        f"{reported}{more} (a device tries again after a timeout: a task's download or "
        "upload that timed out is fetched or sent again while its round is open)"
        if still
        else ""
    )
    if dropouts:
        return (
            f"{dropouts} of them during a task, its update lost: dropouts_request_timeout{retried}"
        )
    if not retried:
        return "no dropout has that cause (clients.csv dropouts_* say how their rounds ended)"
    return f"no task lost to one, so no dropout; {retried}"


def _generic(kind: str) -> str:
    return {
        NEVER_CONNECTED: "no byte of a registration got out",
        NEVER_REGISTERED: "bytes sent up, no answer came back",
        NEVER_SELECTED: "heard from the server, never chosen",
        TIMED_OUT: "every exchange outlasted fl.request_timeout",
        GAVE_UP: "every CoAP exchange ran out of retransmissions",
        EMPTY_BATTERY: "initial_charge 0%: offline the whole run",
        OFFLINE: "offline the whole run, timeline.csv says why",
    }[kind]


def plural(n: int, word: str) -> str:
    """`1 device`, `17 devices`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _ends(row: ClientRow) -> str:
    """What its selections ended as, most frequent first: `surplus ×20, deadline ×8`."""
    ends = dict(row.dropouts_by_cause())
    if row.rounds_surplus:
        ends["surplus"] = row.rounds_surplus
    if not ends:
        return "no cause recorded"
    return ", ".join(f"{c} ×{n}" for c, n in sorted(ends.items(), key=lambda e: -e[1]))
