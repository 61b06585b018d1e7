"""The results schema: one row type per table, used by the writer, the reader and the docs;
dropouts mean one thing in rounds.csv, clients.csv and summary.json (finding 3)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from fake_results import fake_summary, write_synthetic_run

from fedsim.audit import audit
from fedsim.audit.dropouts import check as dropouts_reconcile
from fedsim.audit.dropouts import check_participation
from fedsim.errors import FedsimError
from fedsim.record.runs import load_run
from fedsim.record.schema import (
    DROPOUT_CAUSES,
    TABLES,
    ClientRow,
    LinkRow,
    RoundRow,
    TimelineRow,
    columns,
)
from fedsim.record.schema_doc import BEGIN, END, markdown
from fedsim.record.writer import write_run
from fedsim.run import RunResult, simulate
from fedsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def _client(name: str, **fields: int) -> ClientRow:
    cells = {f"dropouts_{c}": 0 for c in DROPOUT_CAUSES}
    cells.update({k: v for k, v in fields.items() if k.startswith("dropouts_")})
    rest = {k: v for k, v in fields.items() if not k.startswith("dropouts_")}
    return ClientRow(
        client=name, device="esp32", gateway="gw", rounds_selected=rest.get("selected", 3),
        rounds_reported=rest.get("reported", 1), rounds_surplus=rest.get("surplus", 1),
        dropouts=sum(cells.values()), **cells, bytes_up=10, bytes_down=20,
        energy_compute_j=0.125, energy_radio_j=1e-9,
        env_episodes=rest.get("episodes"), env_steps=None,
    )  # fmt: skip


def test_every_table_round_trips_through_writer_and_reader(tmp_path: Path) -> None:
    rounds = [
        RoundRow(
            1,
            10.5,
            3,
            2,
            1,
            1,
            1,
            100,
            200,
            150,
            260,
            0.5,
            {"deadline": 1},
            0.5,
            None,
            aggregated=2,  # a column added later: keyword-only, placed after `reported`
        ),
        RoundRow(2, 20.123456789, 3, 0, 3, 0, 1, 0, 0, 0, 0, math.nan, {"a": 1, "b": 2}),
    ]
    links = [LinkRow("d-gw", "d", "gw", "lora", "up", 5, 7, 1, 0, 0, 0.25, 3600.0)]
    timeline = [
        TimelineRow("d", "idle", 0.0, 1.5),
        TimelineRow("d", "offline", 1.5, 20.0, "device_offline:d"),
    ]
    clients = [
        _client("d", selected=3, reported=1, surplus=1, dropouts_deadline=1, episodes=7),
        _client("e", selected=2, reported=0, surplus=0, dropouts_churn=2),
    ]
    summary = fake_summary(
        dropouts={"deadline": 1, "churn": 2}, final_metric=0.5, never_contributed=["e"]
    )
    out = write_run(
        tmp_path / "run", config={"name": "x"}, rounds=rounds, links=links, timeline=timeline,
        clients=clients, topology={"nodes": [], "links": []}, summary=summary,
    )  # fmt: skip
    run = load_run(out)
    assert run.rounds[0] == rounds[0]
    assert math.isnan(run.rounds[1].metric)
    # NaN equals nothing, itself included (3.13's dataclass __eq__ compares field by field)
    assert dataclasses.replace(run.rounds[1], metric=0.0) == dataclasses.replace(
        rounds[1], metric=0.0
    )
    assert (run.links, run.timeline, run.clients) == (links, timeline, clients)
    assert run.summary == dataclasses.replace(summary, code=run.summary.code)
    assert len(run.summary.code) == 12
    header = (out / "clients.csv").read_text().splitlines()[0].split(",")
    assert header == [c.name for c in columns(ClientRow)]


def test_docs_results_md_is_generated_from_the_schema() -> None:
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == markdown().strip(), "docs/results.md is stale: run make results-doc"
    for name, row_type in TABLES.items():
        for col in columns(row_type):
            assert f"| `{col.name}` |" in block, (name, col.name)


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("rounds.csv", "\n1,", "\none,", r"rounds.csv: line 2, column 'round': expected an int"),
        ("clients.csv", "rounds_surplus,", "", r"clients.csv: no column 'rounds_surplus'"),
        ("rounds.csv", "deadline:", "deadline=", r"column 'failed_causes': expected cause:count"),
        ("summary.json", '"engine"', '"engine_"', r"summary.json: no field 'engine'"),
        ("summary.json", '"devices": 8', '"devices": "8"', r"field 'devices': expected an int"),
    ],
)
def test_a_malformed_or_old_folder_is_one_line_naming_file_and_column(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    run = write_synthetic_run(tmp_path, name="a", seed=3)
    path = run / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(FedsimError, match=message) as info:
        load_run(run)
    assert "\n" not in str(info.value)


def test_unknown_causes_fold_into_other() -> None:
    from fedsim.record.dropouts import dropout_cells

    cells = dropout_cells({"deadline": 2, "psm_sleep": 1})
    assert (cells["dropouts"], cells["dropouts_deadline"], cells["dropouts_other"]) == (3, 2, 1)


@pytest.fixture(scope="module")
def default_run() -> RunResult:
    return simulate(load_scenario(ROOT / "topologies" / "default.yaml"))


def test_default_run_dropouts_reconcile(default_run: RunResult, tmp_path: Path) -> None:
    """Finding 3: clients.csv `dropouts` summed to 122 while summary.json said 10."""
    result = default_run
    assert list(dropouts_reconcile(result)) == []
    mine = {"dropouts-reconcile", "participation-reconcile"}
    assert [v for v in audit(result) if v.invariant in mine] == []
    total = sum(result.summary.dropouts.values())
    assert sum(c.dropouts for c in result.clients) == total
    assert sum(r.failed for r in result.rounds) == total
    for cause, n in result.summary.dropouts.items():
        assert sum(getattr(c, f"dropouts_{cause}") for c in result.clients) == n
    assert result.summary.rounds_surplus > 0  # over-selection: surplus, not dropouts
    assert (result.summary.engine, result.summary.strategy) == ("sync", "fedavg")
    # The sensor that is always the over-selected loser is flagged.
    flagged = result.summary.never_contributed
    assert flagged
    for name in flagged:
        row = next(c for c in result.clients if c.client == name)
        assert (row.rounds_reported, row.rounds_selected >= 5) == (0, True)
    # What the folder holds reads back the same.
    out = write_run(
        tmp_path / "run", config={}, rounds=result.rounds, links=result.links,
        timeline=result.timeline, clients=result.clients, topology=result.topology,
        summary=result.summary,
    )  # fmt: skip
    assert list(dropouts_reconcile(load_run(out))) == []


def test_a_doctored_result_does_not_reconcile(default_run: RunResult) -> None:
    result = default_run
    victim = next(c for c in result.clients if c.dropouts)
    cause = next(iter(victim.dropouts_by_cause()))
    moved = dataclasses.replace(
        victim,
        **{f"dropouts_{cause}": getattr(victim, f"dropouts_{cause}") - 1, "dropouts_lost": 1},
    )
    doctored = dataclasses.replace(
        result, clients=[moved if c is victim else c for c in result.clients]
    )
    found = list(dropouts_reconcile(doctored))
    assert found
    assert found[0].invariant == "dropouts-reconcile"
    assert "clients.csv dropouts_*" in found[0].line()
    old_style = dataclasses.replace(  # selected minus reported, as clients.csv used to say
        victim, dropouts=victim.rounds_selected - victim.rounds_reported
    )
    found = list(
        dropouts_reconcile(
            dataclasses.replace(
                result, clients=[old_style if c is victim else c for c in result.clients]
            )
        )
    )
    assert any(f"clients.csv {victim.client}: dropouts" in v.detail for v in found)
    one_more = dataclasses.replace(victim, rounds_reported=victim.rounds_reported + 1)
    found = list(
        check_participation(
            dataclasses.replace(
                result, clients=[one_more if c is victim else c for c in result.clients]
            )
        )
    )
    assert [v.invariant for v in found] == ["participation-reconcile"]
    assert "rounds.csv reported sums to" in found[0].detail


def test_fedbuff_runs_name_their_engine(tmp_path: Path) -> None:
    sc = load_scenario(ROOT / "topologies" / "stragglers.yaml", ["fl.rounds=3", "fl.engine=async"])
    result = simulate(sc)
    assert (result.summary.engine, result.summary.strategy) == ("async", "fedbuff")
    assert list(dropouts_reconcile(result)) == []
    assert list(check_participation(result)) == []
    for c in result.clients:
        assert c.rounds_selected == c.rounds_reported + c.dropouts + c.rounds_surplus


def test_an_older_table_without_a_later_column_reads_back_with_its_default(
    tmp_path: Path,
) -> None:
    """timeline.csv before its `cause` column: each row gets the column's default."""
    from fedsim.record.tables import read_table

    path = tmp_path / "timeline.csv"
    path.write_text("client,state,start_s,end_s\nd,offline,1.5,20.0\nd,idle,20.0,25\n")
    assert read_table(path, TimelineRow) == [
        TimelineRow("d", "offline", 1.5, 20.0, ""),
        TimelineRow("d", "idle", 20.0, 25.0, ""),
    ]
    path.write_text("client,state,start_s,end_s\nd,offline,1.5,soon\n")
    with pytest.raises(FedsimError, match=r"line 2, column 'end_s': expected a number"):
        read_table(path, TimelineRow)


def test_config_yaml_reads_back_as_yaml_safe_load_reads_it(tmp_path: Path) -> None:
    """A run's config.yaml is read with libyaml's parser when present: the same data."""
    import yaml

    folder = write_synthetic_run(tmp_path, name="cfg", rounds=2)
    text = (folder / "config.yaml").read_text(encoding="utf-8")
    text += (
        "extra:\n  floats: [1.0e-3, .5, -0.0, 1e3, .inf, 3.14159265358979]\n"
        "  ints: [0x10, 0o7, -12, 1_000]\n  words: [yes, 'no', null, ~, true, '2001-12-14']\n"
        "  nested: {a: [1, {b: ''}], 'c d': \"é\\t\"}\n"
    )
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    config = load_run(folder).config
    assert config == yaml.safe_load(text)
    assert config["extra"]["floats"][0] == 1.0e-3


def test_a_non_finite_value_in_an_optional_column_is_not_blank(tmp_path: Path) -> None:
    """Blank in an optional column means none (candidate_metric: no aggregate); a
    diverged aggregate's metric is written `inf` or `nan` (outside audit redteam6,
    finding 9: lr 0.9 on load_forecast aggregated 2 updates, candidate_metric blank)."""
    rounds = [
        RoundRow(1, 1.0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1.0, {}, math.inf, None, aggregated=2),
        RoundRow(2, 2.0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1.0, {}, math.nan, None, aggregated=2),
        RoundRow(3, 3.0, 2, 0, 2, 0, 0, 0, 0, 0, 0, math.nan, {"deadline": 2}, None, None),
    ]
    out = write_run(
        tmp_path / "run", config={"name": "x"}, rounds=rounds, links=[], timeline=[],
        clients=[], topology={"nodes": [], "links": []}, summary=fake_summary(),
    )  # fmt: skip
    lines = (out / "rounds.csv").read_text().splitlines()
    cells = [dict(zip(lines[0].split(","), line.split(","), strict=True)) for line in lines[1:]]
    assert [c["candidate_metric"] for c in cells] == ["inf", "nan", ""]
    assert cells[2]["metric"] == ""  # a required float column: blank is NaN, as before
    back = load_run(out).rounds
    assert back[0].candidate_metric == math.inf
    assert math.isnan(back[1].candidate_metric)  # type: ignore[arg-type]
    assert back[2].candidate_metric is None
    assert math.isnan(back[2].metric)
