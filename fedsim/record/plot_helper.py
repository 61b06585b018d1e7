"""A run's figures drawn by a helper process, off the run's critical path.

Why: importing matplotlib and drawing a run's figures took ~1.5-2 s of a `fedsim run` that
simulates in a few seconds. `fedsim run` starts the helper first thing: it imports
matplotlib and warms it up on another core while the run imports and sets up, forks one
process per further share of the figures (POSIX: the fork inherits the imported
matplotlib, so the figures are drawn on both cores), and each process makes its empty
figures ahead and waits, all while the run simulates. Once the results files are written
every process reads back the tables it needs and builds and draws its figures (in
memory) while the run is audited; it writes the files only when told the audit passed,
while the run builds report.html's page. The files are the ones `plot_run` writes
in-process. A run that fails or is interrupted ends the helper and its forks without a
file written; none outlives it but for the moment it takes a fork to see the end of its
command pipe. The helper answers (exit status, files written) on its stdout pipe and lets
go of it; the run reads that and goes on (report.html) while the helper reaps its forks and
leaves without the interpreter's teardown; the run waits for that exit last (`close`).
A process's exit takes milliseconds (its memory unmapped), and the run no longer waits for
two of them in a row before writing report.html.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from fedsim.errors import FedsimError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from fedsim.record.runs import RunData

__all__ = ["FIGURE_SHARES", "PlotHelper", "start_plot_helper"]

FIGURE_SHARES: tuple[tuple[str, ...], ...] = (
    ("timeline", "links"),
    ("metric_vs_time", "metric_vs_bytes", "participation", "energy"),
)
"""Which figures each drawing process draws: the timeline costs about as much as three
others. (The timeline alone against the five others measured worse: CPU of a share drawn
in a fresh process, medians of 10, 100x20: 144 | 222 ms against 180 | 180 ms here;
1000x5: 172 | 214 against 214 | 180 ms.)"""

_ERROR = "fedsim: error: "

_Rendered = tuple[str, str, bytes]
"""A figure's file drawn in memory: (figure stem, format, content)."""


class PlotHelper:
    """The helper process: started early, handed the run folder once its tables are
    written, waited for before report.html is finished."""

    def __init__(self, formats: Sequence[str], shares: Sequence[Sequence[str]]) -> None:
        self.formats = list(formats)
        self.shares = [list(s) for s in shares]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # this fedsim, whatever sys.path says
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._prepared = False
        spec = {"formats": self.formats, "shares": self.shares}
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-m", "fedsim.record.plot_helper", json.dumps(spec)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env,
            )  # fmt: skip
        except OSError:
            self._err.close()
            raise

    def prepare(self, folder: Path) -> None:
        """The run's tables are written: the helper reads them and builds the figures
        (while the run is audited), and writes nothing until `start`."""
        job = {"folder": str(Path(folder).resolve())}
        self._send(json.dumps(job))
        self._prepared = True

    def start(self) -> None:
        """The run passed its audit: write the figures while we go on."""
        self._send("draw")
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()

    def _send(self, line: str) -> None:
        if self._proc is None or self._proc.stdin is None or self._proc.stdin.closed:
            return
        try:
            self._proc.stdin.write((line + "\n").encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died early; `finish` says how

    def finish(self) -> list[Path]:
        """Wait for the helper's answer; the files it wrote, in page order (figure, then
        format). Its user-facing error becomes a `FedsimError`; its other output
        (warnings, a traceback) is passed on to stderr. The helper and its forks leave
        after answering: `close` waits for that (on an error, this does)."""
        if self._proc is None or self._proc.stdout is None:
            raise FedsimError("the plot helper was closed before drawing")
        answer = _parse_answer(self._proc.stdout.read())  # to the end: it answered
        code = answer["code"] if answer is not None else self._proc.wait()  # or died
        self._err.seek(0)
        message = self._err.read().decode(errors="replace")
        errors = [ln[len(_ERROR) :] for ln in message.splitlines() if ln.startswith(_ERROR)]
        others = "".join(ln + "\n" for ln in message.splitlines() if not ln.startswith(_ERROR))
        sys.stderr.write(others)
        if errors or code != 0 or answer is None:
            self.close()
        if errors:
            raise FedsimError(errors[0])
        if code != 0 or answer is None:
            raise FedsimError(f"drawing the plots failed (exit status {code}; see above)")
        order = {fmt: i for i, fmt in enumerate(self.formats)}
        files = [(i, order[Path(p).suffix[1:]], Path(p)) for i, p in answer["written"]]
        return [p for _, _, p in sorted(files)]

    def close(self) -> None:
        """End the helper if the run stopped (idempotent). Before `prepare` it is killed;
        after, it is told (end of its stdin) and waited for, so no process it forked
        outlives the run and nothing is written."""
        if self._proc is None:
            return
        if self._proc.poll() is None and not self._prepared:
            self._proc.kill()
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None
        self._err.close()

    def __enter__(self) -> PlotHelper:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()


def _parse_answer(raw: bytes) -> dict[str, Any] | None:
    """The helper's answer ({"code", "written"}), or None if it left without one."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("code"), int):
        return None
    return {"code": answer["code"], "written": list(answer.get("written") or [])}


def start_plot_helper(formats: Sequence[str]) -> PlotHelper | None:
    """The helper for a run's plots, or None on a single core (no core to spare) or where
    no process can be started: then the run draws in-process after the simulation."""
    if (os.cpu_count() or 1) < 2 or not sys.executable:
        return None
    try:
        return PlotHelper(["svg", *(f for f in formats if f != "svg")], FIGURE_SHARES)
    except OSError:  # no process to start (e.g. an embedded interpreter): draw in-process
        return None


def _build(run: RunData, stems: Sequence[str]) -> list[tuple[str, Figure]]:
    from fedsim.record.plots import run_figures

    return run_figures(run, only=stems)


def _render(figures: list[tuple[str, Figure]], formats: Sequence[str]) -> list[_Rendered]:
    """The figures' files, drawn in memory (nothing is written before the audit passed)."""
    from fedsim.record.plots import render_figure

    return [(stem, fmt, data) for stem, fig in figures for fmt, data in render_figure(fig, formats)]


def _write(rendered: list[_Rendered], run: RunData) -> list[Any]:
    """Write the drawn files into the run's plots/: [[figure index, path], ...]."""
    from fedsim.record.plots import RUN_FIGURES

    out = run.path / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, fmt, data in rendered:
        path = out / f"{stem}.{fmt}"
        path.write_bytes(data)
        written.append([RUN_FIGURES.index(stem), str(path)])
    return written


def _get_ready(stems: Sequence[str]) -> None:
    """While the run simulates: the empty figures of this process's share
    (fedsim.record.figure_pool), made after the fork so each process makes only its own.
    (A second warm-up draw after the fork, to copy the pages a fork shares before the
    drawing touches them, saved ~1,000 page faults, a few ms: not worth its CPU.)"""
    from fedsim.record.plots import make_figures_ahead

    make_figures_ahead(stems)


def _draw_share(
    job: str,
    stems: Sequence[str],
    formats: Sequence[str],
    go: Callable[[], bool],
    errors: list[str] | None = None,
) -> tuple[int, list[Any]]:
    """Read the run of `job` (a line from `PlotHelper.prepare`) and draw `stems` in
    memory; write them if `go()` (the audit passed: drawing meanwhile, not after, takes
    the audit's time off the wait for the figures). Its exit status and the files
    written. A user's mistake goes to `errors` when given (every process meets the same
    one; the helper says it once), else to stderr."""
    from fedsim.record.runs import load_run

    def mistake(exc: FedsimError) -> int:
        if errors is None:
            return _user_error(str(exc))
        errors.append(str(exc))
        return 2

    code, rendered, written = 0, [], []
    run = None
    try:
        run = load_run(json.loads(job)["folder"], timeline="timeline" in stems)
        rendered = _render(_build(run, stems), formats)
    except FedsimError as exc:
        code = mistake(exc)
    if go() and code == 0 and run is not None:
        try:
            written = _write(rendered, run)
        except OSError as exc:
            code = mistake(FedsimError(f"{run.path / 'plots'}: cannot write the plots ({exc})"))
    return code, written


@dataclass
class _Child:
    """A forked drawing process: told the job and then `draw` (or end of file: nothing is
    written) on its command pipe; answers the files it wrote on its result pipe."""

    pid: int
    commands: int
    result: int
    status: int = 0

    @classmethod
    def fork(cls, stems: Sequence[str], formats: Sequence[str], others: list[_Child]) -> _Child:
        """Start drawing `stems` in a child that gets ready at once (`_get_ready`)."""
        command_read, command_write = os.pipe()
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid:
            os.close(command_read)
            os.close(result_write)
            return cls(pid, command_write, result_read)
        os.close(command_write)
        os.close(result_read)
        _off_stdout()  # the helper's answer pipe ends when the helper is done, not we
        for other in others:  # their command pipes end when the helper does, not when we do
            os.close(other.commands)
            os.close(other.result)
        os._exit(_child_main(command_read, result_write, stems, formats))

    def send(self, line: str) -> None:
        if line:
            os.write(self.commands, line.encode())

    def release(self, draw: bool) -> None:
        if draw:
            os.write(self.commands, b"draw\n")
        os.close(self.commands)

    def collect(self) -> tuple[int, list[Any], list[str]]:
        """Its exit status, the files it wrote and the user's mistakes it met. A child
        that answered says its status (it only leaves after; `reap` waits for that); one
        that did not is waited for now."""
        with os.fdopen(self.result, "rb") as pipe:
            result = pipe.read()
        answer = json.loads(result) if result else {}
        if "code" not in answer:
            return self.reap(), answer.get("written", []), answer.get("errors", [])
        return int(answer["code"]), answer.get("written", []), answer.get("errors", [])

    def reap(self) -> int:
        """Wait for it to leave (once): its exit status."""
        if self.pid:
            status, self.pid = os.waitpid(self.pid, 0)[1], 0
            self.status = os.waitstatus_to_exitcode(status)
        return self.status


def _child_main(
    command_read: int, result_write: int, stems: Sequence[str], formats: Sequence[str]
) -> int:
    code = 0
    try:
        _get_ready(stems)
        with os.fdopen(command_read) as commands:
            job = commands.readline()
            if job:
                errors: list[str] = []
                code, written = _draw_share(
                    job, stems, formats, lambda: commands.readline().strip() == "draw", errors
                )
                sys.stderr.flush()  # whatever it said is out before its answer
                answer = {"code": code, "written": written, "errors": errors}
                with os.fdopen(result_write, "wb") as pipe:
                    pipe.write(json.dumps(answer).encode())
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    return code


def _user_error(message: str) -> int:
    """Say a user's mistake in one line (`finish` raises it in the run); exit status 2."""
    print(f"{_ERROR}{message}", file=sys.stderr)
    return 2


def _serve() -> int:
    """The helper: import and warm up the plotting stack and fork a drawing process per
    further share of the figures (POSIX: the forks inherit the imported matplotlib), each
    getting ready on its own while the run simulates. On the first line of stdin (the run
    folder, once its tables are written) every process reads the run and builds its
    share; on the second (`draw`, once the audit passed) writes it. End of file instead:
    the run stopped, nothing is written."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's; it ends us
    gc.disable()  # a short life drawing one run: collections would only cost (~7 %)
    import io

    from fedsim.record.plots import warm_up

    spec = json.loads(sys.argv[1])
    formats, shares = spec["formats"], spec["shares"]
    if not hasattr(os, "fork"):
        shares = [[s for share in shares for s in share]]
    for fmt in formats:
        warm_up(io.BytesIO(), fmt)  # once, here: the forks inherit what it loads
    children: list[_Child] = []
    for share in shares[1:]:
        children.append(_Child.fork(share, formats, children))
    _get_ready(shares[0])
    job = sys.stdin.readline()
    for child in children:
        child.send(job)

    def go() -> bool:
        draw = sys.stdin.readline().strip() == "draw"
        for child in children:
            child.release(draw)
        return draw

    code, written, errors = 0, [], []
    if job:
        code, written = _draw_share(job, shares[0], formats, go, errors)
    else:
        for child in children:
            child.release(False)
    for child in children:
        child_code, child_written, child_errors = child.collect()
        code = code or child_code
        written += child_written
        errors += child_errors
    for error in dict.fromkeys(errors):  # once, however many processes met it
        _user_error(error)
    _answer(code, written)
    for child in children:  # their teardown overlaps the run's last steps
        child.reap()
    return code


def _off_stdout() -> None:
    """Point stdout at the null device: the run reads the helper's answer to the end of
    its pipe, which comes once every process holding it let go."""
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def _answer(code: int, written: list[Any]) -> None:
    """The run's answer (exit status, files written), then the end of its pipe: the run
    goes on while this process and its forks leave (their teardown takes milliseconds)."""
    sys.stderr.flush()  # errors are in the run's hands before it reads the answer
    json.dump({"code": code, "written": written}, sys.stdout)
    _off_stdout()


def main() -> None:
    """Serve, then leave without the interpreter's teardown: freeing matplotlib's objects
    one by one took ~0.25 s, and the run waits for this process's exit before its own."""
    code = _serve()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
