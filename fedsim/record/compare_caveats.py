"""Caveats for compared runs whose numbers were counted under different rules.

`model_caveat`: the network was modelled differently.

Two runs that differ in `fidelity` (flow or packet, top level or a link class's) or
`fl.transport` (http, coap, mqtt) measure their bytes and energy through different
models. docs/network-model.md ("Flow and packet over whole runs") measures what that
costs: single transfers agree within 9 %; on a contended shared medium flow has no
drop-tail losses where packet's TCP drops and retransmits (+21 % wire bytes up), energy
per device within 18 %; on duty-cycled links (LoRa) a whole run's session timing differs.
The caveat names only what applies to the runs compared (a shared medium, a duty cycle),
and each transport's protocol and header rows hold its own protocol and headers. A
ratio between such runs is partly the model's, so `fedsim compare` says so in one line.
Before, it said flow "undercounts idle energy", which the energy ledger no longer does
(redteam9, finding 4).

`dropout_rule_caveat`: an async run's dropouts were counted under another rule. A folder
written before summary.json had `dropouts_after_rounds` (session 13) counted a task
that failed after the last aggregation, or was out on a device gone for good, as
surplus; a newer one counts it as a dropout with its cause. Side by side, the older
run's dropouts would look fewer for no reason the runs had, so compare says so.
"""

from __future__ import annotations

from typing import Any

from fedsim.record.run_settings import RunSettings, run_settings

__all__ = ["dropout_rule_caveat", "metric_caveat", "model_caveat"]

PERSONALIZED = "_personalized"
"""The suffix of a metric that scores a policy fine-tuned per device (docs/rl.md)."""


def _transport(run: Any) -> str:
    fl = run.config.get("fl") if isinstance(run.config, dict) else None
    value = fl.get("transport") if isinstance(fl, dict) else None
    return str(value or "http")


def _fidelity(run: Any, settings: RunSettings) -> str:
    """The run's fidelity, and a link class's other one: `flow`, `flow + packet (links)`."""
    top = str(run.summary.get("fidelity") or "flow")
    if top == "datagram":  # CoAP: no link class's fidelity models anything either
        return top
    links = {
        str(v)
        for k, v in _link_values(settings, "fidelity").items()
        if v is not None and str(v) != top
    }
    return top + "".join(f" + {f} (links)" for f in sorted(links))


def _link_values(settings: RunSettings, field: str) -> dict[str, Any]:
    """`{link class: value}` of one link field, as the model reads it (defaults too)."""
    keys = settings.resolved if settings.resolved is not None else settings.given
    return {
        k.split(".")[1]: settings.get(k).value
        for k in keys
        if k.startswith("links.") and k.count(".") == 2 and k.endswith(f".{field}")
    }


def _has_shared_medium(settings: RunSettings) -> bool:
    return any(v is True for v in _link_values(settings, "shared").values())


def _has_duty_cycle(settings: RunSettings) -> bool:
    values = _link_values(settings, "duty_cycle").values()
    return any(isinstance(v, int | float) and v < 1.0 for v in values)


def _fidelity_text(settings: list[RunSettings]) -> str:
    """What docs/network-model.md measures between flow and packet, for these runs' links."""
    parts = ["single transfers agree within 9 %"]
    if any(_has_shared_medium(s) for s in settings):
        parts.append(
            "on a contended shared medium flow has no drop-tail losses where packet's TCP "
            "drops and retransmits (+21 % wire bytes up measured; energy per device within "
            "18 %)"
        )
    if any(_has_duty_cycle(s) for s in settings):
        parts.append("on duty-cycled links a whole run's session timing differs")
    return "; ".join(parts) + ' (docs/network-model.md, "Flow and packet over whole runs")'


def _who(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _groups(values: list[str], labels: list[str]) -> str:
    """`flow (`a`, `b`) vs packet (`c`)`: each value with the runs that have it."""
    groups: dict[str, list[str]] = {}
    for value, label in zip(values, labels, strict=True):
        groups.setdefault(value, []).append(label)
    return " vs ".join(f"{value} ({_who(names)})" for value, names in groups.items())


def dropout_rule_caveat(runs: list[Any], labels: list[str]) -> str | None:
    """One line if an async run without summary.json `dropouts_after_rounds` (an older
    fedsim's) is compared with a run that has it; None otherwise."""
    old = [
        label
        for label, r in zip(labels, runs, strict=True)
        if r.summary.get("engine") == "async" and r.summary.get("dropouts_after_rounds") is None
    ]
    new = [
        label
        for label, r in zip(labels, runs, strict=True)
        if r.summary.get("dropouts_after_rounds") is not None
    ]
    if not old or not new:
        return None
    return (
        f"{_who(old)} (async) {'has' if len(old) == 1 else 'have'} no summary.json "
        "`dropouts_after_rounds`: written by an older fedsim, whose async runs counted a "
        "task that failed after the last aggregation (or was out on a device gone for "
        f"good) as surplus, not a dropout, while {_who(new)} count it as a dropout with its "
        "cause; their dropouts are counted under different rules (docs/results.md)"
    )


def model_caveat(
    runs: list[Any], labels: list[str], settings: list[RunSettings] | None = None
) -> str | None:
    """One line if the runs differ in fidelity or transport; None if they do not.
    `settings`: each run's (fedsim.record.run_settings), read from the runs if not given."""
    if settings is None:
        settings = [run_settings(r.config, r.summary) for r in runs]
    parts = []
    fidelities = [_fidelity(r, s) for r, s in zip(runs, settings, strict=True)]
    if len(set(fidelities)) > 1:
        parts.append(f"fidelity {_groups(fidelities, labels)}: {_fidelity_text(settings)}")
    transports = [_transport(r) for r in runs]
    if len(set(transports)) > 1:
        parts.append(
            f"fl.transport {_groups(transports, labels)}: the protocol and TCP/IP rows hold "
            "each run's own protocol and headers (docs/transports.md)"
        )
    if not parts:
        return None
    return (
        "runs differ in how the network was modelled, so their byte and energy ratios are "
        f"partly the model's: {'; '.join(parts)}"
    )


def metric_caveat(runs: list[Any], labels: list[str]) -> str | None:
    """One line if a run's metric is another's personalised (`mean_return_personalized`
    beside `mean_return`), naming the like-for-like number: the personalised run's
    summary.json `final_scores` keeps the shared model's plain score. None otherwise
    (compare flags any other difference of metric name as not comparable)."""
    names = [str(r.summary.get("metric_name")) for r in runs]
    plain = {n.removesuffix(PERSONALIZED) for n in names}
    if len(set(names)) < 2 or len(plain) != 1:
        return None
    (name,) = plain
    tuned = [
        (label, (r.summary.get("final_scores") or {}).get(name))
        for r, label, n in zip(runs, labels, names, strict=True)
        if n != name
    ]
    shared = ", ".join(
        f"`{label}` {value:.6g}" if value is not None else f"`{label}` not recorded"
        for label, value in tuned
    )
    return (
        f"{name}{PERSONALIZED} scores each device's policy after fine-tuning on it, {name} "
        f"the one shared policy: the final {name} of the shared policy, like for like, is "
        f"{shared} (summary.json final_scores; docs/rl.md)"
    )
