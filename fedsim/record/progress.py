"""Live progress of a run in the terminal: rounds, simulated time, metric, bytes, devices.

Why a separate object: the simulation loop calls `update(...)` once per event of interest
and never cares whether anyone is watching. When quiet, or when stdout is not a terminal
(CI logs, pipes, sweep workers), it prints nothing at all, so logs stay clean and
deterministic.

    with RunProgress(total_rounds=50, title="smart-farm") as p:
        p.update(round=1, sim_time_s=12.5, metric=0.41, bytes_total=2_000_000,
                 online=18, training=6, dropped=1)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from fedsim.record.compare import human_bytes, human_seconds

__all__ = ["RunProgress"]


class RunProgress:
    """Context manager showing a progress bar and a one-line status under it."""

    def __init__(
        self,
        total_rounds: int,
        *,
        title: str = "run",
        metric_name: str = "metric",
        quiet: bool = False,
        console: Console | None = None,
    ) -> None:
        self.console = console or Console()
        self.enabled = not quiet and self.console.is_terminal
        self.total_rounds = total_rounds
        self.metric_name = metric_name
        self.state: dict[str, Any] = {
            "round": 0, "sim_time_s": 0.0, "metric": None, "bytes_total": 0,
            "online": None, "training": None, "dropped": 0,
        }  # fmt: skip
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rounds"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(title, total=total_rounds)
        self._live: Live | None = None

    def status_line(self) -> Text:
        """The line under the bar, from the latest state."""
        s = self.state
        metric = "—" if s["metric"] is None else f"{s['metric']:.4g}"
        parts = [
            f"round {s['round']}/{self.total_rounds}",
            f"sim {human_seconds(s['sim_time_s'])}",
            f"{self.metric_name} {metric}",
            f"{human_bytes(s['bytes_total'])} payload",
        ]
        if s["online"] is not None:
            parts.append(f"{s['online']} online")
        if s["training"] is not None:
            parts.append(f"{s['training']} training")
        parts.append(f"{s['dropped']} dropped")
        return Text("  ·  ".join(parts))

    def _renderable(self) -> Group:
        return Group(self._progress, self.status_line())

    def __enter__(self) -> RunProgress:
        if self.enabled:
            self._live = Live(
                self._renderable(), console=self.console, refresh_per_second=8, transient=False
            )
            self._live.__enter__()
        return self

    def update(self, **fields: Any) -> None:
        """Record new values (round, sim_time_s, metric, bytes_total, online, training,
        dropped); unknown names are a programming error."""
        unknown = set(fields) - set(self.state)
        if unknown:
            raise TypeError(f"RunProgress.update: unknown field(s) {sorted(unknown)}")
        self.state.update({k: v for k, v in fields.items() if v is not None})
        if not self.enabled:
            return
        self._progress.update(self._task, completed=self.state["round"])
        if self._live is not None:
            self._live.update(self._renderable())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._renderable(), refresh=True)
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
