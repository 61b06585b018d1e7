"""sweep: expansion, names, validation, resume, aggregation, local pool vs Dask."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from fake_results import synthetic_runner
from topo import CountingRunner, tiny_topology, write_sweep

from fedsim.cli import main
from fedsim.cli import sweep as sweep_cli
from fedsim.errors import FedsimError
from fedsim.record.aggregate import mean_ci
from fedsim.sweep import expand, load_sweep, run_sweep


def _sweep(tmp_path: Path, **changes: object) -> Path:
    return write_sweep(tmp_path, **changes)


def test_expand_is_cartesian_and_names_are_deterministic(tmp_path: Path) -> None:
    spec = load_sweep(_sweep(tmp_path))
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 3
    assert len({r.run_name for r in runs}) == 12
    assert runs[0].overrides == ("fl.rounds=6", "fl.codec=float32", "links.0.loss=0.0")
    assert runs[0].run_name.startswith("codec=float32_loss=0.0-")
    assert runs[0].run_name.endswith("-s1")
    assert [r.run_name for r in expand(load_sweep(_sweep(tmp_path)))] == [r.run_name for r in runs]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"fl.codek": ["int8"]}, "'fl.codek'.*no 'codek' under fl"),
        ({"links.3.loss": [0.1]}, "index 3 out of range"),
        ({"links.l0.los": [0.1]}, "no 'los' under links.l0"),
    ],
)
def test_unknown_grid_key_fails_before_running(tmp_path: Path, grid: dict, message: str) -> None:
    runner = CountingRunner()
    spec = load_sweep(_sweep(tmp_path, grid=grid))
    with pytest.raises(FedsimError, match=message):
        run_sweep(spec, out=tmp_path / "out", runner=runner, workers=1)
    assert runner.calls == []


def test_bad_sweep_files(tmp_path: Path) -> None:
    with pytest.raises(FedsimError, match="no sweep file"):
        load_sweep(tmp_path / "missing.yaml")
    with pytest.raises(FedsimError, match="unknown sweep field"):
        load_sweep(_sweep(tmp_path, grdi={}))
    with pytest.raises(FedsimError, match="seeds"):
        load_sweep(_sweep(tmp_path, seeds=[]))


def test_resume_skips_finished_runs(tmp_path: Path) -> None:
    spec = load_sweep(_sweep(tmp_path, seeds=[1, 2]))
    first = CountingRunner()
    result = run_sweep(spec, out=tmp_path / "out", runner=first, workers=1)
    assert len(first.calls) == 8
    assert result.skipped == []
    victim = result.sweep_dir / "runs" / first.calls[3] / "summary.json"
    victim.unlink()  # as if that run had crashed
    again = CountingRunner()
    result = run_sweep(spec, out=tmp_path / "out", runner=again, workers=1)
    assert again.calls == [first.calls[3]]
    assert len(result.skipped) == 7


def test_aggregation_mean_and_t_interval(tmp_path: Path) -> None:
    spec = load_sweep(_sweep(tmp_path))
    result = run_sweep(spec, out=tmp_path / "out", runner=synthetic_runner, workers=1)
    import csv
    import io
    import json

    rows = list(csv.DictReader(io.StringIO((result.sweep_dir / "aggregate.csv").read_text())))
    assert len(rows) == 4
    row = rows[0]
    finals = [
        json.loads((result.sweep_dir / "runs" / r.run_name / "summary.json").read_text())[
            "final_metric"
        ]
        for r in result.runs[:3]
    ]
    mean = sum(finals) / 3
    sd = math.sqrt(sum((f - mean) ** 2 for f in finals) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t(0.975, 2)
    assert float(row["final_metric_mean"]) == pytest.approx(mean)
    assert float(row["final_metric_ci95_low"]) == pytest.approx(mean - half)
    assert float(row["final_metric_ci95_high"]) == pytest.approx(mean + half)
    assert row["fl.codec"] == "float32"
    for name in ("aggregate.md", "report.html", "runs.csv", "compare.csv"):
        assert (result.sweep_dir / name).is_file()
    assert (result.sweep_dir / "plots" / "sweep_final_metric.svg").is_file()


def test_mean_ci_edges() -> None:
    assert mean_ci([]) == (None, None, None)
    assert mean_ci([2.0]) == (2.0, None, None)
    m, lo, hi = mean_ci([1.0, 1.0, 1.0])
    assert (m, lo, hi) == (1.0, 1.0, 1.0)


def test_local_pool_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _sweep(tmp_path, seeds=[1])
    out = tmp_path / "out"
    monkeypatch.setattr(sweep_cli, "RUNNER", synthetic_runner)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2"]) == 0
    assert len(list((out / "s" / "runs").iterdir())) == 4


def test_unreachable_scheduler_is_a_user_error(tmp_path: Path) -> None:
    spec = load_sweep(_sweep(tmp_path, seeds=[1]))
    with pytest.raises(FedsimError, match="cannot reach Dask scheduler"):
        run_sweep(
            spec, out=tmp_path / "out", runner=synthetic_runner, scheduler="tcp://127.0.0.1:9"
        )


def test_dask_gives_same_results_as_local_pool(tmp_path: Path) -> None:
    import distributed  # the `cluster` extra, installed by `make setup`: never a skip

    spec = load_sweep(_sweep(tmp_path, seeds=[1, 2]))
    local = run_sweep(spec, out=tmp_path / "local", runner=synthetic_runner, workers=2)
    # dashboard_address=None still binds the default 8787; ":0" takes any free port.
    with distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=2, dashboard_address=":0"
    ) as cluster:
        assert cluster.scheduler.http_server.port != 8787
        remote = run_sweep(
            spec,
            out=tmp_path / "dask",
            runner=synthetic_runner,
            scheduler=cluster.scheduler_address,
        )
    assert sorted(remote.executed) == sorted(local.executed)
    for name in ("aggregate.csv", "aggregate.md", "runs.csv"):
        assert (remote.sweep_dir / name).read_text() == (local.sweep_dir / name).read_text()


@pytest.mark.slow
def test_real_sweep_on_default_topology(tmp_path: Path) -> None:
    base = Path(__file__).resolve().parents[1] / "topologies" / "default.yaml"
    spec_path = tmp_path / "real.yaml"
    spec_path.write_text(
        yaml.safe_dump(
            {
                "name": "real",
                "base": str(base),
                "grid": {"fl.codec": ["float32", "int8"]},
                "seeds": [1, 2],
                "set": ["fl.rounds=3"],
            }
        )
    )
    result = run_sweep(load_sweep(spec_path), out=tmp_path / "out", workers=2)
    assert result.failed == {}
    assert len(result.executed) == 4
    assert (result.sweep_dir / "report.html").is_file()


def _real_sweep(tmp_path: Path, grid: dict) -> Path:
    """A sweep over a loadable topology (tests/topo.py `tiny_topology`)."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_topology()))
    path = tmp_path / "sweep.yaml"
    spec = {"name": "s", "base": "tiny.yaml", "grid": grid, "seeds": [1]}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            {"links.wifi.latency": ["2ms", 0.002]},
            r"^sweep grid\.links\.wifi\.latency: 2ms and 0\.002 are the same value; give it once$",
        ),
        (
            {"fl.codec": ["float32", "int8"], "links.wifi.loss": [0.05, "1%", "5%"]},
            r"^sweep grid\.links\.wifi\.loss: 0\.05 and 5% are the same value; give it once$",
        ),
    ],
)
def test_one_value_spelled_two_ways_is_refused(tmp_path: Path, grid: dict, message: str) -> None:
    """Values are compared as the topology reads them, not as text (outside review 2,
    finding 5: `[2ms, 0.002]` ran as two grid points with identical summaries)."""
    runner = CountingRunner()
    spec = load_sweep(_real_sweep(tmp_path, grid))
    with pytest.raises(FedsimError, match=message):
        run_sweep(spec, out=tmp_path / "out", runner=runner, workers=1)
    assert runner.calls == []


def test_distinct_values_still_run(tmp_path: Path) -> None:
    runner = CountingRunner()
    spec = load_sweep(_real_sweep(tmp_path, {"links.wifi.latency": ["2ms", 0.003]}))
    run_sweep(spec, out=tmp_path / "out", runner=runner, workers=1)
    assert len(runner.calls) == 2


def test_one_value_spelled_two_ways_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _real_sweep(tmp_path, {"links.wifi.latency": ["2ms", 0.002]})
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "fedsim: error: sweep grid.links.wifi.latency: 2ms and 0.002 are the same value; "
        "give it once"
    ]
