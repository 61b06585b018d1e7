"""Error types. A user mistake is a `FedsimError`: the CLI prints it as one line, exit 2.
A warning (allowed, but almost certainly not meant) is one line too: `print_warning`."""

from __future__ import annotations

import sys

__all__ = [
    "FedsimError",
    "ScenarioError",
    "SimulationDeadlock",
    "UnitError",
    "print_warning",
]


class FedsimError(Exception):
    """A mistake the user can fix; its message is the whole story."""


class UnitError(FedsimError, ValueError):
    """A quantity string that cannot be read (`'20 Mbps'` is fine, `'fast'` is not)."""


class ScenarioError(FedsimError):
    """A topology file problem, located by its key path (`links[3].loss`)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class SimulationDeadlock(RuntimeError):  # noqa: N818 - the name says what happened
    """Nothing is scheduled and nothing can wake the loop: the run would hang forever."""


def print_warning(line: str) -> None:
    """One warning line on stderr, the same from every command (stdout stays results)."""
    print(f"fedsim: warning: {line}", file=sys.stderr)
