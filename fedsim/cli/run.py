"""`fedsim run` and `fedsim validate`: a topology file through the pre-run path.

Both prepare the scenario before any heavy import, so a bad file fails in milliseconds
and `validate` never loads the network stack, Numba or plotting.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from fedsim.cli.options import (
    COMMAND_SETTINGS,
    EXIT_WITHOUT_TEARDOWN,
    OWN_PROCESS,
    seed_option,
    set_option,
    topology_argument,
)

__all__ = ["run_command", "validate_command"]


@click.command(
    "run",
    context_settings=COMMAND_SETTINGS,
    short_help="Run a topology file; results go to results/<name>-seed<N>/.",
)
@topology_argument
@seed_option
@click.option("--out", default="results", metavar="DIR", show_default=True, help="results root")
@set_option
@click.option(
    "--quiet", is_flag=True, help="no progress display; only the results lines and warnings"
)
@click.option(
    "--no-plots", is_flag=True, help="no plots/, no report.html (`fedsim report` draws them later)"
)
@click.option(
    "--png", is_flag=True, help="also write PNG copies of the plots (SVG is always written)"
)
@click.option(
    "--no-audit", is_flag=True, help="skip the run's invariant checks (debugging; no audit.json)"
)
def run_command(
    topology: str,
    seed: int | None,
    out: str,
    overrides: tuple[str, ...],
    quiet: bool,
    no_plots: bool,
    png: bool,
    no_audit: bool,
) -> int:
    """Run a topology file in simulated time and write its results folder.

    Prints two lines on stdout: the results folder, and a one-line summary (rounds, final
    metric, time to target, simulated vs wall time, payload and wire bytes of the whole
    run, dropouts, and `not audited` with --no-audit). Warnings and errors go to stderr.
    """
    with _no_collections():
        folder = _run(topology, seed, out, overrides, quiet, no_plots, png, no_audit)
    _print_summary(folder)
    # Results are written: the interpreter's exit need not scan the run's objects
    # for cycles once more (seconds at 10,000 devices); the console script skips the
    # teardown altogether.
    gc.freeze()
    click.get_current_context().meta[EXIT_WITHOUT_TEARDOWN] = True
    return 0


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """No cyclic garbage collection while a run is prepared, simulated and written (the
    simulation already runs without, see fedsim.run._quiet_gc). Imports, the topology
    and the set-up allocate objects that live to the end, which collections only scan
    again and again: 0.13 s of a 1,000-device run. Restored after (tests run in-process)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(
    topology: str,
    seed: int | None,
    out: str,
    overrides: tuple[str, ...],
    quiet: bool,
    no_plots: bool,
    png: bool,
    no_audit: bool,
) -> Path:
    from fedsim.audit import AuditError
    from fedsim.cli.out_folder import output_folder
    from fedsim.errors import print_warning
    from fedsim.scenario import prepare_scenario

    formats = ("svg", "png") if png else ("svg",)
    plotter = None
    if not no_plots:
        # First: it imports matplotlib on the other core while this process imports and
        # sets up, so it is ready before the simulation starts (not competing with it).
        from fedsim.record.plot_helper import start_plot_helper

        plotter = start_plot_helper(formats)
    try:
        # Prepared once, before the heavy imports: a bad file fails in milliseconds.
        scenario = prepare_scenario(topology, list(overrides), seed, warn=print_warning)
        output_folder(out)  # before simulating: a run that cannot be written is not run
        own_process = bool(click.get_current_context().meta.get(OWN_PROCESS))
        if own_process:
            # No TLS in a simulated run: aiohttp's default contexts need no CA bundle.
            from fedsim.aiohttp_import import import_aiohttp_without_ca_bundle

            import_aiohttp_without_ca_bundle()
        from fedsim.blas_preload import preload_blas_table
        from fedsim.kernel_cache import lean_kernel_loading
        from fedsim.run import run_scenario

        if own_process:
            # Numba's BLAS without scipy.linalg; not in a caller's process, where a
            # later `import scipy.linalg` would lack the attribute `cython_blas`.
            preload_blas_table()
            # The cached kernels without Numba's compiler set-up (a caller's process
            # may compile its own functions with Numba's extensions).
            lean_kernel_loading()

        return run_scenario(
            topology,
            scenario=scenario,
            seed=seed,
            overrides=list(overrides),
            out_root=Path(out),
            progress=not quiet,
            plots=not no_plots,
            plot_formats=formats,
            audit=not no_audit,
            last_in_process=True,
            plotter=plotter,
            warn_replaced=True,
        )
    except AuditError as exc:
        if exc.folder is not None:
            print(f"results: {exc.folder} (see audit.json)")
            # What went wrong with its devices says most about why the audit failed
            # (a run whose every request timed out completes no round): said before
            # the audit's error, which stays last (and the exit code): a table that
            # cannot be read here must not take its place.
            from fedsim.errors import FedsimError

            with contextlib.suppress(FedsimError, OSError):
                _print_warnings(exc.folder)
        raise
    finally:
        if plotter is not None:
            plotter.close()


def _figure(x: float) -> str:
    """The speed-up ratio: whole numbers from 10 up, two significant digits below
    (0.75x is not "1x"); simulated seconds use `seconds_figure`."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def _print_summary(folder: Path) -> None:
    from fedsim.record.audit_status import read_audit_status
    from fedsim.record.run_line import run_line, seconds_figure
    from fedsim.record.tables import read_summary

    s = read_summary(folder / "summary.json")
    ratio = s.sim_time_s / max(s.wall_time_s, 1e-9)
    print(f"results: {folder}")
    print(run_line(s, read_audit_status(folder), _figure(ratio), seconds_figure(s.sim_time_s)))
    _print_warnings(folder)


def _print_warnings(folder: Path) -> None:
    """The run's devices that never took part, and requests its clients abandoned: on
    stderr after every run, its audit passed or not."""
    from fedsim.errors import print_warning
    from fedsim.record.absent_devices import (
        absent_devices,
        absent_warning,
        gave_up_warning,
        offline_throughout,
        timed_out_warning,
    )
    from fedsim.record.schema import ClientRow, TimelineRow
    from fedsim.record.tables import read_summary, read_table

    clients = read_table(folder / "clients.csv", ClientRow)
    offline = None
    if absent_devices(clients):  # the timeline only then: it is the largest table
        offline = offline_throughout(read_table(folder / "timeline.csv", TimelineRow))
    absent = absent_warning(clients, offline=offline)
    if absent:  # whatever their count: never connected, registered, selected or accepted
        print_warning(absent)
    summary = read_summary(folder / "summary.json")
    for line in (timed_out_warning(clients, summary), gave_up_warning(clients, summary)):
        if line:
            print_warning(line)


@click.command(
    "validate",
    context_settings=COMMAND_SETTINGS,
    short_help="Check topology files without running them.",
)
@click.argument("topologies", metavar="FILE...", nargs=-1, required=True)
@set_option
def validate_command(topologies: tuple[str, ...], overrides: tuple[str, ...]) -> int:
    """Check topology files exactly as `fedsim run` does before simulating.

    One line per file: `FILE: ok (...)` or `fedsim: error: ...` naming the key path.
    Exits 2 if any file is bad.
    """
    from fedsim.errors import FedsimError, print_warning
    from fedsim.scenario import prepare_scenario

    bad = 0
    for path in topologies:
        # Several files: each warning names its file, as each error does.
        prefix = f"{path}: " if len(topologies) > 1 else ""
        try:
            sc = prepare_scenario(
                path, list(overrides), warn=lambda w, p=prefix: print_warning(p + w)
            )
        except FedsimError as exc:
            bad += 1
            named = len(topologies) > 1 and not str(exc).startswith(str(path))
            where = f"{path}: " if named else ""  # one file: the very line `run` prints
            print(f"fedsim: error: {where}{exc}", file=sys.stderr)
            continue
        gateways = sum(1 for n in sc.nodes if n.kind == "gateway")
        print(f"{path}: ok ({len(sc.device_nodes)} devices, {gateways} gateways, "
              f"{len(sc.links)} link classes, {len(sc.failures)} scheduled failures)")  # fmt: skip
    return 2 if bad else 0
