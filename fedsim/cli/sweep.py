"""`fedsim sweep`: a grid of overrides x seeds, run and aggregated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from fedsim.cli.out_folder import OUTPUT_PATH

if TYPE_CHECKING:
    from fedsim.sweep import Runner

from fedsim.cli.options import COMMAND_SETTINGS

__all__ = ["RUNNER", "sweep_command"]

RUNNER: Runner | None = None
"""What runs one grid point; None is fedsim.sweep.run_scenario_runner, with each point
checked as `fedsim validate` does first. Tests put a synthetic runner here."""


@click.command(
    "sweep",
    context_settings=COMMAND_SETTINGS,
    short_help="Run a grid of overrides x seeds and aggregate the results.",
)
@click.argument("sweep_file", metavar="SWEEP.yaml", type=click.Path(path_type=Path))
@click.option("--scheduler", default=None, metavar="URL", help="Dask scheduler, tcp://host:8786")
@click.option(
    "--workers",
    type=int,
    metavar="N",
    default=None,
    help="local worker processes (default: CPU count; 1 = in-process)",
)
@click.option(
    "--out",
    type=OUTPUT_PATH,
    default=Path("results"),
    metavar="DIR",
    show_default=True,
    help="output root; the sweep goes to OUT/<name>/",
)
@click.option(
    "--reuse-stale",
    is_flag=True,
    help="reuse finished runs even if made by other code (another fedsim source or "
    "numpy/numba/... version); by default those are re-run",
)
def sweep_command(
    sweep_file: Path, scheduler: str | None, workers: int | None, out: Path, reuse_stale: bool
) -> int:
    """Run a grid of overrides x seeds and aggregate the results.

    SWEEP.yaml names a base topology, the values to sweep and the seeds (docs/sweeps.md).
    Finished runs are reused; the sweep writes OUT/<name>/ with aggregate.csv/.md (means,
    intervals, ratios against the reference point), compare.md and report.html. Exits 1
    if any run failed.
    """
    from rich.console import Console

    from fedsim import sweep as sweeps
    from fedsim.cli.out_folder import output_folder
    from fedsim.errors import FedsimError

    if workers is not None and workers < 1:
        raise FedsimError("--workers must be at least 1")
    if scheduler and workers is not None:
        raise FedsimError("--workers is for the local pool; a Dask cluster sizes itself")
    output_folder(out)
    console = Console(highlight=False, soft_wrap=True)  # log lines stay whole when piped
    spec = sweeps.load_sweep(sweep_file)
    result = sweeps.run_sweep(
        spec,
        out=out,
        runner=RUNNER,
        workers=workers,
        scheduler=scheduler,
        log=console.print,
        reuse_stale=reuse_stale,
    )
    console.print(f"wrote {result.sweep_dir}/report.html and aggregate.csv/.md")
    if result.failed:
        console.print(f"[bold red]{len(result.failed)} run(s) failed:[/]")
        for name, err in sorted(result.failed.items()):
            console.print(f"  {name}: {err}", markup=False)
        return 1
    return 0
