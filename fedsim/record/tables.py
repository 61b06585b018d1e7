"""Typed rows <-> the text of a results folder (CSV cells, summary.json values).

Why here and nowhere else: a cell must read back as exactly what was written (ints stay
ints, floats round-trip to 9 decimals, blank means NaN or null), and a malformed or older
folder must fail in one line naming the file, the line and the column, whatever tool reads
it. The column lists come from `fedsim.record.schema`.
"""

from __future__ import annotations

import csv
import functools
import inspect
import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from fedsim.errors import FedsimError
from fedsim.record.schema import Column, Record, Summary, columns

__all__ = [
    "format_causes",
    "parse_causes",
    "read_summary",
    "read_table",
    "summary_from_json",
    "write_summary",
    "write_table",
]

R = TypeVar("R", bound=Record)

_OLDER = "written by an older fedsim or by hand? rerun the topology"


def format_causes(causes: Mapping[str, int]) -> str:
    """{"deadline": 3, "link_down": 2} -> `"deadline:3;link_down:2"` (sorted by cause)."""
    return ";".join(f"{k}:{v}" for k, v in sorted(causes.items()) if v)


def parse_causes(text: str | None) -> dict[str, int]:
    """`"deadline:3;link_down:2"` -> {"deadline": 3, "link_down": 2}; empty -> {}."""
    out: dict[str, int] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        cause, sep, count = part.partition(":")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"{part!r} is not cause:count")
        out[cause.strip()] = out.get(cause.strip(), 0) + int(count)
    return out


def _cell(col: Column, value: Any) -> str:
    """One cell's text: the definition `row_cells` writes out inline per column."""
    if value is None:
        return ""
    if col.kind == "causes":
        return format_causes(value)
    if col.kind == "float":
        v = float(value)
        if math.isfinite(v):
            return repr(round(v, 9))
        # Blank is None in an optional column ("none"): a value that is not a number must
        # not read as one (`nan`, `inf` read back as floats).
        return repr(v) if col.optional else ""
    if col.kind == "int":
        return str(int(value))
    return str(value)


def _parse_cell(col: Column, text: str) -> Any:
    if col.kind == "str":
        return text
    if col.kind == "causes":
        return parse_causes(text)
    if text.strip() == "":
        if col.optional:
            return None
        if col.kind == "float":
            return math.nan
        raise ValueError("blank")
    if col.kind == "int":
        return int(text)
    return float(text)


def write_table(path: Path, row_type: type[R], rows: Iterable[R]) -> None:
    cols = columns(row_type)
    cells = row_cells(row_type)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([c.name for c in cols])
        for row in rows:
            if not isinstance(row, row_type):
                raise TypeError(f"{path.name}: expected {row_type.__name__}, got {type(row)}")
            w.writerow(cells(row))


def _cell_expression(col: Column, i: int) -> str:
    """`_cell(col, row.<name>)` as one expression (v<i>, f<i>: its value, as a float)."""
    v, f = f"v{i}", f"f{i}"
    if col.kind == "causes":
        text = f"format_causes({v})"
    elif col.kind == "float":
        other = f"repr({f})" if col.optional else '""'
        text = f"(repr(round({f}, 9)) if isfinite({f} := float({v})) else {other})"
    elif col.kind == "int":
        text = f"str(int({v}))"
    else:
        text = f"str({v})"
    return f'("" if ({v} := row.{col.name}) is None else {text})'


@functools.cache
def row_cells(row_type: type[Record]) -> Callable[[Any], list[str]]:
    """A row's cells in one call: `[_cell(c, getattr(row, c.name)) for c in columns]`
    with each `_cell` written out inline for its column's kind (as `dataclasses` writes
    an `__init__`). A cell per call was most of writing a table: timeline.csv at 1,000
    devices (20,000 rows), 50 -> 37 ms. Same text (tests/test_row_cells.py)."""
    cols = columns(row_type)
    body = ", ".join(_cell_expression(c, i) for i, c in enumerate(cols))
    scope: dict[str, Any] = {"isfinite": math.isfinite, "format_causes": format_causes}
    exec(f"def cells(row):\n    return [{body}]\n", scope)  # column names are identifiers
    cells: Callable[[Any], list[str]] = scope["cells"]
    return cells


def read_table(path: Path, row_type: type[R]) -> list[R]:
    """Every row of a CSV as `row_type`; unknown extra columns are ignored."""
    cols = columns(row_type)
    try:
        return _read_rows(path, row_type, cols)
    except UnicodeDecodeError:
        raise FedsimError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise FedsimError(f"{path}: not a CSV table ({exc})") from None


def _read_rows(path: Path, row_type: type[R], cols: tuple[Column, ...]) -> list[R]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        missing = [c.name for c in cols if c.name not in header and _required(c)]
        if missing:
            raise FedsimError(f"{path}: no column {missing[0]!r} ({_OLDER})")
        # Each present column once: its position and its parser (an optional column
        # absent from the header keeps its default). Every column present (a folder this
        # fedsim wrote): the row is made from its values in order, without a mapping.
        where = {name: i for i, name in enumerate(header)}
        present = [c for c in cols if c.name in where]
        plan = [(where[c.name], _parser(c)) for c in present]
        names = [c.name for c in present]
        make: Any = row_type if _positional(row_type, names) else _by_name(row_type, names)
        pad = [""] * len(header)
        rows: list[R] = []
        raw = pad
        try:
            for raw in reader:
                if len(raw) < 2 and not (raw and raw[0].strip()):
                    continue  # a blank line (one appended by hand), as csv.DictReader skips
                if len(raw) < len(pad):
                    raw = raw + pad[len(raw) :]
                rows.append(make(*[parse(raw[i]) for i, parse in plan]))
        except ValueError:  # the row after the last one read, below the header
            bad = _bad_cell(path, reader.line_num, raw, present, plan)
            if bad is None:
                raise
            raise bad from None
    return rows


def _positional(row_type: type[R], names: list[str]) -> bool:
    """Whether `row_type(*values)` takes the columns `names` in that order: every column
    present, and none of them placed elsewhere in the constructor (a column added later
    with a default, `later=True`, is keyword-only: its table position is not its field's)."""
    params = [
        p.name
        for p in inspect.signature(row_type).parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    return params == names


def _by_name(row_type: type[R], names: list[str]) -> Any:
    """A row from the values of the columns `names` (the others keep their defaults)."""
    return lambda *values: row_type(**dict(zip(names, values, strict=True)))


def _bad_cell(
    path: Path, line: int, raw: list[str], present: list[Column], plan: list[tuple[int, Any]]
) -> FedsimError | None:
    """The first cell of the row at `line` that its column's parser refuses, in one line."""
    for c, (i, parse) in zip(present, plan, strict=True):
        try:
            parse(raw[i])
        except ValueError:
            return FedsimError(
                f"{path}: line {line}, column {c.name!r}: expected {_kind_text(c)}, got {raw[i]!r}"
            )
    return None


def _parser(col: Column) -> Any:
    """`_parse_cell` for one column, with the common case (a plain number) first."""
    if col.kind == "str":
        return str  # the text as it is
    if col.kind in ("int", "float"):
        convert = int if col.kind == "int" else float

        def parse(text: str) -> Any:
            try:
                return convert(text)
            except ValueError:
                return _parse_cell(col, text)

        return parse
    return lambda text: _parse_cell(col, text)


def _required(col: Column) -> bool:
    """Columns a file must have: all but those added later with a default (the timeline's
    `cause`, the ledger's classes of links.csv)."""
    return col.required


def _kind_text(col: Column) -> str:
    text = {
        "int": "an integer",
        "float": "a number",
        "causes": "cause:count;...",
        "str": "text",
        "bool": "true/false",
        "names": "a list of names",
        "scores": "{name: number}",
    }[col.kind]
    return f"{text} or blank" if col.optional else text


def _json_ok(col: Column, value: Any) -> bool:
    if value is None:
        return col.optional
    if col.kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if col.kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if col.kind == "str":
        return isinstance(value, str)
    if col.kind == "bool":
        return isinstance(value, bool)
    if col.kind == "causes":
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in value.items()
        )
    if col.kind == "scores":
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in value.items()
        )
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def summary_from_json(data: Any, where: str = "summary.json") -> Summary:
    """A `Summary` from parsed JSON; unknown keys are ignored (newer fields)."""
    if not isinstance(data, dict):
        raise FedsimError(f"{where}: expected a JSON object")
    values = {}
    for c in columns(Summary):
        if c.name not in data and not c.required:
            continue  # a field added later: its default
        if c.name not in data:
            raise FedsimError(f"{where}: no field {c.name!r} ({_OLDER})")
        value = data[c.name]
        if not _json_ok(c, value):
            raise FedsimError(f"{where}: field {c.name!r}: expected {_kind_text(c)}, got {value!r}")
        if c.kind == "float" and value is not None:
            value = float(value)
        values[c.name] = value
    return Summary(**values)


def read_summary(path: Path) -> Summary:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FedsimError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except UnicodeDecodeError:
        raise FedsimError(f"{path}: not UTF-8 text") from None
    return summary_from_json(data, str(path))


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 9) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(_clean(dict(data)), indent=2, sort_keys=True) + "\n", "utf-8")


def write_summary(path: Path, summary: Summary) -> None:
    write_json(path, summary.to_json())
