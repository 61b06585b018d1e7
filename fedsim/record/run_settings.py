"""A run's settings, key by key, as compared side by side: set in its file, left to a
default (and which), or absent because the run has no such link, node, device or failure.

Why not config.yaml alone: a key a file leaves out is either a default (the model knows
its value) or meaningless (`links.eth.bandwidth` in a run with no link `eth`). Showing both
as "(default)" invents a value for a link that does not exist, and comparing the text of
config.yaml calls `alpha: 0.5` a difference from a run that left alpha at its default 0.5.
So each run's config.yaml is loaded through the topology model (fedsim.config), whose dump
holds every default in parsed units, and two runs differ in a key only when the values the
model reads differ. A config.yaml the model cannot load (another fedsim, a trace file not
beside it) keeps its text, and its unset keys read `not set` (their defaults unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RunSettings", "Setting", "differing_keys", "run_settings"]

_ENTITIES = {
    "links": "no such link",
    "nodes": "no such node",
    "devices": "no such device profile",
    "failures": "no such failure",
}
"""Sections of named (or numbered) things: a key under one the run lacks is absent."""

_USED_WHEN = {"fl.async.": ("fl.engine", "async"), "fl.coap.": ("fl.transport", "coap")}
"""Sections only one engine or transport reads: their defaults mean nothing elsewhere."""

_FROM_SUMMARY = (
    ("fl.strategy", "strategy"),
    ("fl.engine", "engine"),
    ("fl.codec", "codec"),
    ("fidelity", "fidelity"),
    ("seed", "seed"),
    ("name", "scenario"),
)
"""Keys the summary knows better than the file (the engine and codec it left to
defaults, `fedbuff` for an async run)."""


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()
"""The value of a key a run does not have (no such link, node, ...)."""


@dataclass(frozen=True)
class Setting:
    """One key of one run: `value` is what is compared, `shown` what a table cell says,
    `short` what a label says."""

    value: Any
    shown: str
    short: str


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """`a.b.c: value`; list items by their `name` if they have one, else by index."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            name = item.get("name") if isinstance(item, Mapping) else None
            _flatten(item, f"{prefix}.{name if isinstance(name, str) else i}", out)
    else:
        out[prefix] = value


def value_text(value: Any) -> str:
    """A value as a cell shows it: `0.5`, `true`, `10Mbps`."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _resolved(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """Every setting the model reads from `config`, defaults included, flattened; None
    if the model cannot load it (its defaults are then unknown)."""
    from fedsim.config.build import validate_model

    try:
        model = validate_model(dict(config))
        # python mode keeps int and float apart: `clients_per_round: 1` is one client,
        # `100%` (1.0) every online client
        dump = model.model_dump(mode="python", by_alias=True, warnings=False)
    except Exception:  # any failure only means: its defaults are unknown
        return None
    out: dict[str, Any] = {}
    _flatten(dump, "", out)
    return out


@dataclass(frozen=True)
class RunSettings:
    """One run's settings: those its file (and summary) gave, and the model's reading."""

    given: dict[str, Any]
    """config.yaml's keys, flattened, with the summary's facts over them."""
    resolved: dict[str, Any] | None
    """The model's value of every key, defaults included (None: not loadable)."""
    overlaid: frozenset[str]
    """Keys whose given value is the summary's (compared as given)."""

    def get(self, key: str) -> Setting:
        """`key` in this run: as set, its default, or absent (and why)."""
        resolved = self.resolved or {}
        if key in self.given:
            raw = self.given[key]
            value = resolved.get(key, raw) if key not in self.overlaid else raw
            return Setting(value, value_text(raw), value_text(raw))
        if key in resolved and (unused := self._unused(key)):
            return Setting(ABSENT, f"—, {unused}", "—")
        if key in resolved:
            value = resolved[key]
            if value is None:
                return Setting(None, "— (not set)", "—")
            text = value_text(value)
            return Setting(value, f"{text} (default)", text)
        if self.resolved is None and self._has_entity(key):
            return Setting(ABSENT, "not set (default)", "—")
        return Setting(ABSENT, f"—, {self._why_absent(key)}", "—")

    def _unused(self, key: str) -> str | None:
        """`unused (engine sync)` for a key of a section this run's engine or transport
        does not read."""
        for prefix, (switch, used) in _USED_WHEN.items():
            if key.startswith(prefix):
                actual = self.given.get(switch, (self.resolved or {}).get(switch))
                if actual is not None and actual != used:
                    return f"unused ({switch.removeprefix('fl.')} {actual})"
        return None

    def _has_entity(self, key: str) -> bool:
        parts = key.split(".")
        if parts[0] not in _ENTITIES or len(parts) < 2:
            return True
        entity = f"{parts[0]}.{parts[1]}."
        known = self.resolved if self.resolved is not None else self.given
        return any(k.startswith(entity) for k in known)

    def _why_absent(self, key: str) -> str:
        section = key.split(".")[0]
        if section in _ENTITIES and not self._has_entity(key):
            return _ENTITIES[section]
        if section == "adversaries" and not any(
            k.startswith("adversaries.") for k in (self.resolved or self.given)
        ):
            return "no adversaries"
        return "not set"


def run_settings(config: Mapping[str, Any], summary: Any) -> RunSettings:
    """A run's settings from its config.yaml and summary.json. The strategy is the
    summary's (`fedbuff` for an async run, whose fl.strategy and fl.options are not
    used); a strategy written as `{name: X, ...}` reads `fl.strategy: X` plus its options."""
    given: dict[str, Any] = {}
    _flatten(dict(config), "", given)
    given.pop("fl.strategy.name", None)
    if summary.get("engine") == "async":
        for key in [k for k in given if k.startswith(("fl.strategy.", "fl.options."))]:
            given.pop(key)
    overlaid = set()
    for key, name in _FROM_SUMMARY:
        value = summary.get(name)
        if value is not None:
            given[key] = value
            overlaid.add(key)
    return RunSettings(given, _resolved(config), frozenset(overlaid))


def differing_keys(runs: list[RunSettings]) -> list[str]:
    """Keys any run's file sets whose value is not the same in every run (a default
    counts as its value, an absent key as absent), sorted."""
    keys = sorted({k for r in runs for k in r.given})
    return [k for k in keys if len({repr(r.get(k).value) for r in runs}) > 1]
