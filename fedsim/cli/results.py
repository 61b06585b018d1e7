"""`fedsim compare` and `fedsim report`: finished results folders, read and drawn."""

from __future__ import annotations

from pathlib import Path

import click

from fedsim.cli.options import COMMAND_SETTINGS
from fedsim.cli.out_folder import OUTPUT_PATH

__all__ = ["compare_command", "report_command"]


@click.command(
    "compare",
    context_settings=COMMAND_SETTINGS,
    short_help="Compare finished runs against the first one (the baseline).",
)
@click.argument("runs", metavar="RUN_DIR...", nargs=-1, required=True)
@click.option(
    "--out",
    type=OUTPUT_PATH,
    default=None,
    metavar="DIR",
    help="output folder (default: <parent of first run>/compare, or a sweep folder's compare/)",
)
@click.option("--no-plots", is_flag=True, help="skip the comparison plots")
def compare_command(runs: tuple[str, ...], out: Path | None, no_plots: bool) -> int:
    """Compare finished runs against the first one (the baseline).

    RUN_DIR is a results/<run_name> folder, a glob of them ('results/hospital-*'), or a
    sweep folder (its runs/). Runs are labelled by the settings that differ; the table
    shows every differing config key, the byte ledger, and ratios and changes against
    the first run, in the terminal, compare.md and compare.csv, plus plots.
    """
    from rich.console import Console

    from fedsim.cli.out_folder import output_folder
    from fedsim.record.compare import (
        compare_runs,
        default_compare_out,
        expand_run_args,
        print_table,
        write_compare,
    )

    folders = expand_run_args(list(runs))
    out = output_folder(out if out is not None else default_compare_out(runs[0], folders[0]))
    table = compare_runs(folders)
    md, csv_path = write_compare(table, out)
    print_table(table)
    written = [md, csv_path]
    if not no_plots:
        from fedsim.record.plots import plot_comparison

        written += plot_comparison(table.runs, out)
    Console().print(f"wrote {len(written)} files to {out}", highlight=False)
    return 0


@click.command(
    "report",
    context_settings=COMMAND_SETTINGS,
    short_help="Write report.html for one run, or a comparison of several.",
)
@click.argument("runs", metavar="RUN_DIR...", nargs=-1, required=True)
@click.option(
    "--out",
    type=OUTPUT_PATH,
    default=None,
    metavar="DIR",
    help="output folder for a comparison (default: <parent of first run>/compare)",
)
def report_command(runs: tuple[str, ...], out: Path | None) -> int:
    """Write a self-contained report.html: one run's goes in its folder; several runs
    make a comparison report in --out."""
    from fedsim.cli.out_folder import output_folder
    from fedsim.errors import FedsimError
    from fedsim.record.report import write_comparison_report, write_report

    if len(runs) == 1:
        if out is not None:
            raise FedsimError("--out applies to comparisons; a run's report goes in its folder")
        path = write_report(runs[0])
    else:
        folder = output_folder(out if out is not None else Path(runs[0]).parent / "compare")
        path = write_comparison_report(list(runs), folder)
    print(f"wrote {path}")
    _warn_unaudited(runs)
    return 0


def _warn_unaudited(runs: tuple[str, ...]) -> None:
    """Say on stderr which reported runs did not pass their audit (the page says so too)."""
    import sys

    from fedsim.record.audit_status import read_audit_status

    for run in runs:
        audit = read_audit_status(run)
        if not audit.passed:
            print(f"WARNING: {run}: {audit.line()}", file=sys.stderr)
