"""`fedsim show`: the tree names every group with its derived path figures."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from fedsim.scenario import load_scenario
from fedsim.show import describe

ROOT = Path(__file__).resolve().parents[1]


def test_show_default_topology() -> None:
    console = Console(width=200, record=True)
    console.print(describe(load_scenario(ROOT / "topologies/default.yaml")))
    text = console.export_text()
    assert "gw (gateway, uplink backhaul: 20 Mbps, 20 ms, 28 devices directly below)" in text
    assert "sensor × 16 (samd21, wifi, shared medium, connectivity always)" in text
    assert "latency 22 ms, bottleneck 20 Mbps" in text
    assert "node gw down at 1801 s for 720 s" in text
