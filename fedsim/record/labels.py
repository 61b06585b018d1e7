"""Readable names for runs side by side: what differs between them, not a folder hash.

Why: runs made with `--set` are folders like `hospital-seed202-5ffd0637`; a table or a
legend of those says nothing. A run's label is every configuration key whose value differs
among the runs compared (`codec=int8, strategy=fedprox`), read from config.yaml and the
summary (which knows what the file left to defaults: the engine, the codec, FedBuff for
an async run), compared as the topology model reads them (fedsim.record.run_settings: a
key left at its default is its default, a link the run does not have reads `—`). Runs
that differ in nothing are told apart by folder name.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedsim.record.run_settings import RunSettings, differing_keys
from fedsim.record.run_settings import run_settings as config_facts

__all__ = ["config_facts", "differing_keys", "labels_for", "short_key"]

_SECTIONS = ("fl.", "task.", "links.", "nodes.")
"""Leading sections a label drops: `fl.codec` reads `codec`, `links.wifi.loss`
`wifi.loss`."""

_MAX_KEYS = 4
"""A label names at most this many keys (the overrides row and the config rows have all)."""


def short_key(key: str) -> str:
    """`fl.codec` -> `codec`, `links.wifi.loss` -> `wifi.loss`, `seed` -> `seed`."""
    for section in _SECTIONS:
        if key.startswith(section):
            return key[len(section) :]
    return key


def labels_for(facts: Sequence[RunSettings], names: Sequence[str]) -> list[str]:
    """One label per run from the keys that differ (the first few, `name` and `seed`
    last); folder names where the runs differ in nothing; unique either way."""
    keys = differing_keys(list(facts))
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
        labels = [", ".join(f"{names_of[k]}={f.get(k).short}" for k in shown) + more for f in facts]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [
        label if seen[label] == 1 else f"{label} ({name})"
        for label, name in zip(labels, names, strict=True)
    ]
