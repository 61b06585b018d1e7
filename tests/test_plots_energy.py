"""plots: energy per device (compute vs radio, by group) and its comparison across runs.

The numbers are read back from the drawn bars, so a figure that disagrees with clients.csv
fails here, not in a reviewer's eye."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_results import write_synthetic_run
from topo import tiny_topology

from fedsim.record.plots import MAX_ENERGY_DEVICES, comparison_figures, run_figures
from fedsim.record.runs import RunData, load_run, run_labels
from fedsim.run import run_scenario

_UNITS = {"kJ": 1e3, "J": 1.0, "mJ": 1e-3, "µJ": 1e-6}


def _scale(ax: Any) -> float:
    unit = re.search(r"\((\S+)\)$", ax.get_xlabel())
    assert unit is not None, ax.get_xlabel()
    return _UNITS[unit.group(1)]


def _widths(container: Any, scale: float) -> list[float]:
    return [bar.get_width() * scale for bar in container]


def _total(row: dict[str, Any]) -> float:
    return (row["energy_compute_j"] or 0.0) + (row["energy_radio_j"] or 0.0)


def _only_energy(run: RunData) -> RunData:
    """The run without the tables the other figures need: run_figures draws energy only."""
    return dataclasses.replace(run, rounds=[], timeline=[], links=[])


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    """A real two-round run: two battery sensors (a user profile) and two mains hubs."""
    tmp = tmp_path_factory.mktemp("energy")
    topo = tiny_topology(fl__rounds=2)
    topo["devices"] = {"board": {"like": "esp32", "battery": "1Wh"}}
    dev = topo["nodes"].pop()
    topo["nodes"] += [
        {**dev, "name": "sensor", "count": 2, "device": "board"},
        {**dev, "name": "hub", "count": 2, "device": "rpi4"},
    ]
    path = tmp / "energy.yaml"
    path.write_text(yaml.safe_dump(topo))
    return load_run(run_scenario(path, out_root=tmp))


def test_energy_figure_of_a_real_run_matches_clients_csv(real_run: RunData) -> None:
    figs = dict(run_figures(real_run))
    assert "energy" in figs
    ax = figs["energy"].axes[0]
    scale = _scale(ax)
    compute, *radio = ax.containers[:5]  # the radio's parts: tx, rx, idle, sleep
    assert [c.get_label().split()[0] for c in ax.containers[:5]] == [
        "compute", "tx", "rx", "idle", "sleep"
    ]  # fmt: skip
    rows = {r["client"]: r for r in real_run.clients}
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(names) == sorted(rows)  # one bar per device
    # devices of a group are adjacent and groups are sorted costliest first
    groups = [n.rsplit("-", 1)[0] for n in names]
    assert groups == sorted(groups, key=groups.index)
    assert len(set(groups)) == 2
    drawn = [_widths(part, scale) for part in radio]
    for i, (name, c) in enumerate(zip(names, _widths(compute, scale), strict=True)):
        assert c == pytest.approx(rows[name]["energy_compute_j"], rel=1e-9, abs=1e-15)
        for kind, part in zip(("tx", "rx", "idle", "sleep"), drawn, strict=True):
            assert part[i] == pytest.approx(rows[name][f"energy_{kind}_j"], rel=1e-9, abs=1e-15)
        assert sum(p[i] for p in drawn) == pytest.approx(  # each written to 9 decimals
            rows[name]["energy_radio_j"], rel=1e-9, abs=5e-9
        )
        assert rows[name]["energy_tx_j"] > 0
        assert rows[name]["energy_rx_j"] > 0
    assert sum(_widths(compute, scale)) + sum(map(sum, drawn)) == pytest.approx(
        sum(_total(r) for r in real_run.clients), rel=1e-8
    )
    mean_total = [sum(_total(rows[n]) for n in names if n.startswith(g)) for g in ("sensor", "hub")]
    first = "sensor" if mean_total[0] >= mean_total[1] else "hub"
    assert groups[0] == first
    group_labels = [t.get_text() for t in ax.child_axes[0].get_yticklabels()]
    assert set(group_labels) == {"sensor · wifi · board", "hub · wifi · rpi4"}
    notes = {t.get_text() for t in ax.texts}
    assert any("of 3.6 kJ battery" in n for n in notes)  # 1 Wh, from the run's own profile
    assert any("mains powered" in n for n in notes)  # rpi4 has no battery


def test_many_devices_are_drawn_per_group(tmp_path: Path) -> None:
    n = MAX_ENERGY_DEVICES + 1
    run = load_run(write_synthetic_run(tmp_path, name="big", devices=n, gateways=3, rounds=3))
    (stem, fig), *rest = run_figures(_only_energy(run))
    assert stem == "energy"
    assert not rest
    ax = fig.axes[0]
    scale = _scale(ax)
    assert f"{n} devices" in ax.get_title()
    compute, *parts, whiskers = ax.containers
    assert len(parts) == 4  # tx, rx, idle, sleep
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(compute) == 3  # one bar per gateway, not per device
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in run.clients:
        by_group.setdefault(row["gateway"], []).append(row)
    segments = whiskers.lines[2][0].get_segments()
    weighted = 0.0
    radio = [sum(ws) for ws in zip(*(_widths(p, scale) for p in parts), strict=True)]
    for label, c, r, seg in zip(labels, _widths(compute, scale), radio, segments, strict=True):
        match = re.fullmatch(r"via (\S+) \(×(\d+)\)", label)
        assert match is not None, label
        gw, count = match.groups()
        rows = by_group[gw]
        assert int(count) == len(rows)
        assert c == pytest.approx(sum(x["energy_compute_j"] for x in rows) / len(rows), rel=1e-9)
        assert r == pytest.approx(sum(x["energy_radio_j"] for x in rows) / len(rows), rel=1e-9)
        totals = [_total(x) for x in rows]
        lo, hi = seg[0][0] * scale, seg[1][0] * scale
        assert (lo, hi) == (pytest.approx(min(totals)), pytest.approx(max(totals)))
        weighted += (c + r) * len(rows)
    assert weighted == pytest.approx(sum(_total(x) for x in run.clients), rel=1e-9)


def test_no_clients_table_no_energy_figure(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path, name="a", devices=4, rounds=3)
    (run / "clients.csv").unlink()
    assert "energy" not in dict(run_figures(load_run(run)))
    assert "compare_energy" not in dict(comparison_figures([load_run(run)]))


def test_comparison_has_one_group_per_run(tmp_path: Path) -> None:
    dirs = [
        write_synthetic_run(tmp_path, name="a", devices=4, rounds=3),
        write_synthetic_run(tmp_path, name="b", devices=6, rounds=3, seed=2),
        write_synthetic_run(tmp_path, name="c", devices=4, rounds=3),
    ]
    (dirs[2] / "clients.csv").unlink()  # an older run: no energy, still one (empty) group
    runs = [load_run(d) for d in dirs]
    ax = dict(comparison_figures(runs))["compare_energy"].axes[0]
    scale = _scale(ax)
    compute, radio = ax.containers
    # synthetic runs have no audit.json: each label says so (docs/results.md)
    marked = [label + " (not audited)" for label in run_labels(runs)]
    # long labels are wrapped onto lines at spaces, never cut
    assert [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()] == marked
    assert len(compute) == len(radio) == len(runs)
    for run, c, r in zip(runs, _widths(compute, scale), _widths(radio, scale), strict=True):
        n = len(run.clients) or 1
        assert c == pytest.approx(sum(x["energy_compute_j"] for x in run.clients) / n)
        assert r == pytest.approx(sum(x["energy_radio_j"] for x in run.clients) / n)
    assert any("no energy data" in t.get_text() for t in ax.texts)
