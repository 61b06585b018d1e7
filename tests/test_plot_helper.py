"""The plot helper's own parts: a drawing process reads only the tables its figures need,
and the helper leaves without the interpreter's teardown once its answer is out."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from fake_results import write_synthetic_run

from fedsim.record import plot_helper
from fedsim.record.runs import load_run


def test_a_share_without_the_timeline_does_not_read_it(tmp_path: Path) -> None:
    folder = write_synthetic_run(tmp_path, rounds=4)
    whole = load_run(folder)
    assert whole.timeline
    without = load_run(folder, timeline=False)
    assert without.timeline == []
    assert (without.rounds, without.clients, without.links, without.topology) == (
        whole.rounds,
        whole.clients,
        whole.links,
        whole.topology,
    )


def test_each_share_draws_what_a_whole_load_draws(tmp_path: Path) -> None:
    """A share's process reads the run as `_draw_share` does (no timeline.csv unless it
    draws the timeline) and writes the files `plot_run` writes from the whole run."""
    from fedsim.record.plots import plot_run

    folder = write_synthetic_run(tmp_path, name="r", rounds=5)
    whole = {p.name: p.read_bytes() for p in plot_run(folder, tmp_path / "whole", ["svg"])}
    written: list[list] = []
    for share in plot_helper.FIGURE_SHARES:
        job = json.dumps({"folder": str(folder)})
        code, files = plot_helper._draw_share(job, share, ["svg"], lambda: True)
        assert code == 0
        written += files
    names = {Path(p).name: Path(p).read_bytes() for _, p in written}
    assert names == whole


def test_a_share_writes_nothing_unless_told_to_draw(tmp_path: Path) -> None:
    folder = write_synthetic_run(tmp_path, name="r", rounds=3)
    job = json.dumps({"folder": str(folder)})
    code, files = plot_helper._draw_share(job, ["metric_vs_time"], ["svg"], lambda: False)
    assert (code, files) == (0, [])
    assert not (folder / "plots").exists()


def test_a_share_that_cannot_write_says_where_in_one_line(tmp_path: Path) -> None:
    """Figures drawn before the audit passed are written after; a folder that cannot
    take them is the user's to fix, said in one line naming it (no traceback)."""
    folder = write_synthetic_run(tmp_path, name="r", rounds=3)
    (folder / "plots").write_text("a file where the plots folder goes")
    job = json.dumps({"folder": str(folder)})
    errors: list[str] = []
    code, files = plot_helper._draw_share(job, ["metric_vs_time"], ["svg"], lambda: True, errors)
    assert (code, files) == (2, [])
    assert len(errors) == 1
    assert errors[0].startswith(f"{folder / 'plots'}: cannot write the plots")
    assert "\n" not in errors[0]


def test_the_helper_flushes_its_answer_then_skips_teardown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`fedsim run` waits for the helper's exit status: the helper leaves with os._exit
    (no teardown) and only after its answer is flushed."""

    class Pipe(io.StringIO):
        flushed = ""

        def flush(self) -> None:
            Pipe.flushed = self.getvalue()

    stdout = Pipe()
    exits: list[tuple[int, str]] = []

    def serve() -> int:
        sys.stdout.write("[[0, 'a.svg']]")
        return 3

    def no_teardown(code: int) -> None:
        exits.append((code, Pipe.flushed))
        raise SystemExit(code)

    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(plot_helper, "_serve", serve)
    monkeypatch.setattr(os, "_exit", no_teardown)
    with pytest.raises(SystemExit):
        plot_helper.main()
    assert exits == [(3, "[[0, 'a.svg']]")]


def _forked(answer: bytes, status: int) -> plot_helper._Child:
    """A child that writes `answer` on its result pipe and leaves with `status`."""
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.write(result_write, answer)
        os._exit(status)
    os.close(result_write)
    return plot_helper._Child(pid, -1, result_read)


def test_a_child_that_answered_is_reaped_after_the_helper_answers() -> None:
    """A drawing process says its status in its answer, so the helper answers the run
    without waiting for the child's teardown; it reaps the child afterwards."""
    answer = {"code": 2, "written": [[0, "a.svg"]], "errors": ["x"]}
    child = _forked(json.dumps(answer).encode(), 0)
    assert child.collect() == (2, [[0, "a.svg"]], ["x"])
    assert child.pid != 0  # not waited for yet
    assert child.reap() == 0
    assert (child.pid, child.reap()) == (0, 0)


def test_a_child_that_left_without_answering_is_waited_for_its_status() -> None:
    child = _forked(b"", 3)
    assert child.collect() == (3, [], [])
    assert child.pid == 0


@pytest.mark.parametrize(
    "raw", [b"", b"[[0, 'a.svg']]", b'[[0, "a.svg"]]', b'{"written": []}', b'{"code": "0"}']
)
def test_the_run_takes_only_a_whole_answer(raw: bytes) -> None:
    """Anything but {"code": int, ...} (a helper that died mid-answer, or an older one)
    is no answer: the run then waits for the helper's exit status."""
    assert plot_helper._parse_answer(raw) is None
    assert plot_helper._parse_answer(b'{"code": 0, "written": [[1, "b.svg"]]}') == {
        "code": 0,
        "written": [[1, "b.svg"]],
    }
