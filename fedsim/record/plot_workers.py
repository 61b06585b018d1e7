"""A run's figures drawn by helper processes, off the run's critical path.

Why: importing matplotlib and drawing a run's figures took ~1.5-2 s of a `fedsim run` that
simulates in a few seconds. `fedsim run` starts the helpers before the simulation: they
import matplotlib on another core while the run computes, wait on their stdin, and once
the results are on disk each draws its share of the figures (the same files `plot_run`
writes in-process). A run that fails or is interrupted ends them; they never outlive it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
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
"""Which figures each helper draws: the timeline costs about as much as three others."""


class PlotWorkers:
    """Helper processes, one per share of the figures, started early and handed the run
    folder once its tables are written."""

    def __init__(self, formats: Sequence[str], shares: Sequence[Sequence[str]]) -> None:
        self.formats = list(formats)
        self.shares = [list(s) for s in shares]
        self._procs: list[tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = []
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # this fedsim, whatever sys.path says
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        for _ in self.shares:
            out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
            err = tempfile.TemporaryFile()  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "fedsim.record.plot_workers", *self.formats],
                stdin=subprocess.PIPE, stdout=out, stderr=err, env=env,
            )  # fmt: skip
            self._procs.append((proc, out, err))

    def start(self, folder: Path) -> None:
        """Hand each helper the run folder and its figures; they draw while we go on."""
        for (proc, _, _), share in zip(self._procs, self.shares, strict=True):
            job = {"folder": str(Path(folder).resolve()), "stems": share, "formats": self.formats}
            assert proc.stdin is not None
            try:
                proc.stdin.write((json.dumps(job) + "\n").encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # it died early; `finish` reports how

    def finish(self) -> list[Path]:
        """Wait for the helpers; the files they wrote, in page order (figure, then format).
        A helper's user-facing error becomes a `FedsimError`; its other output (warnings,
        a traceback) is passed on to stderr."""
        written: list[tuple[int, int, Path]] = []
        failed: list[str] = []
        for proc, out, err in self._procs:
            code = proc.wait()
            out.seek(0)
            err.seek(0)
            message = err.read().decode(errors="replace")
            if code == 0:
                written += [(i, self.formats.index(Path(p).suffix[1:]), Path(p))
                            for i, p in json.loads(out.read() or b"[]")]  # fmt: skip
                sys.stderr.write(message)
            elif message.startswith("fedsim: error: "):
                failed.append(message.removeprefix("fedsim: error: ").strip())
            else:
                sys.stderr.write(message)
                failed.append(f"drawing the plots failed (exit status {code}; see above)")
        self.close()
        if failed:
            raise FedsimError(failed[0])
        return [p for _, _, p in sorted(written)]

    def close(self) -> None:
        """End helpers that are still waiting (a run that failed); idempotent."""
        for proc, out, err in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            out.close()
            err.close()
        self._procs = []

    def __enter__(self) -> PlotWorkers:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()


def start_plot_workers(formats: Sequence[str]) -> PlotWorkers | None:
    """Helpers for a run's plots, or None on a single core (no core to spare: the run
    draws in-process after the simulation)."""
    if (os.cpu_count() or 1) < 2:
        return None
    return PlotWorkers(["svg", *(f for f in formats if f != "svg")], FIGURE_SHARES)


def _warm_up(formats: Sequence[str]) -> None:
    """Import the plotting stack and draw a throwaway figure in each format (fonts, text
    layout and the backends load once, ~0.1 s), at the lowest priority: the run's own
    imports and set-up come first. On Linux nice applies to the calling thread only, so
    the drawing proper (main thread, when the run waits for it) keeps normal priority."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19)
    import io

    from fedsim.record.plots import warm_up

    for fmt in formats:
        warm_up(io.BytesIO(), fmt)


def _serve() -> int:
    """A helper: import the plotting stack, wait for one job on stdin, draw it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's; it ends us
    importer = threading.Thread(target=_warm_up, args=(sys.argv[1:],), daemon=True)
    importer.start()
    line = sys.stdin.readline()
    if not line:
        return 0  # the run ended without results to draw
    importer.join()
    from fedsim.record.plots import RUN_FIGURES, plot_run

    job = json.loads(line)
    folder = Path(job["folder"])
    try:
        paths = plot_run(folder, folder / "plots", job["formats"], only=job["stems"])
    except FedsimError as exc:
        print(f"fedsim: error: {exc}", file=sys.stderr)
        return 2
    json.dump([[RUN_FIGURES.index(p.stem), str(p)] for p in paths], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
