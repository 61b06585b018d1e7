"""A deterministic corpus of mutated topologies, generated from the shipped ones.

Each mutant is one mistake (or one harmless change) applied to a shipped file: a
dropped key, a wrong type, an out-of-range value, an unknown kind or option, a bad
unit, a dangling reference, a huge device count, a duplicate name, or one of the
issue's cases (fedsgd, task.alpha: -1, fl.target: 1.5, ...). Same code => same corpus.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "topologies").glob("*.yaml"))
PER_FILE = 88
"""Mutants per shipped topology (12 files -> 1056)."""

Path_ = tuple[str | int, ...]


def _paths(doc: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _get(doc: Any, path: Path_) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _drop(doc: Any, path: Path_) -> None:
    parent = _get(doc, path[:-1])
    del parent[path[-1]]


def _pick(rng: random.Random, doc: Any, keep: Callable[[Path_, Any], bool]) -> Path_ | None:
    found = [p for p in _paths(doc) if keep(p, _get(doc, p))]
    return rng.choice(found) if found else None


def _scalar(_p: Path_, v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


def drop_key(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: True)
    assert path is not None
    _drop(doc, path)
    return f"drop {path}"


def wrong_type(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: True)
    assert path is not None
    v = _get(doc, path)
    if isinstance(v, bool):
        new: Any = "yes"
    elif isinstance(v, int | float):
        new = rng.choice(["lots", [1, 2], {"a": 1}, True])
    elif isinstance(v, str):
        new = rng.choice([12345, [v], {"x": v}, True, -7])
    elif isinstance(v, dict):
        new = rng.choice(["text", [1, 2], 3])
    else:
        new = rng.choice(["text", {"a": 1}, 5])
    _set(doc, path, new)
    return f"type {path}={new!r}"


def out_of_range(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: _scalar(p, v) and not isinstance(v, bool))
    assert path is not None
    new = rng.choice([-1, -0.5, 0, 1, 2, 1.5, 150, 10**6, 10**12, "-5s", "150%", "0s", 0.0])
    _set(doc, path, new)
    return f"range {path}={new!r}"


KINDISH = ("kind", "strategy", "codec", "engine", "fidelity", "partition", "selection",
           "model", "policy", "optimizer", "baseline", "like")  # fmt: skip


def unknown_kind(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: isinstance(p[-1], str) and p[-1] in KINDISH)
    if path is None:
        path = ("fl", "strategy")
        doc.setdefault("fl", {})
    new = rng.choice(["bogus", "fedsgd", "gauss", "markov2", ""])
    _set(doc, path, new)
    return f"kind {path}={new!r}"


def unknown_option(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: isinstance(v, dict))
    target = _get(doc, path) if path is not None else doc
    key = rng.choice(["bogus", "colour", "mu", "alhpa", "1-q", "max_ages"])
    target[key] = rng.choice([1, "x", 0.5])
    return f"option {path}.{key}"


UNITS = (
    "10MBps", "100kBps", "1 Bps", "10MB/s", "1Mb", "1MS", "3 furlongs", "5 parsecs",
    "1e3ms", "2h", "40ms", "20Mbps", "1%", "12 %", "1KiB", "5Wh", "50MFLOPS", "fast",
)  # fmt: skip


def bad_unit(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: isinstance(v, str) and v[:1].isdigit())
    if path is None:
        return wrong_type(rng, doc)
    new = rng.choice(UNITS)
    _set(doc, path, new)
    return f"unit {path}={new!r}"


def dangling(rng: random.Random, doc: Any) -> str:
    refs = ("to", "link", "device", "node", "partition", "links")
    path = _pick(rng, doc, lambda p, v: isinstance(p[-1], str) and p[-1] in refs)
    if path is None:
        return unknown_option(rng, doc)
    new: Any = rng.choice(["ghost", "server", "nowhere-gw"])
    if isinstance(_get(doc, path), list):
        new = [new]
    _set(doc, path, new)
    return f"ref {path}={new!r}"


def huge_count(rng: random.Random, doc: Any) -> str:
    path = _pick(rng, doc, lambda p, v: p[-1] == "count")
    new = rng.choice([10**9, 10**7, 100_000, 5000, 0, 2])
    if path is None:
        path = ("nodes", len(doc["nodes"]) - 1, "count")
    _set(doc, path, new)
    return f"count {path}={new}"


def duplicate(rng: random.Random, doc: Any) -> str:
    items = doc.get("nodes") or []
    if not items:
        return drop_key(rng, doc)
    i = rng.randrange(len(items))
    items.insert(i, copy.deepcopy(items[i]))
    return f"duplicate nodes[{i}]"


GE = {"kind": "gilbert-elliott", "p": "1%", "r": "20%"}
ISSUE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("fedsgd", {"fl.strategy": "fedsgd"}),
    ("fedavg options", {"fl.options": {"mu": 0.1}}),
    ("fedprox beta", {"fl.strategy": "fedprox", "fl.options": {"beta": 0.1}}),
    ("fedprox mu", {"fl.strategy": "fedprox", "fl.options": {"mu": [-1, 0.3]}}),
    ("krum f", {"fl.strategy": "krum", "fl.options": {"f": [-1, 2, 1.5]}}),
    ("jitter gauss", {"LINK.jitter": {"kind": "gauss", "std": "1ms"}}),
    ("jitter pareto", {"LINK.jitter": {"kind": "pareto", "scale": "2ms"}}),
    ("loss key", {"LINK.loss_model": {**GE, "q": 1}}),
    ("gilbert-elliott", {"LINK.loss_model": GE}),
    ("alpha", {"task.alpha": [-1, 0.3]}),
    ("target", {"fl.target": [1.5, 0.5, 600, -3]}),
    ("late failure", {"fl.time_limit": "10min", "failures": "LATE"}),
    ("reliability async", {"fl.engine": "async", "fl.selection": "reliability"}),
    ("batch size", {"fl.local.batch_size": [0, "x", 8]}),
    ("seed", {"seed": [1, 2, 99]}),
]
"""The issue's cases; a list value is a choice among its items (not the value itself)."""


def issue_case(rng: random.Random, doc: Any) -> str:
    label, edits = rng.choice(ISSUE_CASES)
    link = next(iter(doc.get("links") or {}), None)
    for key, value in edits.items():
        if value == "LATE":
            late = {"node": doc["nodes"][-1]["name"], "at": "2h", "duration": "1min"}
            doc.setdefault("failures", []).append(late)
            continue
        parts = key.replace("LINK", f"links.{link}").split(".")
        cur = doc
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        chosen = value
        if isinstance(value, list):
            chosen = rng.choice(value)
        elif isinstance(value, dict):
            chosen = {k: rng.choice(v) if isinstance(v, list) else v for k, v in value.items()}
        cur[parts[-1]] = chosen
    return label


MUTATIONS = (drop_key, wrong_type, out_of_range, unknown_kind, unknown_option, bad_unit,
             dangling, huge_count, duplicate, issue_case)  # fmt: skip


def corpus() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(shipped file name, mutation label, mutated document), deterministically."""
    for path in SHIPPED:
        base = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i in range(PER_FILE):
            rng = random.Random(f"{path.name}/{i}")
            doc = copy.deepcopy(base)
            mutate = MUTATIONS[i % len(MUTATIONS)]
            try:
                label = mutate(rng, doc)
            except (KeyError, IndexError, TypeError, AttributeError):
                continue  # the mutation does not apply to this file's shape
            yield path.name, f"{i}: {label}", doc
