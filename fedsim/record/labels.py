"""Readable names for runs side by side: what differs between them, not a folder hash.

Why: runs made with `--set` are folders like `hospital-seed202-5ffd0637`; a table or a
legend of those says nothing. A run's label is every configuration key whose value differs
among the runs compared (`codec=int8, strategy=fedprox`), read from config.yaml and the
summary (which knows what the file left to defaults: the engine, the codec, FedBuff for
an async run). Runs that differ in nothing are told apart by folder name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["config_facts", "differing_keys", "labels_for", "short_key"]

MISSING = "(default)"
"""How a key absent from a run's config.yaml reads (the file left it to its default)."""

_SECTIONS = ("fl.", "task.", "links.", "nodes.")
"""Leading sections a label drops: `fl.codec` reads `codec`, `links.wifi.loss`
`wifi.loss`."""

_MAX_KEYS = 4
"""A label names at most this many keys (the overrides row and the config rows have all)."""


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            name = item.get("name") if isinstance(item, Mapping) else None
            _flatten(item, f"{prefix}.{name if isinstance(name, str) else i}", out)
    else:
        out[prefix] = value


def config_facts(config: Mapping[str, Any], summary: Any) -> dict[str, Any]:
    """Every setting of a run as `key.path: value`, config.yaml's keys plus what the
    summary knows. The strategy is the summary's (`fedbuff` for an async run, whose
    fl.strategy is not used); a strategy written as `{name: X, ...}` reads `fl.strategy:
    X` plus its options."""
    flat: dict[str, Any] = {}
    _flatten(dict(config), "", flat)
    flat.pop("fl.strategy.name", None)
    engine = summary.get("engine")
    if engine == "async":
        for key in [k for k in flat if k.startswith(("fl.strategy.", "fl.options."))]:
            flat.pop(key)
    for key, field in (
        ("fl.strategy", "strategy"),
        ("fl.engine", "engine"),
        ("fl.codec", "codec"),
        ("fidelity", "fidelity"),
        ("seed", "seed"),
        ("name", "scenario"),
    ):
        value = summary.get(field)
        if value is not None:
            flat[key] = value
    return flat


def differing_keys(facts: Sequence[Mapping[str, Any]]) -> list[str]:
    """Keys whose value is not the same in every run (absent counts as a value), sorted."""
    keys = sorted({k for f in facts for k in f})
    return [k for k in keys if len({repr(f.get(k, MISSING)) for f in facts}) > 1]


def short_key(key: str) -> str:
    """`fl.codec` -> `codec`, `links.wifi.loss` -> `wifi.loss`, `seed` -> `seed`."""
    for section in _SECTIONS:
        if key.startswith(section):
            return key[len(section) :]
    return key


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def labels_for(facts: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """One label per run from the keys that differ (the first few, `name` and `seed`
    last); folder names where the runs differ in nothing; unique either way."""
    keys = differing_keys(facts)
    keys = [k for k in keys if k not in ("name", "seed")] + [
        k for k in ("name", "seed") if k in keys
    ]
    if not keys:
        labels = list(names)
    else:
        shown = keys[:_MAX_KEYS]
        more = f", +{len(keys) - _MAX_KEYS} more" if len(keys) > _MAX_KEYS else ""
        short = [short_key(k) for k in shown]
        names_of = {
            k: (sk if short.count(sk) == 1 else k) for k, sk in zip(shown, short, strict=True)
        }
        labels = [
            ", ".join(f"{names_of[k]}={_value_text(f.get(k, MISSING))}" for k in shown) + more
            for f in facts
        ]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [
        label if seen[label] == 1 else f"{label} ({name})"
        for label, name in zip(labels, names, strict=True)
    ]
