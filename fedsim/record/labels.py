"""Readable names for runs side by side: what tells them apart, not a folder hash.

Why: runs made with `--set` are folders like `hospital-seed202-5ffd0637`; a table or a
legend of those says nothing, and neither does a label of the first four differing keys
in alphabetical order (`description=(default), devices.samd21.compute=…`). Keys are read
as the topology model reads them (fedsim.record.run_settings: a key left at its default
is its default). A label names, most informative first:

- the scenario `name` and the `seed`, in every label, where they differ between the runs;
- the keys the runs were made to differ in: their `--set` overrides (a sweep's keys), then
  the settings summary.json records (strategy, engine, codec, fidelity, transport);
- other differing keys only where those (the name aside) leave two runs, or a run and the
  baseline, alike; for runs whose names differ, only if there are one or two such keys.

A key some run does not have (a link or node of another topology) is never in a label: the
scenario name says that. The baseline (the first run) shows its value of every chosen key,
each other run only where it differs from the baseline, so a legend reads as the change
each run made. The same field of several links or nodes with the same values reads once
(`links.*.loss=0.2`). At most a few keys are named (`+N more`: the table has them all);
runs still alike are told apart by folder name.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedsim.record.run_settings import ABSENT, RunSettings, differing_keys
from fedsim.record.run_settings import run_settings as config_facts

__all__ = ["config_facts", "differing_keys", "labels_for", "override_keys", "short_key"]

_IDENTITY = ("name", "seed")
"""Keys every label names when they differ: which topology, which draw."""

_FACTS = ("fl.codec", "fl.engine", "fidelity", "fl.strategy", "fl.transport")
"""Settings a change is usually about, after the overrides."""

_NEVER = ("description",)
"""Differing keys that tell a reader nothing about what ran differently."""

_ENTITY_SECTIONS = ("links", "nodes", "devices", "failures")
"""Sections of named things whose same field may read once (`links.*.loss`)."""

_FEW_OTHERS = 2
"""Other differing keys (grouped) a label adds to runs whose names already differ: more
than that means another topology, which its name says better."""

_MAX_KEYS = 4
"""A label names at most this many keys (the table's config rows have all)."""


def short_key(key: str) -> str:
    """`fl.codec` -> `codec`, `task.name` -> `name`; other sections keep their path."""
    for section in ("fl.", "task."):
        if key.startswith(section):
            return key[len(section) :]
    return key


def override_keys(overrides: Sequence[Sequence[str] | None]) -> list[str]:
    """The key paths of the runs' `--set` overrides (summary.json), first seen first."""
    keys: list[str] = []
    for given in overrides:
        for item in given or ():
            key = item.partition("=")[0].strip()
            if key and key not in keys:
                keys.append(key)
    return keys


def _value(facts: RunSettings, key: str) -> str:
    return repr(facts.get(key).value)


def _groups(facts: Sequence[RunSettings], keys: list[str]) -> list[tuple[str, list[str]]]:
    """(label key, member keys): `links.a.loss` and `links.b.loss` with the same value in
    every run read as one `links.*.loss`."""
    by_pattern: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    order: list[tuple[str, tuple[str, ...]]] = []
    for key in keys:
        parts = key.split(".")
        if parts[0] in _ENTITY_SECTIONS and len(parts) > 2:
            name = ".".join([parts[0], "*", *parts[2:]])
        else:
            name = key
        values = tuple(_value(f, key) for f in facts)
        slot = (name, values)
        if slot not in by_pattern:
            by_pattern[slot] = []
            order.append(slot)
        by_pattern[slot].append(key)
    out = []
    for slot in order:
        members = by_pattern[slot]
        out.append((slot[0] if len(members) > 1 else members[0], members))
    return out


def _compose(facts: Sequence[RunSettings], identity: list[str], chosen: list[str]) -> list[str]:
    """The baseline with every chosen key; the others with those that differ from it."""
    groups = _groups(facts, identity + chosen)
    short = [short_key(name) for name, _ in groups]
    shown_as = [
        s if short.count(s) == 1 else name for s, (name, _) in zip(short, groups, strict=True)
    ]
    labels = []
    for i, f in enumerate(facts):
        pairs = []
        for (_name, members), key_text in zip(groups, shown_as, strict=True):
            key = members[0]
            if i and key not in identity and _value(f, key) == _value(facts[0], key):
                continue
            pairs.append(f"{key_text}={f.get(key).short}")
        more = f", +{len(pairs) - _MAX_KEYS} more" if len(pairs) > _MAX_KEYS else ""
        labels.append(", ".join(pairs[:_MAX_KEYS]) + more)
    return labels


def _distinct(labels: list[str]) -> bool:
    return len(set(labels)) == len(labels) and all(labels[1:])


def labels_for(
    facts: Sequence[RunSettings], names: Sequence[str], first: Sequence[str] = ()
) -> list[str]:
    """One label per run (the first is the baseline); `first`: keys to name before the
    rest (the runs' `--set` override keys); folder names where nothing tells two runs
    apart; unique either way."""
    facts = list(facts)
    keys = differing_keys(facts)
    present = [
        k for k in keys
        if k not in _NEVER and all(f.get(k).value is not ABSENT for f in facts)
    ]  # fmt: skip
    identity = [k for k in _IDENTITY if k in present]
    preferred = [k for k in (*first, *_FACTS) if k in present and k not in identity]
    preferred = list(dict.fromkeys(preferred))
    rest = [k for k in present if k not in identity and k not in preferred]
    labels = _compose(facts, identity, preferred) if identity or preferred else ["" for _ in facts]
    # other keys where the chosen ones leave runs alike (the name aside: runs of one study
    # may be named apart by their files); where names do tell them apart, only a few
    unnamed = [k for k in identity if k != "name"]
    few = len(_groups(facts, rest)) <= _FEW_OTHERS
    alike = not _distinct(_compose(facts, unnamed, preferred))
    if rest and alike and ("name" not in identity or few):
        labels = _compose(facts, identity, preferred + rest)
    labels = [label or name for label, name in zip(labels, names, strict=True)]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [
        label if seen[label] == 1 or label == name else f"{label} ({name})"
        for label, name in zip(labels, names, strict=True)
    ]
