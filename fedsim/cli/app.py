"""The root `fedsim` group and `main`, the one place a mistake becomes one line.

A user mistake (a bad topology key, a missing file, a bad or missing flag) prints one
line `fedsim: error: ...` on stderr and exits 2, never a traceback; Ctrl-C prints
`fedsim: interrupted` and exits 130.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from fedsim.cli import deploy, net, results, run, sweep, topology
from fedsim.cli.options import COMMAND_SETTINGS, EXIT_WITHOUT_TEARDOWN, OWN_PROCESS, ListedGroup
from fedsim.errors import FedsimError

__all__ = ["fedsim", "fedsim_version", "main"]


def fedsim_version() -> str:
    """The installed distribution's version; a source checkout that is not installed says so."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fedsim")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"fedsim {fedsim_version()}")
        ctx.exit()


@click.group(
    cls=ListedGroup,
    context_settings=COMMAND_SETTINGS,
    short_help="Federated learning over emulated IoT networks.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="print fedsim's version and exit",
)
def fedsim() -> None:
    """Federated learning over emulated IoT networks.

    A topology file describes devices, links, the task and the FL strategy; `fedsim run`
    runs it in simulated time and writes a results folder. `fedsim COMMAND --help`
    describes each command.
    """


for _command in (
    run.run_command,
    run.validate_command,
    topology.show_command,
    topology.schema_command,
    results.compare_command,
    results.report_command,
    sweep.sweep_command,
    net.net_group,
    deploy.serve_command,
    deploy.client_command,
    deploy.enroll_command,
    deploy.certs_command,
):
    fedsim.add_command(_command)


def _usage_line(exc: click.UsageError) -> str:
    """Click's message as one line, lower-case like every other fedsim error, with where
    to read more."""
    text = " ".join(exc.format_message().split()).replace(". (", " (").rstrip(".")
    text = text[:1].lower() + text[1:]
    if exc.ctx is not None:
        text += f" (see '{exc.ctx.command_path} --help')"
    return text


def main(argv: Sequence[str] | None = None, *, own_process: bool | None = None) -> int:
    """`fedsim ARGS`: the console script. Returns the exit code instead of exiting, so
    tests and bench/run_phases.py call it in-process (with `argv`).

    As the console script (no `argv`), a command that says its work is done
    (EXIT_WITHOUT_TEARDOWN: `fedsim run`) ends the process here: the interpreter's
    teardown would only free a run's objects one by one and run Numba's finalizers,
    ~0.1 s at 100 devices and more with more. `own_process` (default: as the console
    script) says nothing else will import into this process after the command
    (OWN_PROCESS)."""
    meta: dict[str, object] = {OWN_PROCESS: argv is None if own_process is None else own_process}
    code = _invoke(list(sys.argv[1:] if argv is None else argv), meta)
    if argv is None and meta.get(EXIT_WITHOUT_TEARDOWN) and not _observed():
        _exit_now(code)
    return code


def _observed() -> bool:
    """A profiler or coverage tool watches this process and writes its report when the
    interpreter ends (`python -m cProfile -o ...`, `coverage run`): end as usual. From
    Python 3.12 cProfile watches through `sys.monitoring`, not `sys.setprofile`."""
    if sys.getprofile() is not None or sys.gettrace() is not None or "coverage" in sys.modules:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None
        for tool in range(6)  # the six tool ids
    )


def _exit_now(code: int) -> NoReturn:
    """End the process without the interpreter's teardown: what was printed is flushed
    and logging shut down first (every file the run wrote is already closed)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(code)


def _invoke(args: list[str], meta: dict[str, object]) -> int:
    """The command's exit code; a mistake is one line on stderr. `meta` seeds the
    commands' shared `ctx.meta` and gets it back once they ran."""
    try:
        with fedsim.make_context("fedsim", args) as ctx:
            ctx.meta.update(meta)
            code = int(fedsim.invoke(ctx) or 0)
            meta.update(ctx.meta)
            return code
    except click.exceptions.NoArgsIsHelpError as exc:  # `fedsim`, `fedsim net`: the help
        click.echo(exc.format_message(), err=True)
        return 2
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.UsageError as exc:
        print(f"fedsim: error: {_usage_line(exc)}", file=sys.stderr)
        return 2
    except click.ClickException as exc:  # e.g. a file click could not open
        print(f"fedsim: error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return 2
    except FedsimError as exc:
        print(f"fedsim: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command reads or writes (the folders are checked first)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"fedsim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, click.Abort):
        print("fedsim: interrupted", file=sys.stderr)
        return 130
