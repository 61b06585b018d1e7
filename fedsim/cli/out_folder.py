"""Output folders checked before the work: a command that simulates for minutes and then
finds it cannot write its results has wasted those minutes (and said so as a traceback)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fedsim.errors import FedsimError

__all__ = ["output_file", "output_folder"]


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """`path` as a folder this process can write in, created if missing; else one line
    naming `option` and what is wrong with it."""
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
