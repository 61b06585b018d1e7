"""A run's figures drawn by a helper process, off the run's critical path.

Why: importing matplotlib and drawing a run's figures took ~1.5-2 s of a `fedsim run` that
simulates in a few seconds. `fedsim run` starts the helper once its own imports are done:
it imports matplotlib and warms it up on another core while the run sets up and computes,
then waits on its stdin. Once the results are on disk it draws its figures, forking one
process per further share of them (POSIX: the fork inherits the imported matplotlib), so
the figures are drawn on both cores while the run builds report.html's page. The files are
the ones `plot_run` writes in-process. A run that fails or is interrupted ends the helper;
it never outlives the run.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from fedsim.errors import FedsimError

__all__ = ["FIGURE_SHARES", "PlotWorkers", "start_plot_workers"]

FIGURE_SHARES: tuple[tuple[str, ...], ...] = (
    ("timeline", "links"),
    ("metric_vs_time", "metric_vs_bytes", "participation", "energy"),
)
"""Which figures each drawing process draws: the timeline costs about as much as three
others."""

_ERROR = "fedsim: error: "


class PlotWorkers:
    """The helper process: started early, handed the run folder once its tables are
    written, waited for before report.html is finished."""

    def __init__(self, formats: Sequence[str], shares: Sequence[Sequence[str]]) -> None:
        self.formats = list(formats)
        self.shares = [list(s) for s in shares]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # this fedsim, whatever sys.path says
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "fedsim.record.plot_workers", *self.formats],
            stdin=subprocess.PIPE, stdout=self._out, stderr=self._err, env=env,
        )  # fmt: skip

    def start(self, folder: Path) -> None:
        """Hand the helper the run folder; it draws while we go on."""
        if self._proc is None or self._proc.stdin is None:
            return
        job = {
            "folder": str(Path(folder).resolve()),
            "shares": self.shares,
            "formats": self.formats,
        }
        try:
            self._proc.stdin.write((json.dumps(job) + "\n").encode())
            self._proc.stdin.close()
        except BrokenPipeError:
            pass  # it died early; `finish` says how

    def finish(self) -> list[Path]:
        """Wait for the helper; the files it wrote, in page order (figure, then format).
        Its user-facing error becomes a `FedsimError`; its other output (warnings, a
        traceback) is passed on to stderr."""
        if self._proc is None:
            raise FedsimError("the plot helper was closed before drawing")
        code = self._proc.wait()
        self._out.seek(0)
        self._err.seek(0)
        written, message = self._out.read(), self._err.read().decode(errors="replace")
        self.close()
        errors = [ln[len(_ERROR) :] for ln in message.splitlines() if ln.startswith(_ERROR)]
        others = "".join(ln + "\n" for ln in message.splitlines() if not ln.startswith(_ERROR))
        sys.stderr.write(others)
        if errors:
            raise FedsimError(errors[0])
        if code != 0:
            raise FedsimError(f"drawing the plots failed (exit status {code}; see above)")
        order = {fmt: i for i, fmt in enumerate(self.formats)}
        files = [(i, order[Path(p).suffix[1:]], Path(p)) for i, p in json.loads(written)]
        return [p for _, _, p in sorted(files)]

    def close(self) -> None:
        """End the helper if it still waits (a run that failed); idempotent."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                self._proc.stdin.close()
            self._proc = None
            self._out.close()
            self._err.close()

    def __enter__(self) -> PlotWorkers:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()


def start_plot_workers(formats: Sequence[str]) -> PlotWorkers | None:
    """The helper for a run's plots, or None on a single core (no core to spare: the run
    draws in-process after the simulation)."""
    if (os.cpu_count() or 1) < 2:
        return None
    return PlotWorkers(["svg", *(f for f in formats if f != "svg")], FIGURE_SHARES)


def _draw(folder: Path, stems: Sequence[str], formats: Sequence[str]) -> list[list[object]]:
    """Draw `stems` of the run in `folder`: [[figure index, path], ...]."""
    from fedsim.record.plots import RUN_FIGURES, plot_run

    paths = plot_run(folder, folder / "plots", formats, only=stems)
    return [[RUN_FIGURES.index(p.stem), str(p)] for p in paths]


def _draw_forked(folder: Path, stems: Sequence[str], formats: Sequence[str]) -> tuple[int, int]:
    """Draw `stems` in a forked child; (its pid, the read end of its result pipe)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    os.close(read)
    code = 0
    try:
        result = json.dumps(_draw(folder, stems, formats)).encode()
        with os.fdopen(write, "wb") as pipe:
            pipe.write(result)
    except FedsimError as exc:
        print(f"{_ERROR}{exc}", file=sys.stderr)
        code = 2
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)


def _serve() -> int:
    """The helper: import and warm up the plotting stack, wait for one job on stdin, draw
    its shares (the first here, each other one in a forked child)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's; it ends us
    gc.disable()  # a short life drawing one run: collections would only cost (~7 %)
    import io

    from fedsim.record.plots import warm_up

    for fmt in sys.argv[1:]:
        warm_up(io.BytesIO(), fmt)
    line = sys.stdin.readline()
    if not line:
        return 0  # the run ended without results to draw
    job = json.loads(line)
    folder, formats = Path(job["folder"]), job["formats"]
    first, *others = job["shares"]
    children = [_draw_forked(folder, s, formats) for s in others] if hasattr(os, "fork") else []
    if not hasattr(os, "fork"):
        first = [stem for share in job["shares"] for stem in share]
    code, written = 0, []
    try:
        written = _draw(folder, first, formats)
    except FedsimError as exc:
        print(f"{_ERROR}{exc}", file=sys.stderr)
        code = 2
    for pid, read in children:
        with os.fdopen(read, "rb") as pipe:
            result = pipe.read()
        status = os.waitpid(pid, 0)[1]
        child = os.waitstatus_to_exitcode(status)
        code = code or child
        if child == 0:
            written += json.loads(result)
    json.dump(written, sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(_serve())
