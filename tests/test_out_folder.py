"""Output folders are checked before the work (outside audit redteam6, finding 6: `run
--out FILE` simulated, then died with NotADirectoryError; `compare --out FILE` with
FileExistsError): one line naming the option, exit 2, nothing simulated or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsim.cli import main
from fedsim.cli.out_folder import output_file, output_folder
from fedsim.errors import FedsimError

OK = Path(__file__).resolve().parent / "redteam6" / "bat0.yaml"
SET_OK = ["--set", "devices.x.battery=1J"]  # the file's 0 J battery is an error of its own
SWEEP = Path(__file__).resolve().parents[1] / "topologies/sweeps/lora_compression.yaml"


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "taken.yaml"
    path.write_text("not a folder\n")
    return path


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check made before simulating never reaches the simulation."""
    import fedsim.run

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("simulated although the output could not be written")

    monkeypatch.setattr(fedsim.run, "simulate", refuse)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    return line


def test_the_folder_check(tmp_path: Path, a_file: Path) -> None:
    made = output_folder(tmp_path / "a" / "b")
    assert made.is_dir()
    with pytest.raises(FedsimError, match=r"^--out .*taken.yaml: is a file, not a folder$"):
        output_folder(a_file)
    with pytest.raises(FedsimError, match=r"^--out .*taken.yaml/x: cannot create the folder"):
        output_folder(a_file / "x")
    with pytest.raises(FedsimError, match=r"^--results .*: is a file"):
        output_folder(a_file, "--results")
    with pytest.raises(FedsimError, match=r"^--out .*: is a folder, not a file$"):
        output_file(tmp_path)
    assert output_file(tmp_path / "new" / "schema.json").parent.is_dir()


@pytest.mark.usefixtures("no_simulation")
def test_run_refuses_an_out_it_cannot_write_before_simulating(
    a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for out, said in ((a_file, "is a file, not a folder"),
                      (a_file / "sub", "cannot create the folder")):  # fmt: skip
        args = ["run", str(OK), *SET_OK, "--quiet", "--no-plots", "--out", str(out)]
        assert main(args) == 2
        assert _one_line(capsys).startswith(f"fedsim: error: --out {out}: {said}")


@pytest.mark.usefixtures("no_simulation")
def test_run_refuses_a_run_folder_it_may_not_replace_before_simulating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fedsim.run import run_name_for
    from fedsim.scenario import load_scenario

    name = run_name_for(load_scenario(OK, SET_OK[1:]), SET_OK[1:])
    (tmp_path / name).write_text("someone's file\n")  # where the run would go
    args = ["run", str(OK), *SET_OK, "--quiet", "--no-plots", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "exists and is not a folder" in _one_line(capsys)


@pytest.mark.parametrize(
    "command",
    [
        ["compare", "{run}", "--out", "{file}"],
        ["compare", "{run}", "{run}", "--out", "{file}/sub"],
        ["report", "{run}", "{run}", "--out", "{file}"],
        ["sweep", str(SWEEP), "--out", "{file}"],
        ["enroll", str(OK), *SET_OK, "--out", "{file}"],
        ["certs", "{file}"],
        ["schema", "--out", "{file}/schema.json"],
        ["serve", str(OK), *SET_OK, "--results", "{file}"],
        ["serve", str(OK), *SET_OK, "--state", "{file}"],
    ],
)
def test_every_command_with_an_output_says_what_is_wrong_in_one_line(
    command: list[str], tmp_path: Path, a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "a-run"
    run.mkdir()
    (run / "summary.json").write_text("{}")  # never read: the output is checked first
    args = [a.format(run=run, file=a_file) for a in command]
    assert main(args) == 2
    line = _one_line(capsys)
    assert line.startswith("fedsim: error: ")
    assert str(a_file) in line
    assert a_file.read_text() == "not a folder\n"


def test_a_write_that_fails_later_is_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the check cannot foresee (a full disk) is still one line, exit 1."""
    import errno

    import fedsim.run

    def full(out: Path, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "rounds.csv"))

    monkeypatch.setattr(fedsim.run, "write_run", full)
    args = ["run", str(OK), *SET_OK, "--quiet", "--no-plots", "--out", str(tmp_path)]
    assert main(args) == 1
    line = _one_line(capsys)
    assert line.startswith(f"fedsim: error: {tmp_path}")
    assert line.endswith("rounds.csv: No space left on device")


@pytest.mark.usefixtures("no_simulation")
@pytest.mark.parametrize(
    "command",
    [
        ["run", str(OK), *SET_OK, "--quiet", "--no-plots", "--out", ""],
        ["compare", "{run}", "{run}", "--out", ""],
        ["report", "{run}", "{run}", "--out", ""],
        ["sweep", str(SWEEP), "--out", ""],
        ["enroll", str(OK), *SET_OK, "--out", ""],
        ["certs", ""],
        ["schema", "--out", ""],
        ["serve", str(OK), *SET_OK, "--results", ""],
        ["serve", str(OK), *SET_OK, "--state", " "],
    ],
)
def test_an_empty_output_path_is_refused_not_the_current_folder(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--out ""` (outside audit redteam8, finding 2) wrote ./<name>-seedN where the
    command was typed: one line naming the option, exit 2, nothing written."""
    run = tmp_path / "a-run"
    run.mkdir()
    (run / "summary.json").write_text("{}")  # never read: the output is checked first
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main([a.format(run=run) for a in command]) == 2
    line = _one_line(capsys)
    option = "DIR" if command[0] == "certs" else command[-2]
    assert line.startswith(f"fedsim: error: {option} is empty: an empty path would write ")
    assert list(here.iterdir()) == []
