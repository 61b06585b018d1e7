"""compare says when it is not comparing like with like: another network (node set, device
count, link classes), another seed, a run without its per-round table; labels that tell
the runs apart; and comparison plots whose legends fit and carry every mark."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from fake_results import write_synthetic_run
from matplotlib.backends.backend_agg import FigureCanvasAgg

from fedsim.record.compare import compare_runs
from fedsim.record.plots import comparison_figures, comparison_legend_labels
from fedsim.record.runs import load_run, run_labels


def _patch(run: Path, **summary: Any) -> Path:
    """Set summary.json keys of `run` (as a run made with --set, or that ended early)."""
    path = run / "summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(summary)
    path.write_text(json.dumps(data), encoding="utf-8")
    return run


def _run(root: Path, folder: str, **kwargs: Any) -> Path:
    """A run of scenario `study` in `root/folder` (the folder name is not the scenario's)."""
    run = write_synthetic_run(root, name=folder, **kwargs)
    config = run / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(f"name: {folder}", "name: study", 1),
        encoding="utf-8",
    )
    return _patch(run, scenario="study", overrides=[])


def test_another_device_count_is_warned_and_totals_get_no_ratio(tmp_path: Path) -> None:
    small = _patch(_run(tmp_path, "small", devices=8), energy_to_target_j=8.0)
    big = _patch(_run(tmp_path, "big", devices=12, gateways=3), energy_to_target_j=30.0)
    table = compare_runs([small, big])
    text = "\n".join(table.warnings)
    assert "device count: 8 (`small`) vs 12 (`big`)" in text
    assert "node set" in text  # dev08..dev11 and gw2 only in one
    energy = table.quantity("energy_to_target_j")
    assert energy.ratio(1) is None
    assert energy.delta(1) == (None, None)
    assert "not compared: 12 vs 8 devices" in table.cell_text(energy, 1)
    assert "ratio_energy_to_target_j" in table.to_csv()
    per_device = table.quantity("energy_to_target_j_per_device")
    assert per_device.values == [energy.values[0] / 8, energy.values[1] / 12]
    assert per_device.ratio(1) == pytest.approx(per_device.values[1] / per_device.values[0])
    # a per-device figure keeps its ratio
    assert table.quantity("energy_j_mean").ratio(1) is not None


def test_same_device_count_has_no_per_device_rows(tmp_path: Path) -> None:
    table = compare_runs([_run(tmp_path, "a"), _run(tmp_path, "b", codec="int8")])
    keys = [q.key for q in table.quantities]
    assert not any(k.endswith("_per_device") for k in keys)
    assert not any("device count" in w or "node set" in w for w in table.warnings)


def test_other_link_classes_are_warned(tmp_path: Path) -> None:
    # one gateway: wifi and lora devices; two: wifi, lora, nbiot and lte
    table = compare_runs([_run(tmp_path, "a", gateways=1), _run(tmp_path, "b", gateways=2)])
    line = next(w for w in table.warnings if "link classes" in w)
    assert "backhaul, lora, wifi (`a`)" in line
    assert "lte" in line
    assert "nbiot" in line


def test_runs_differing_only_in_seed_say_it_is_seed_noise(tmp_path: Path) -> None:
    table = compare_runs([_run(tmp_path, "s3", seed=3), _run(tmp_path, "s4", seed=4)])
    line = next(w for w in table.warnings if w.startswith("seed "))
    assert "3 (`s3`) vs 4 (`s4`)" in line
    assert "differ only in seed" in line
    assert "fedsim sweep" in line
    assert "docs/sweeps.md" in line


def test_seed_and_settings_differing_say_ratios_include_seed_noise(tmp_path: Path) -> None:
    table = compare_runs([_run(tmp_path, "a", seed=1), _run(tmp_path, "b", seed=2, codec="int8")])
    line = next(w for w in table.warnings if w.startswith("seed "))
    assert "as well as settings" in line
    assert "seed noise" in line


def test_one_seed_has_no_seed_warning(tmp_path: Path) -> None:
    table = compare_runs([_run(tmp_path, "a"), _run(tmp_path, "b", codec="int8")])
    assert not any("seed" in w for w in table.warnings)


def test_labels_name_the_seed_and_the_set_keys_not_the_alphabet(tmp_path: Path) -> None:
    runs = [
        _run(tmp_path, "base", seed=3),
        _run(tmp_path, "other-seed", seed=4),
        _patch(_run(tmp_path, "int8", seed=3, codec="int8"), overrides=["fl.codec=int8"]),
        _patch(_run(tmp_path, "lossy", seed=3, loss=0.2), overrides=["links.dev00-gw0.loss=0.2"]),
    ]
    labels = run_labels([load_run(p) for p in runs])
    assert labels[0].startswith("seed=3, codec=float32, links.")  # the baseline in full
    assert labels[1] == "seed=4"  # what it changed, nothing else
    assert labels[2] == "seed=3, codec=int8"
    assert labels[3] == "seed=3, links.dev00-gw0.loss=0.2"  # its --set key, not every link
    assert not any("name=" in label for label in labels)  # one scenario: not named
    assert all(len(label) <= 60 for label in labels)


def test_labels_skip_keys_a_run_does_not_have(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", devices=4)
    b = _patch(_run(tmp_path, "b", devices=6, seed=2), scenario="other")
    (b / "config.yaml").write_text(
        (b / "config.yaml").read_text(encoding="utf-8").replace("name: study", "name: other"),
        encoding="utf-8",
    )
    labels = compare_runs([a, b]).labels
    assert labels == ["name=study, seed=1", "name=other, seed=2"]


def test_wire_to_target_comes_from_the_summary_without_rounds_csv(tmp_path: Path) -> None:
    a = _patch(_run(tmp_path, "a"), wire_bytes_to_target=123_456)
    b = _patch(_run(tmp_path, "b"), wire_bytes_to_target=100_000)
    (b / "rounds.csv").unlink()
    table = compare_runs([a, b])
    assert table.quantity("wire_bytes_to_target").values == [123_456, 100_000]
    line = next(w for w in table.warnings if "no per-round table" in w)
    assert "`b` (no rounds.csv)" in line
    assert "`a`" not in line


def test_an_empty_rounds_csv_is_named_in_the_plot_legend(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b", codec="int8")
    header = (b / "rounds.csv").read_text(encoding="utf-8").splitlines()[0]
    (b / "rounds.csv").write_text(header + "\n", encoding="utf-8")
    runs = [load_run(a), load_run(b)]
    assert any("`b` (rounds.csv is empty)" in w for w in compare_runs(runs).warnings)
    fig = dict(comparison_figures(runs))["compare_metric_vs_time"]
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert entries[1] == "no curve: codec=int8 (not audited) (rounds.csv is empty)"


def test_legends_carry_early_end_and_audit_marks(tmp_path: Path) -> None:
    a = _run(tmp_path, "a")
    b = _patch(_run(tmp_path, "b", codec="int8"), end_reason="time_limit")
    labels = comparison_legend_labels([load_run(a), load_run(b)])
    assert labels[0].endswith("(not audited) (baseline)")
    assert labels[1].endswith("(not audited) (ended early: time_limit)")


def test_many_long_labelled_runs_leave_the_axes_their_room(tmp_path: Path) -> None:
    """Six runs with long labels: the legend goes under the axes, wrapped, and the axes
    keep most of the figure; matplotlib never gives up its layout."""
    runs = [
        _patch(
            _run(tmp_path, f"r{i}", seed=i + 1, codec=("float32", "int8")[i % 2]),
            overrides=[
                f"fl.codec={('float32', 'int8')[i % 2]}",
                f"links.dev0{i}-gw{i % 2}.loss=0.3",
            ],
            end_reason="time_limit" if i == 5 else "rounds",
        )
        for i in range(6)
    ]
    loaded = [load_run(p) for p in runs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "constrained_layout not applied" would raise
        figures = dict(comparison_figures(loaded))
        for stem in ("compare_metric_vs_time", "compare_metric_vs_bytes"):
            fig = figures[stem]
            FigureCanvasAgg(fig).draw()
            ax = fig.axes[0]
            assert ax.get_position().height > 0.4  # of the figure's height
            (legend,) = fig.legends
            texts = [t.get_text() for t in legend.get_texts()]
            assert len(texts) == 6
            assert all(len(line) <= 56 for t in texts for line in t.splitlines())
            assert "ended early: time_limit" in texts[5].replace("\n", " ")
            box = legend.get_window_extent()
            assert box.y1 <= ax.get_window_extent().y0  # under the axes, not over them
            assert box.x0 >= 0
            assert box.x1 <= fig.bbox.width


def test_two_topologies_are_labelled_by_their_names_not_every_key(tmp_path: Path) -> None:
    """Runs of two files that differ in many keys: `name=...` says it, not `+20 more`."""
    a = _run(tmp_path, "a")
    b = _run(tmp_path, "b", rounds=12, loss=0.3, devices=6)
    config = b / "config.yaml"
    text = config.read_text(encoding="utf-8").replace("name: study", "name: other")
    config.write_text(text.replace("clients_per_round: 4", "clients_per_round: 3"), "utf-8")
    _patch(b, scenario="other")
    labels = compare_runs([a, b]).labels
    assert labels == ["name=study", "name=other"]


def _asking(run: Path, per_round: str) -> Path:
    """The run's config.yaml with `fl.clients_per_round: per_round`."""
    config = run / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert "clients_per_round: 4" in text
    config.write_text(text.replace("clients_per_round: 4", f"clients_per_round: {per_round}"))
    return run


def test_totals_compare_across_device_counts_when_each_round_asks_as_many(
    tmp_path: Path,
) -> None:
    """Outside audit redteam8, finding 4: `clients_per_round: 4` over 8 and 12 devices
    asks 4 clients a round in both; the model bytes and dropouts they make compare as
    they are. Changed for redteam9, finding 1: payload, wire and protocol bytes also
    hold the never-asked devices' long polls, so they follow the device count (this test
    expected their ratio before; that was the wrong rule)."""
    ledger = {"model_up": 28_600, "model_down": 28_600, "protocol_up": 54_765}
    small = _patch(_run(tmp_path, "small", devices=8), energy_to_target_j=8.0, ledger=ledger)
    ledger = {**ledger, "protocol_up": 207_941}
    big = _patch(_run(tmp_path, "big", devices=12), energy_to_target_j=30.0, ledger=ledger)
    table = compare_runs([small, big])
    line = next(w for w in table.warnings if "device count" in w)
    assert "every run asks 4 clients a round (fl.clients_per_round), so model bytes" in line
    assert "never asked" in line
    assert table.quantity("dropouts_total").devices is None
    assert table.quantity("ledger_model_bytes").devices is None
    assert table.quantity("ledger_model_bytes").ratio(1) == pytest.approx(1.0)
    keys = [q.key for q in table.quantities]
    for key in ("bytes_up", "wire_bytes_down", "ledger_protocol_bytes", "energy_to_target_j"):
        assert table.quantity(key).ratio(1) is None, key
        assert f"{key}_per_device" in keys
    assert table.quantity("wire_bytes_per_update").ratio(1) is None
    assert "ledger_model_bytes_per_device" not in keys


@pytest.mark.parametrize(("per_round", "why"), [("100%", "every device"), ("10", "10 of 8")])
def test_per_device_rows_when_the_clients_asked_differ(
    tmp_path: Path, per_round: str, why: str
) -> None:
    """All of 8 vs all of 12 devices (or 10 asked of 8 vs 10 of 12) ask other numbers."""
    small = _asking(_run(tmp_path, "small", devices=8), per_round)
    big = _asking(_run(tmp_path, "big", devices=12), per_round)
    table = compare_runs([small, big])
    line = next(w for w in table.warnings if "device count" in w)
    assert "and in the clients a round asks (fl.clients_per_round)" in line, why
    assert table.quantity("bytes_up").ratio(1) is None
    assert "bytes_up_per_device" in [q.key for q in table.quantities]


def test_equal_device_counts_compare_totals_whatever_is_asked(tmp_path: Path) -> None:
    table = compare_runs(
        [_asking(_run(tmp_path, "a"), "2"), _asking(_run(tmp_path, "b", codec="int8"), "100%")]
    )
    assert table.quantity("bytes_up").ratio(1) is not None
    assert not any("device count" in w for w in table.warnings)
