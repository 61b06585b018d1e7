"""A run folder holds one run, and a sweep reuses a finished run only if it is the same run.

Re-running into an existing folder removes everything the previous run left (an old
report.html or plots/ next to new results would show the old numbers as current); a run
that fails its audit keeps its own tables and audit.json but no report. A sweep whose
base file was edited re-runs the runs whose recorded config.yaml no longer matches.
Overrides whose result depends on their order, or a seed given twice, are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from topo import CountingRunner, tiny_topology, write_sweep

from fedsim.audit import AuditError, Violation
from fedsim.cli import main
from fedsim.errors import FedsimError, ScenarioError
from fedsim.run_folder import as_recorded, recorded_config, resolved_config, run_config
from fedsim.scenario import parse_scenario, prepare_scenario
from fedsim.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the sweep's aggregated outputs (plots take seconds); reuse does not need them."""
    from fedsim.record import aggregate

    monkeypatch.setattr(aggregate, "write_sweep_outputs", lambda *_args: [])


def _topology(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_topology(**changes), sort_keys=False))
    return path


def _run(path: Path, out: Path, *extra: str) -> Path:
    assert main(["run", str(path), "--quiet", "--no-plots", "--out", str(out), *extra]) == 0
    (folder,) = out.iterdir()
    return folder


def _leave_old_outputs(folder: Path) -> None:
    """What a previous run with plots (and --png) left in its folder."""
    (folder / "report.html").write_text("<p>accuracy 0.6518</p>")
    (folder / "plots").mkdir()
    (folder / "plots" / "accuracy.png").write_bytes(b"old")
    (folder / "plots" / "accuracy.svg").write_text("<svg/>")


def test_rerun_into_a_folder_removes_the_previous_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    first = _run(_topology(tmp_path), out)
    assert first.name == "tiny-seed3"
    _run(_topology(tmp_path), out)  # the same run again: nothing to say
    assert "replaced" not in capsys.readouterr().err
    _leave_old_outputs(first)
    path = _topology(tmp_path, fl__local__lr=0.5)  # same name and seed: same folder
    second = _run(path, out)
    assert second == first
    assert (
        f"{first} held a run of another configuration (its config.yaml differed): replaced"
        in capsys.readouterr().err
    )
    assert sorted(p.name for p in second.iterdir()) == [
        "audit.json", "clients.csv", "config.yaml", "ledger.csv", "links.csv", "model.npy",
        "rounds.csv", "summary.json", "timeline.csv", "topology.json",
    ]  # fmt: skip
    assert recorded_config(second) == resolved_config(path, [], 3)
    assert recorded_config(second)["fl"]["local"]["lr"] == 0.5


def test_a_run_that_fails_its_audit_leaves_no_report_of_the_previous_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fedsim import run as run_module

    out = tmp_path / "results"
    path = _topology(tmp_path)
    folder = _run(path, out)
    _leave_old_outputs(folder)
    broken = [Violation("bytes-reconcile", "round 2: 5 bytes missing")]
    monkeypatch.setattr(run_module, "audit_run", lambda _result: broken)
    with pytest.raises(AuditError) as caught:
        run_module.run_scenario(path, out_root=out, plots=True)
    assert caught.value.folder == folder
    assert not (folder / "report.html").exists()
    assert not (folder / "plots").exists()
    audit = json.loads((folder / "audit.json").read_text())
    assert audit["violations"] == [
        {"invariant": "bytes-reconcile", "detail": "round 2: 5 bytes missing"}
    ]
    assert json.loads((folder / "summary.json").read_text())["rounds"] == 3


@pytest.mark.parametrize(
    "path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "topologies").rglob("*.yaml")
                   if "sweeps" not in p.parts)
)  # fmt: skip
def test_the_sweep_resolves_the_config_a_run_writes(path: str) -> None:
    """`resolved_config` (no validation) agrees with what `fedsim run` writes."""
    overrides = ["fl.rounds=3", "fl.codec=int8"]
    scenario = prepare_scenario(ROOT / path, overrides, 5)
    assert as_recorded(run_config(scenario)) == resolved_config(ROOT / path, overrides, 5)


def test_a_folder_no_run_wrote_is_refused_not_emptied(tmp_path: Path) -> None:
    from fedsim.run_folder import clear_run_folder

    mine = tmp_path / "tiny-seed3"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(FedsimError, match="is not a run folder"):
        clear_run_folder(mine)
    assert (mine / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("overrides", "seed", "message"),
    [
        (["fl.rounds=3", "fl.rounds=6"], None, r"^fl\.rounds: set twice \(fl\.rounds=3 and"),
        (["fl.rounds=6", " fl.rounds =3"], None, r"^fl\.rounds: set twice"),
        (["fl.local={lr: 0.1}", "fl.local.lr=0.2"], None, r"^fl\.local: set twice"),
        (["seed=3"], 5, r"^seed: the seed is 5 and the override seed=3 sets it too"),
    ],
)
def test_overrides_that_depend_on_their_order_are_refused(
    tmp_path: Path, overrides: list[str], seed: int | None, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        prepare_scenario(_topology(tmp_path), overrides, seed)


def test_cli_refuses_seed_and_seed_override_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(_topology(tmp_path)), "--seed", "5", "--set", "seed=3",
            "--quiet", "--no-plots", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "seed: the seed is 5 and the override seed=3 sets it too; give one" in err
    assert not (tmp_path / "out").exists()


def test_a_sweep_key_in_set_and_grid_is_refused(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, grid={"fl.rounds": [3, 6]})  # set: fl.rounds=6
    with pytest.raises(
        FedsimError, match=r"fl\.rounds: set twice \(fl\.rounds=6 and fl\.rounds=3\)"
    ):
        load_sweep(path)
    path = write_sweep(tmp_path, set=["seed=3"])
    with pytest.raises(FedsimError, match="seed: the seed is 1 and the override seed=3 sets it"):
        load_sweep(path)


def _edit_base(tmp_path: Path, **fl: object) -> None:
    base = tmp_path / "base.yaml"
    data = yaml.safe_load(base.read_text())
    data["fl"].update(fl)
    base.write_text(yaml.safe_dump(data))


@pytest.mark.usefixtures("no_outputs")
@pytest.mark.parametrize("reuse_stale", [False, True])
def test_sweep_reruns_runs_of_an_edited_base_file(tmp_path: Path, reuse_stale: bool) -> None:
    spec = load_sweep(write_sweep(tmp_path, seeds=[1]))
    _edit_base(tmp_path, clients_per_round=10)
    out = tmp_path / "out"
    first = CountingRunner()
    run_sweep(spec, out=out, runner=first, workers=1)
    assert len(first.calls) == 4

    _edit_base(tmp_path, clients_per_round=4)
    logs: list[str] = []
    again = CountingRunner()
    result = run_sweep(
        spec, out=out, runner=again, workers=1, log=logs.append, reuse_stale=reuse_stale
    )
    assert sorted(again.calls) == sorted(first.calls)
    assert sorted(result.changed) == sorted(first.calls)
    assert logs[0] == "sweep s: 4 runs, 0 already done"
    assert logs[1].startswith("4 re-run: their topology changed")
    for name in first.calls:
        assert recorded_config(result.sweep_dir / "runs" / name)["fl"]["clients_per_round"] == 4

    _edit_base(tmp_path, clients_per_round=10)  # and back: the old runs are not current
    back = CountingRunner()
    result = run_sweep(spec, out=out, runner=back, workers=1, reuse_stale=reuse_stale)
    assert sorted(back.calls) == sorted(first.calls)
    unchanged = CountingRunner()
    result = run_sweep(spec, out=out, runner=unchanged, workers=1, reuse_stale=reuse_stale)
    assert unchanged.calls == []
    assert result.changed == []


@pytest.mark.usefixtures("no_outputs")
def test_sweep_reruns_a_finished_run_without_its_config(tmp_path: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path, seeds=[1]))
    out = tmp_path / "out"
    first = CountingRunner()
    result = run_sweep(spec, out=out, runner=first, workers=1)
    (result.sweep_dir / "runs" / first.calls[2] / "config.yaml").unlink()
    again = CountingRunner()
    result = run_sweep(spec, out=out, runner=again, workers=1)
    assert again.calls == [first.calls[2]]
    assert result.changed == [first.calls[2]]


def test_a_lone_config_yaml_does_not_make_a_run_folder(tmp_path: Path) -> None:
    """config.yaml is too common a name to delete a folder for (an outside tester's
    project folder held one next to its measurements)."""
    from fedsim.run_folder import clear_run_folder

    mine = tmp_path / "myexp-seed1"
    (mine / "data").mkdir(parents=True)
    (mine / "config.yaml").write_text("mine: true\n")
    (mine / "data" / "measurements.csv").write_text("t,v\n")
    with pytest.raises(FedsimError, match="is not a run folder"):
        clear_run_folder(mine)
    assert (mine / "data" / "measurements.csv").is_file()


def test_a_symlinked_run_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    from fedsim.run_folder import clear_run_folder

    real = tmp_path / "real"
    real.mkdir()
    (real / "summary.json").write_text("{}")
    link = tmp_path / "tiny-seed1"
    link.symlink_to(real)
    with pytest.raises(FedsimError, match="is a symbolic link"):
        clear_run_folder(link)
    assert (real / "summary.json").is_file()


@pytest.mark.parametrize("name", ["../proj/myexp", "/tmp/abs", "a/b", "..", ".", "~x", "a\\b"])
def test_a_run_name_that_is_a_path_is_refused(name: str) -> None:
    """The name names the results folder a run replaces: a path would leave --out."""
    topo = tiny_topology()
    topo["name"] = name
    with pytest.raises(ScenarioError, match=r"^name: .* is not a folder name"):
        parse_scenario(topo)
