"""compare reads like the study it is: runs labelled by what differs, every difference
shown, ratios against the first run, globs and sweep folders, 100 columns."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fake_results import write_synthetic_run
from rich.console import Console

from fedsim.errors import FedsimError
from fedsim.record.compare import compare_runs, expand_run_args, print_table
from fedsim.record.labels import config_facts, labels_for
from fedsim.record.runs import load_run, run_labels


@pytest.fixture
def four(tmp_path: Path) -> list[Path]:
    """Same scenario and seed; codec, strategy and one link's loss differ (as --set would)."""
    root = tmp_path / "results"
    return [
        write_synthetic_run(root, name="a", codec="float32"),
        write_synthetic_run(root, name="b", codec="int8"),
        write_synthetic_run(root, name="c", codec="int8", strategy="fedprox"),
        write_synthetic_run(root, name="d", codec="int8", strategy="fedprox", loss=0.2),
    ]


def test_labels_name_what_differs(four: list[Path]) -> None:
    """The baseline names its value of each chosen key; the others what they changed."""
    labels = run_labels([load_run(p) for p in four])
    assert labels[0].startswith("name=a, codec=float32, strategy=fedavg")
    assert labels[1] == "name=b, codec=int8"
    assert labels[2] == "name=c, codec=int8, strategy=fedprox"
    assert labels[3].startswith("name=d, codec=int8, strategy=fedprox, ")
    assert "links.*.loss=0.2" in labels[3]  # every link's loss, read once
    assert len(set(labels)) == 4


def test_fedbuff_is_labelled_fedbuff_not_its_unused_strategy() -> None:
    class S(dict):
        get = dict.get

    sync = config_facts({"fl": {"strategy": "fedavg"}}, S(strategy="fedavg", engine="sync"))
    fedbuff = config_facts(
        {"fl": {"strategy": {"name": "fedprox", "mu": 0.1}, "engine": "async"}},
        S(strategy="fedbuff", engine="async"),
    )
    assert labels_for([sync, fedbuff], ["x", "y"]) == [
        "engine=sync, strategy=fedavg",
        "engine=async, strategy=fedbuff",
    ]


def test_every_differing_key_has_a_row_and_ratios_are_against_the_first(
    four: list[Path],
) -> None:
    table = compare_runs(four)
    keys = [q.key for q in table.quantities]
    assert "overrides" in keys
    assert "config.links.lora.loss" in keys or any(k.startswith("config.links.") for k in keys)
    q = table.quantity("bytes_up")
    assert q.ratio(1) == pytest.approx(q.values[1] / q.values[0])
    assert f"×{q.ratio(1):.3g}" in table.cell_text(q, 1)
    assert table.quantity("ledger_model_bytes") is not None


def test_the_terminal_table_fits_in_100_columns(four: list[Path]) -> None:
    buf = io.StringIO()
    print_table(compare_runs(four), Console(file=buf, width=100))
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" not in buf.getvalue()  # nothing truncated


def test_globs_and_sweep_folders_expand_to_their_runs(four: list[Path], tmp_path: Path) -> None:
    root = four[0].parent
    assert expand_run_args([str(root / "*")]) == sorted(four)
    assert expand_run_args([root]) == sorted(four)
    sweep = tmp_path / "sweep"
    (sweep / "runs").mkdir(parents=True)
    (root / "a").rename(sweep / "runs" / "a")
    assert expand_run_args([sweep]) == [sweep / "runs" / "a"]
    assert expand_run_args([four[1], str(root / "*")])[0] == four[1]  # order kept, once each
    with pytest.raises(FedsimError, match="matches no finished run"):
        expand_run_args([str(tmp_path / "nothing-*")])


def test_many_runs_print_as_several_tables_each_with_the_baseline(tmp_path: Path) -> None:
    runs = [write_synthetic_run(tmp_path, name=f"r{i}", seed=i + 1) for i in range(6)]
    buf = io.StringIO()
    print_table(compare_runs(runs), Console(file=buf, width=100))
    text = buf.getvalue()
    assert text.count("Run comparison (runs") == 2  # runs 2-4 and 5-6, baseline in each
    assert text.count("(baseline)") == 2
    assert max(len(line) for line in text.splitlines()) <= 100
