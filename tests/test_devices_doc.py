"""docs/topology.md's device profile table is generated from fedsim/devices.py."""

from __future__ import annotations

from pathlib import Path

from fedsim.devices import BUILTIN_DEVICES
from fedsim.devices_doc import BEGIN, END, markdown

ROOT = Path(__file__).resolve().parents[1]


def test_docs_device_table_is_generated_from_the_code() -> None:
    text = (ROOT / "docs" / "topology.md").read_text(encoding="utf-8")
    block = text.partition(BEGIN)[2].partition(END)[0]
    assert block.strip() == markdown().strip(), "run `make devices-doc`"


def test_every_builtin_profile_has_a_row() -> None:
    rows = markdown().splitlines()[2:]
    assert [r.split("|")[1].strip() for r in rows] == [f"`{n}`" for n in BUILTIN_DEVICES]
    assert "| `rpi4` | 3 GFLOPS |" in markdown()
