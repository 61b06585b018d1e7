"""Reading a topology file: bounded before anything is built from it.

Why: a topology file is input from anywhere (a colleague, a generator, a fuzzer). A
binary file, a huge file, a YAML alias bomb (a few hundred bytes that expand to a
billion values once something walks them) or deeply nested input must be refused in
well under a second with one line, not a traceback or a MemoryError minutes later. The
YAML event stream is scanned first, counting values as if aliases were expanded and
tracking depth, and stops at the first limit; only then is the file built into objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import yaml

from fedsim.errors import FedsimError

__all__ = [
    "MAX_TOPOLOGY_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_VALUES",
    "DuplicateKeyError",
    "load_yaml_text",
    "read_topology",
]

MAX_TOPOLOGY_BYTES = 10_000_000
"""A topology file is at most 10 MB (the shipped ones are under 10 kB)."""
MAX_YAML_VALUES = 100_000
"""Scalars, lists and mappings in the file, each alias counted as what it expands to."""
MAX_YAML_DEPTH = 64
"""Lists and mappings nested in each other (the shipped files go 6 deep)."""

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml if present: same result


class _Loader(_SAFE_LOADER):  # type: ignore[misc, valid-type]
    """A safe loader whose bad scalars (`!!int abc`, `2001-13-45`, 5000 digits) are YAML
    errors with a line, like every other mistake in the file."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError, KeyError, AttributeError) as exc:
            # ValueError: a bad value; the others: a scalar under an explicit tag it does not
            # fit (`!!timestamp x` fails inside PyYAML with an AttributeError)
            text = str(node.value) if isinstance(node, yaml.ScalarNode) else node.id
            text = text if len(text) <= 40 else text[:37] + "..."
            if isinstance(exc, ValueError | OverflowError):
                reason = str(exc).split(";")[0]  # not Python's advice on raising its limits
            else:
                reason = f"not a {str(node.tag).rsplit(':', 1)[-1]}"
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {text!r}: {reason}", node.start_mark
            ) from None

    def construct_document(self, node: yaml.Node) -> Any:
        _check_unique_keys(node)
        return super().construct_document(node)


class DuplicateKeyError(FedsimError):
    """A mapping that gives one key twice. YAML keeps the last silently, so a file with
    two `links:` blocks or two `rounds:` would run on whichever came last."""


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


_MERGE = "tag:yaml.org,2002:merge"


def _check_unique_keys(root: yaml.Node) -> None:
    """Refuse a mapping that writes one key twice, before anything is built (a key a
    `<<: *base` merge brings in may be given again: that is what a merge is for). The
    first repeat in the file's order is named, as the model's errors are."""
    repeats: list[tuple[yaml.Node, yaml.Node]] = []  # (the repeat, the first)
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias: checked where its anchor is
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                stack.extend((key, value))
                if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                    continue
                seen = first.setdefault((key.tag, key.value), key)
                if seen is not key:
                    repeats.append((key, seen))
    if repeats:
        key, seen = min(repeats, key=lambda r: (r[0].start_mark.line, r[0].start_mark.column))
        raise _DuplicateKey(
            f"key {key.value!r} given twice (first at line {seen.start_mark.line + 1})",
            key.start_mark,
        )


_LOADER = _Loader
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def read_topology(path: str | Path) -> dict[str, Any]:
    """The file's top-level mapping; a `FedsimError` naming the file for anything else."""
    p = Path(path)
    data = load_yaml_text(_text(p), str(p))
    if not isinstance(data, dict):
        raise FedsimError(f"{p}: a topology file is a YAML mapping")
    return data


def load_yaml_text(text: str, source: str) -> Any:
    """YAML text (a file's, an override's) as Python objects, within the value and depth
    limits; a one-line `FedsimError` starting with `source` otherwise."""
    try:
        _check_shape(text, source)
        return yaml.load(text, Loader=_LOADER)
    except _DuplicateKey as exc:
        raise DuplicateKeyError(f"{source}: line {exc.mark.line + 1}: {exc.message}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise FedsimError(f"{source}:{where} is not valid YAML ({problem})") from None


def _text(p: Path) -> str:
    """The file as text, reading at most one byte past the limit (a FIFO or /dev/zero too)."""
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_TOPOLOGY_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FedsimError(f"{p}: cannot read the topology file ({reason})") from None
    if len(raw) > MAX_TOPOLOGY_BYTES:
        raise FedsimError(
            f"{p}: the file is larger than {MAX_TOPOLOGY_BYTES // 1_000_000} MB, "
            "the limit for a topology file"
        )
    try:
        return raw.decode("utf-8-sig")  # an editor's byte-order mark is fine
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FedsimError(
            f"{p}: line {line}: not a text file (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} is not UTF-8)"
        ) from None


def _check_shape(text: str, source: str) -> None:
    """Refuse, while scanning events, input that would expand or nest past the limits."""
    values = 0  # values so far in document order, aliases expanded
    open_at: list[tuple[int, str | None]] = []  # per open collection: (values at start, anchor)
    expands_to: dict[str, int] = {}  # anchor -> values its alias stands for
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for _start, anchor in open_at):
                _refuse(
                    source, event, f"alias *{event.anchor} refers to a collection containing it"
                )
            values += expands_to.get(event.anchor, 1)  # an unknown one: the loader says so
        elif isinstance(event, _OPEN):
            if len(open_at) >= MAX_YAML_DEPTH:
                _refuse(source, event, f"nested more than {MAX_YAML_DEPTH} levels deep")
            open_at.append((values, event.anchor))
            values += 1
        elif isinstance(event, _CLOSE):
            start, anchor = open_at.pop()
            if anchor is not None:
                expands_to[anchor] = values - start
        elif isinstance(event, yaml.ScalarEvent):
            values += 1
            if event.anchor is not None:
                expands_to[event.anchor] = 1
        if values > MAX_YAML_VALUES:
            _refuse(
                source,
                event,
                f"more than {MAX_YAML_VALUES} values with aliases expanded "
                "(the limit for a topology file; is this an alias bomb?)",
            )


def _refuse(source: str, event: yaml.Event, message: str) -> NoReturn:
    mark = event.start_mark
    where = f" line {mark.line + 1}:" if mark is not None else ""
    raise FedsimError(f"{source}:{where} {message}")
