"""Output folders checked before the work: a command that simulates for minutes and then
finds it cannot write its results has wasted those minutes (and said so as a traceback).
An empty path is refused: `Path("")` is the current folder, so `--out ""` (an unset shell
variable) would scatter results where the command was typed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from fedsim.errors import FedsimError

__all__ = ["OUTPUT_PATH", "output_file", "output_folder", "refuse_empty"]


def refuse_empty(path: str | Path, option: str, what: str = "folder") -> None:
    """One line when `path` is empty (or blanks): it would mean the current folder."""
    if isinstance(path, str) and not path.strip():
        raise FedsimError(
            f"{option} is empty: an empty path would write into the current folder; give a "
            + ("file name" if what == "file" else "folder (or . for the current folder)")
        )


class _OutputPath(click.ParamType):
    """A `Path` option that refuses an empty value, which click's Path would turn into
    the current folder before any check could see it."""

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path):
            return value
        option = param.opts[0] if param is not None and param.opts else "the path"
        refuse_empty(str(value), option)
        return Path(value)


OUTPUT_PATH = _OutputPath()
"""click type of every output folder option given as a Path."""


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """`path` as a folder this process can write in, created if missing; else one line
    naming `option` and what is wrong with it."""
    refuse_empty(path, option)
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise FedsimError(f"{option} {folder}: is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FedsimError(f"{option} {folder}: cannot create the folder ({_why(exc)})") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise FedsimError(f"{option} {folder}: cannot write in the folder ({_why(exc)})") from None
    return folder


def output_file(path: str | Path, option: str = "--out") -> Path:
    """`path` as a file this process can write (its folder created if missing); else
    one line naming `option`."""
    refuse_empty(path, option, "file")
    file = Path(path)
    if file.is_dir():
        raise FedsimError(f"{option} {file}: is a folder, not a file")
    output_folder(file.parent, option=f"{option} {file}: its folder")
    return file


def _why(exc: OSError) -> str:
    """The system's reason, and the path it concerns when that is another one."""
    reason = exc.strerror or type(exc).__name__
    where = exc.filename
    return f"{reason}: {where}" if where else reason
