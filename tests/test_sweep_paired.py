"""Sweep points share their seeds, so their effects are paired by seed: the interval comes
from the per-seed ratios, not from two independent samples (Welch), which would count the
seed-to-seed spread the points share twice. Welch is kept for points whose seeds differ.

The redteam6 numbers: int8 vs float32 bytes to target per seed 0.740, 0.733, 0.724 was
reported as ×0.732 [0.118, 4.55], "about 104 seeds per point"; paired it is resolved."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from fake_results import synthetic_runner
from topo import write_sweep

from fedsim.record.aggregate import aggregate, aggregate_markdown
from fedsim.record.runs import load_run
from fedsim.record.sweep_stats import (
    PAIRED,
    WELCH,
    effect,
    effect_by_seed,
    paired_effect,
    seeds_needed,
)
from fedsim.sweep import expand, load_sweep, run_sweep

T_975_DF2 = 4.302652729911275
"""Student's t, 97.5th percentile, 2 degrees of freedom (t tables: 4.303)."""

RATIOS = [0.740, 0.733, 0.724]
REFERENCE = [60e3, 15e3, 240e3]
"""Three seeds whose values differ 16-fold: the spread both points share."""


def _hand_interval(ratios: list[float]) -> tuple[float, float, float]:
    """exp(mean ± t·sd/√n) of the log-ratios, computed here from the definitions."""
    logs = [math.log(r) for r in ratios]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    half = T_975_DF2 * sd / math.sqrt(3)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def test_the_paired_ratio_is_the_t_interval_of_the_per_seed_log_ratios() -> None:
    values = [r * ref for r, ref in zip(RATIOS, REFERENCE, strict=True)]
    e = paired_effect(list(zip(values, REFERENCE, strict=True)), "log")
    assert e is not None
    centre, low, high = _hand_interval(RATIOS)
    assert e.test == PAIRED
    assert e.n == 3
    assert e.value == pytest.approx((0.740 * 0.733 * 0.724) ** (1 / 3), rel=1e-12)
    assert e.value == pytest.approx(centre, rel=1e-12)
    assert (e.low, e.high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert 0.70 < e.low < 0.732 < e.high < 0.76  # by hand: [0.713, 0.752]
    assert e.resolved
    assert seeds_needed(e) is None


def test_unpaired_welch_on_the_same_seeds_is_many_times_wider() -> None:
    """What the sweep reported before: the points' shared spread counted as noise."""
    values = [r * ref for r, ref in zip(RATIOS, REFERENCE, strict=True)]
    welch = effect(values, REFERENCE, "log")
    paired = paired_effect(list(zip(values, REFERENCE, strict=True)), "log")
    assert welch is not None
    assert paired is not None
    assert welch.test == WELCH
    assert welch.value == pytest.approx(paired.value)  # same centre: same seeds
    assert not welch.resolved
    assert welch.half_width is not None
    assert paired.half_width is not None
    assert welch.half_width > 30 * paired.half_width
    need = seeds_needed(welch)
    assert need is not None
    assert need > 3


def test_points_with_the_same_seeds_are_paired_and_others_fall_back_to_welch() -> None:
    ref = {1: 10.0, 2: 20.0, 3: 40.0}
    same = effect_by_seed({1: 11.0, 2: 22.5, 3: 43.0}, ref, "log")
    assert same is not None
    assert same.test == PAIRED
    fewer = effect_by_seed({1: 11.0, 3: 43.0}, ref, "log")  # seed 2 never reached it
    assert fewer is not None
    assert fewer.test == WELCH
    diff = effect_by_seed({1: 0.91, 2: 0.93, 3: 0.90}, {1: 0.90, 2: 0.91, 3: 0.88}, "linear")
    assert diff is not None
    assert diff.kind == "difference"
    assert diff.test == PAIRED
    assert diff.value == pytest.approx(0.05 / 3)


def test_seeds_needed_follows_the_paired_spread_and_a_shrinking_t() -> None:
    """The fewest n with t(0.975, n−1)·spread/√n below the effect, checked by hand."""
    from scipy.stats import t

    e = paired_effect([(1.10, 1.0), (0.98, 1.0), (1.15, 1.0)], "log")
    assert e is not None
    assert not e.resolved
    need = seeds_needed(e)
    assert need is not None
    assert e.spread is not None

    def half(n: int) -> float:
        return float(t.ppf(0.975, n - 1)) * e.spread / math.sqrt(n)

    assert half(need) < e.size <= half(need - 1)


def test_a_sweep_pairs_by_seed_and_says_which_test(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, grid={"fl.codec": ["float32", "int8"]})
    spec = load_sweep(path)
    result = run_sweep(spec, out=tmp_path / "out", runner=synthetic_runner, workers=1)
    rows = list(csv.DictReader(io.StringIO((result.sweep_dir / "aggregate.csv").read_text())))
    int8 = next(r for r in rows if r["reference"] != "yes")
    assert int8["bytes_total_vs_ref_test"] == "paired"
    runs = result.sweep_dir / "runs"
    by_seed = {}
    for folder in sorted(runs.iterdir()):
        s = load_run(folder).summary
        by_seed.setdefault(s.seed, {})[s.codec] = s.bytes_up + s.bytes_down
    ratios = [by_seed[seed]["int8"] / by_seed[seed]["float32"] for seed in (1, 2, 3)]
    centre, low, high = _hand_interval(ratios)
    assert float(int8["bytes_total_vs_ref"]) == pytest.approx(centre, rel=1e-9)
    assert float(int8["bytes_total_vs_ref_low"]) == pytest.approx(low, rel=1e-9)
    assert float(int8["bytes_total_vs_ref_high"]) == pytest.approx(high, rel=1e-9)
    md = (result.sweep_dir / "aggregate.md").read_text()
    assert "| fl.codec=int8 | paired, 3 seeds |" in md

    # one int8 run lost: its point no longer has the reference's seeds, so Welch
    sweep_runs = expand(spec)
    lost = next(r for r in sweep_runs if r.seed == 2 and "int8" in r.point_label)
    (runs / lost.run_name / "summary.json").unlink()
    points = aggregate(sweep_runs, runs)
    e = points[1].effects["bytes_total"]
    assert e is not None
    assert e.test == WELCH
    md = aggregate_markdown(spec, points)
    assert "| fl.codec=int8 | Welch (unpaired: not the same seeds) |" in md
    row = next(line for line in md.splitlines() if line.startswith("| fl.codec=int8 | Welch"))
    cells = [c.strip() for c in row.strip("|").split("|")[2:]]
    shown = [c for c in cells if not c.startswith("—")]  # no effect (to target: reach)
    assert shown
    assert all("Welch" in c for c in shown)  # each effect cell names its test
