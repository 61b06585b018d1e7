"""Sweep statistics: intervals inside a quantity's range, effects against a reference
point, a seed warning when the intervals are wider than the effects, value errors."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from fake_results import synthetic_runner
from topo import write_sweep

from fedsim.errors import FedsimError
from fedsim.record.sweep_stats import effect, interval, seeds_needed
from fedsim.sweep import load_sweep, run_sweep, validate_keys

ROOT = Path(__file__).resolve().parents[1]


def test_log_scale_intervals_stay_positive_and_centre_on_the_geometric_mean() -> None:
    values = [1e6, 8e6]  # two seeds, far apart: the linear t-interval runs far below 0
    n, centre, lo, hi = interval(values, "linear")
    assert lo is not None
    assert lo < 0
    n, centre, lo, hi = interval(values, "log")
    assert n == 2
    assert centre == pytest.approx(math.sqrt(1e6 * 8e6))
    assert lo is not None
    assert 0 < lo < centre < hi


def test_bounded_quantities_are_clipped_to_their_range() -> None:
    _, mean, lo, hi = interval([0.90, 0.99], "linear", (0.0, 1.0))
    assert mean == pytest.approx(0.945)
    assert hi == 1.0
    assert lo is not None
    assert lo >= 0.0


def test_a_clip_never_leaves_the_centre_outside_its_interval() -> None:
    """A value outside the quantity's range (an overhead share of -4 %, a wrong number the
    run's audit flags) widens the clip to it: before, the sweep printed a mean share of
    -1.3 % with the interval [0.0, 3.9]."""
    _, mean, lo, hi = interval([-0.040, -0.037, 0.038], "linear", (0.0, 1.0))
    assert lo is not None
    assert hi is not None
    assert lo <= mean <= hi
    assert lo == pytest.approx(-0.040)
    _, centre, lo, hi = interval([-6870.0, 120.0], "log")  # falls back to linear, at 0
    assert lo is not None
    assert hi is not None
    assert lo <= centre <= hi


def test_effects_are_ratios_with_welch_intervals_and_say_how_many_seeds() -> None:
    e = effect([2.0, 2.2, 1.8], [1.0, 1.1, 0.9], "log")
    assert e is not None
    assert e.kind == "ratio"
    assert e.value == pytest.approx(2.0, rel=0.01)
    assert e.resolved
    assert seeds_needed(e) is None
    noisy = effect([1.1, 3.0], [1.0, 2.5], "log")
    assert noisy is not None
    assert not noisy.resolved
    need = seeds_needed(noisy)
    assert need is not None
    assert need > 2
    diff = effect([0.95, 0.96], [0.90, 0.91], "linear")
    assert diff is not None
    assert diff.kind == "difference"
    assert diff.value == pytest.approx(0.05)


def test_a_sweep_measures_every_point_against_its_reference(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, seeds=[1, 2], reference={"fl.codec": "int8", "links.0.loss": 0.05})
    spec = load_sweep(path)
    assert spec.reference == "fl.codec=int8, links.0.loss=0.05"
    result = run_sweep(spec, out=tmp_path / "out", runner=synthetic_runner, workers=1)
    rows = list(csv.DictReader(io.StringIO((result.sweep_dir / "aggregate.csv").read_text())))
    ref = [r for r in rows if r["reference"] == "yes"]
    assert [r["point"] for r in ref] == [spec.reference]
    assert ref[0]["bytes_total_vs_ref"] == ""
    other = next(r for r in rows if r["reference"] != "yes")
    assert float(other["bytes_total_vs_ref"]) > 0
    assert other["bytes_total_scale"] == "log"
    for row in rows:
        assert float(row["bytes_total_ci95_low"]) > 0  # never a negative byte interval
    md = (result.sweep_dir / "aggregate.md").read_text()
    assert "## Against the reference point" in md
    # two seeds and noisy synthetic results: some effects are inside their intervals
    # synthetic runs carry no audit.json: one line says they were never audited
    unaudited, seed_lines = result.warnings[0], result.warnings[1:]
    assert unaudited.startswith("8 of 8 aggregated runs were not audited")
    assert seed_lines
    assert all("with 2 seeds" in w for w in seed_lines)
    assert any("seeds per point would resolve" in w for w in seed_lines)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"fl.kodec": "int8"}, "reference.fl.kodec is not a grid key"),
        ({"fl.codec": "int4"}, "reference.fl.codec: int4 is not one of its grid values"),
    ],
)
def test_a_bad_reference_is_named(tmp_path: Path, reference: dict, message: str) -> None:
    with pytest.raises(FedsimError, match=message):
        load_sweep(write_sweep(tmp_path, reference=reference))


def test_a_bad_value_is_a_value_error_not_a_missing_key(tmp_path: Path) -> None:
    """fl.codec is not written in default.yaml (it takes its default): int4 is a bad
    value of a key that exists."""
    sweep = tmp_path / "bad.yaml"
    sweep.write_text(
        f"name: bad\nbase: {ROOT / 'topologies/default.yaml'}\n"
        "grid:\n  fl.codec: [float32, int4]\nseeds: [1]\n"
    )
    with pytest.raises(FedsimError) as info:
        validate_keys(load_sweep(sweep))
    assert str(info.value).startswith("sweep value fl.codec=int4: fl.codec: 'int4' is not one of")
    assert "not found" not in str(info.value)


@pytest.mark.parametrize(
    "sweep", sorted((ROOT / "topologies/sweeps").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_shipped_sweep_passes_its_key_check(sweep: Path) -> None:
    """`make sweep`'s own file failed with `fl.target: set twice`: a `set` key the base file
    does not name (a default) was checked with itself given twice."""
    validate_keys(load_sweep(sweep))
