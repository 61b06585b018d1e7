"""A results table's row is written by one function per row type (`row_cells`), which
inlines `_cell` for each column's kind: every cell must be the text `_cell` gives, for
any value a column may hold (None, NaN and infinities, -0.0, ints in float columns,
causes, names), and a table file must be byte for byte what a cell per call wrote."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.record.schema import (
    ClientRow,
    Column,
    LedgerRow,
    LinkRow,
    Record,
    RoundRow,
    TimelineRow,
    columns,
)
from fedsim.record.tables import _cell, read_table, row_cells, write_table

ROW_TYPES = [RoundRow, LinkRow, LedgerRow, TimelineRow, ClientRow]

_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-10, 0.1 + 0.2, 123456789.123456789, 5e-324]),
    st.integers(-(10**12), 10**12),  # an int where a float goes: written as a float
)
_BY_KIND: dict[str, st.SearchStrategy[Any]] = {
    "float": _FLOATS,
    "int": st.integers(-(10**15), 10**15),
    "str": st.text(max_size=12),
    "bool": st.booleans(),
    "causes": st.dictionaries(st.sampled_from(["deadline", "link_down", "x"]), st.integers(0, 9)),
    "names": st.lists(st.text(max_size=5), max_size=3),
}


def _value(col: Column) -> st.SearchStrategy[Any]:
    kind = _BY_KIND[col.kind]
    return st.one_of(st.none(), kind) if col.optional else kind


@st.composite
def _rows(draw: st.DrawFn, row_type: type[Record]) -> SimpleNamespace:
    return SimpleNamespace(**{c.name: draw(_value(c)) for c in columns(row_type)})


@pytest.mark.parametrize("row_type", ROW_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_each_cell_is_the_text_cell_gives(row_type: type[Record], data: st.DataObject) -> None:
    row = data.draw(_rows(row_type))
    expected = [_cell(c, getattr(row, c.name)) for c in columns(row_type)]
    assert row_cells(row_type)(row) == expected


@pytest.mark.parametrize("row_type", ROW_TYPES, ids=lambda t: t.__name__)
def test_a_none_in_any_column_is_a_blank_cell(row_type: type[Record]) -> None:
    row = SimpleNamespace(**{c.name: None for c in columns(row_type)})
    assert row_cells(row_type)(row) == [""] * len(columns(row_type))


def _written_a_cell_per_call(row_type: type[Record], rows: list[Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([c.name for c in columns(row_type)])
    for row in rows:
        w.writerow([_cell(c, getattr(row, c.name)) for c in columns(row_type)])
    return out.getvalue()


def test_a_run_folder_table_is_written_as_before(tmp_path: Any) -> None:
    """A real run's tables, read back and written again both ways: the same bytes."""
    from fake_results import write_synthetic_run

    folder = write_synthetic_run(tmp_path, name="r", rounds=4)
    for name, row_type in [
        ("rounds.csv", RoundRow),
        ("links.csv", LinkRow),
        ("timeline.csv", TimelineRow),
        ("clients.csv", ClientRow),
    ]:
        rows = read_table(folder / name, row_type)
        assert rows, name
        again = tmp_path / f"again-{name}"
        write_table(again, row_type, rows)
        assert again.read_text(encoding="utf-8") == _written_a_cell_per_call(row_type, rows)
