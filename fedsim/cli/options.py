"""Options several commands share, spelled once so they read the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

COMMAND_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
"""Every command: `-h` as argparse had it, help text wrapped at 100 columns."""

OWN_PROCESS = "fedsim.own_process"
"""`ctx.meta` key the console script sets: this process is fedsim's alone (nothing else
will import into it after the command), so a command may arrange the process for its
own needs (`fedsim run` loads Numba's BLAS table without scipy.linalg)."""

EXIT_WITHOUT_TEARDOWN = "fedsim.exit_without_teardown"
"""`ctx.meta` key a command sets once everything it makes is on disk and printed: the
console script then ends the process at once (`fedsim.cli.app.main`)."""


class ListedGroup(click.Group):
    """Commands listed in the order they are added (the order of a study), not A-Z."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def topology_argument(func: F) -> F:
    return click.argument("topology", metavar="FILE")(func)


def set_option(func: F) -> F:
    """`--set KEY.PATH=VALUE`, repeatable; applied in order over the file's values."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY.PATH=VALUE",
        help="override a topology value, e.g. --set fl.codec=int8 (repeatable)",
    )(func)


def seed_option(func: F) -> F:
    return click.option(
        "--seed", type=int, default=None, metavar="N", help="override the file's seed"
    )(func)
