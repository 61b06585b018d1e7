"""Code fingerprint: recorded per run, sweeps redo runs made by other code, compare warns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fake_results import fake_summary, synthetic_runner, write_synthetic_run
from topo import CountingRunner, write_sweep

from fedsim.cli import main
from fedsim.cli import sweep as sweep_cli
from fedsim.errors import FedsimError
from fedsim.record import fingerprint
from fedsim.record.compare import compare_runs
from fedsim.record.fingerprint import code_fingerprint, fingerprint_of
from fedsim.record.writer import write_run
from fedsim.sweep import load_sweep, run_sweep


def _sweep(tmp_path: Path) -> Path:
    return write_sweep(tmp_path, grid={"fl.codec": ["float32", "int8"]}, seeds=[1, 2],
                       set=["fl.rounds=4"])  # fmt: skip


@pytest.fixture
def no_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the aggregated outputs (plots take seconds); resumption does not depend on them."""
    from fedsim.record import aggregate

    monkeypatch.setattr(aggregate, "write_sweep_outputs", lambda *_args: [])


def _set_code(run_dir: Path, code: str | None) -> None:
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text())
    if code is None:
        summary.pop("code")
    else:
        summary["code"] = code
    path.write_text(json.dumps(summary, indent=2) + "\n")


def test_fingerprint_is_stable_and_follows_the_source(tmp_path: Path) -> None:
    assert code_fingerprint() == code_fingerprint()
    assert len(code_fingerprint()) == 12
    skip = shutil.ignore_patterns("__pycache__")
    copy, other = tmp_path / "a" / "fedsim", tmp_path / "b" / "fedsim"
    shutil.copytree(fingerprint._PACKAGE_DIR, copy, ignore=skip)
    shutil.copytree(copy, other)
    before = fingerprint_of(copy)
    assert fingerprint_of(copy) == before
    assert fingerprint_of(other) == before  # only relative names and contents count
    (copy / "record" / "junk.txt").write_text("not python")
    assert fingerprint_of(copy) == before
    target = copy / "clock.py"
    target.write_text(target.read_text() + "\n# a change\n")
    changed = fingerprint_of(copy)
    assert changed != before
    target.rename(copy / "clock2.py")  # same contents, another file name
    assert fingerprint_of(copy) not in (before, changed)


def test_fingerprint_covers_package_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    here = fingerprint_of(fingerprint._PACKAGE_DIR)
    real = fingerprint._version
    monkeypatch.setattr(fingerprint, "_version", lambda n: "0.0" if n == "numpy" else real(n))
    assert fingerprint_of(fingerprint._PACKAGE_DIR) != here


def test_fingerprint_covers_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file and seed move other bytes on Python 3.13 than on 3.11."""
    here = fingerprint_of(fingerprint._PACKAGE_DIR)
    other = "3.13.0" if fingerprint.platform.python_version() != "3.13.0" else "3.11.7"
    monkeypatch.setattr(fingerprint.platform, "python_version", lambda: other)
    assert fingerprint_of(fingerprint._PACKAGE_DIR) != here


def test_runs_record_the_fingerprint(tmp_path: Path) -> None:
    out = write_run(
        tmp_path / "run",
        config={"name": "x"},
        rounds=[],
        links=[],
        timeline=[],
        clients=[],
        topology={},
        summary=fake_summary(scenario="x"),
    )
    assert json.loads((out / "summary.json").read_text())["code"] == code_fingerprint()
    synthetic = write_synthetic_run(tmp_path, name="syn")
    assert json.loads((synthetic / "summary.json").read_text())["code"] == code_fingerprint()


@pytest.mark.usefixtures("no_outputs")
def test_sweep_reruns_runs_made_by_other_code(tmp_path: Path) -> None:
    spec = load_sweep(_sweep(tmp_path))
    out = tmp_path / "out"
    first = CountingRunner()
    run_sweep(spec, out=out, runner=first, workers=1)
    assert len(first.calls) == 4

    logs: list[str] = []
    again = CountingRunner()
    result = run_sweep(spec, out=out, runner=again, workers=1, log=logs.append)
    assert again.calls == []
    assert len(result.skipped) == 4
    assert result.stale == []
    assert logs[0] == "sweep s: 4 runs, 4 already done"

    runs_root = result.sweep_dir / "runs"
    _set_code(runs_root / first.calls[1], "0123456789ab")
    _set_code(runs_root / first.calls[2], None)  # older results recorded no fingerprint
    logs.clear()
    third = CountingRunner()
    result = run_sweep(spec, out=out, runner=third, workers=1, log=logs.append)
    assert sorted(third.calls) == sorted(first.calls[1:3])
    assert sorted(result.stale) == sorted(first.calls[1:3])
    assert logs[0] == "sweep s: 4 runs, 2 already done"
    assert logs[1] == (
        "2 runs were made by other code (fingerprint 0123456789ab, unrecorded -> "
        f"{code_fingerprint()}): re-running them"
    )
    assert sum("other code" in line for line in logs) == 1
    for name in first.calls:
        summary = json.loads((runs_root / name / "summary.json").read_text())
        assert summary["code"] == code_fingerprint()


@pytest.mark.usefixtures("no_outputs")
def test_failed_rerun_of_a_stale_run_is_not_counted_as_done(tmp_path: Path) -> None:
    spec = load_sweep(_sweep(tmp_path))
    out = tmp_path / "out"
    result = run_sweep(spec, out=out, runner=synthetic_runner, workers=1)
    victim = result.runs[0].run_name
    _set_code(result.sweep_dir / "runs" / victim, "0123456789ab")

    def broken(base, seed, overrides, out_root, run_name):  # type: ignore[no-untyped-def]
        raise RuntimeError("new code crashes")

    result = run_sweep(spec, out=out, runner=broken, workers=1)
    assert list(result.failed) == [victim]
    assert not (result.sweep_dir / "runs" / victim / "summary.json").exists()


def test_reuse_stale_keeps_old_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sweep(tmp_path)
    out = tmp_path / "out"
    first = CountingRunner()
    with monkeypatch.context() as m:
        from fedsim.record import aggregate

        m.setattr(aggregate, "write_sweep_outputs", lambda *_args: [])
        run_sweep(load_sweep(path), out=out, runner=first, workers=1)
    stale = out / "s" / "runs" / first.calls[0]
    _set_code(stale, "0123456789ab")
    capsys.readouterr()
    again = CountingRunner()
    argv = ["sweep", str(path), "--out", str(out), "--workers", "1", "--reuse-stale"]
    monkeypatch.setattr(sweep_cli, "RUNNER", again)
    assert main(argv) == 0
    assert again.calls == []
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert "sweep s: 4 runs, 3 already done" in printed
    assert "1 run was made by other code (fingerprint 0123456789ab -> " in printed
    assert "reusing them (--reuse-stale)" in printed
    assert json.loads((stale / "summary.json").read_text())["code"] == "0123456789ab"
    # The aggregated comparison says that it mixes code.
    assert "made by different code" in (out / "s" / "compare.md").read_text()


def test_compare_warns_once_about_different_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_synthetic_run(tmp_path, name="before", seed=1)
    b = write_synthetic_run(tmp_path, name="after", seed=1)  # one seed: no seed caveat
    assert compare_runs([a, b]).warnings == []
    _set_code(a, "0123456789ab")
    table = compare_runs([a, b])
    assert table.warnings == [
        "runs were made by different code (fingerprint 0123456789ab (`before`); "
        f"{code_fingerprint()} (`after`))"
    ]
    assert table.mismatched == [False, False]  # a warning, not a verdict
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("made by different code") == 1
    _set_code(b, None)  # results from before the schema: one line naming file and field
    with pytest.raises(FedsimError, match=r"after/summary.json: no field 'code' \(written by"):
        compare_runs([a, b])
