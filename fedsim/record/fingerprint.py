"""Which code made a run: a short hash of fedsim's source and the versions that shape results.

Every run records it in summary.json (`"code"`); `fedsim sweep` reuses a finished run only
if its fingerprint equals the current one, and `fedsim compare` warns when the runs it
compares disagree. The hash covers every `.py` file under the installed `fedsim` package
(sorted by relative path, contents hashed) plus the versions of RESULT_PACKAGES and of the
interpreter: the same file and seed give other bytes on Python 3.13 than on 3.11 (asyncio
and aiohttp schedule a request's work differently), so a run made on another Python is
another code's run. It is computed once per process (~a few ms): editing the source
mid-process is not seen.
"""

from __future__ import annotations

import functools
import hashlib
import platform
from importlib import metadata
from pathlib import Path

__all__ = ["RESULT_PACKAGES", "code_fingerprint", "fingerprint_of"]

RESULT_PACKAGES = ("numpy", "numba", "simpy", "aiohttp", "scikit-learn", "scipy")
"""Third-party packages whose version can change a run's numbers."""

_LENGTH = 12
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../fedsim


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _interpreter() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def fingerprint_of(package_dir: str | Path, packages: tuple[str, ...] = RESULT_PACKAGES) -> str:
    """Hash of the `.py` files under package_dir and the installed versions of `packages`."""
    root = Path(package_dir)
    digest = hashlib.sha256()
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*.py") if p.is_file())
    for rel, path in files:
        digest.update(rel.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in packages:
        digest.update(f"{name}=={_version(name)}\n".encode())
    digest.update(f"python=={_interpreter()}\n".encode())
    return digest.hexdigest()[:_LENGTH]


@functools.cache
def code_fingerprint() -> str:
    """The fingerprint of the running fedsim (cached for the life of the process)."""
    return fingerprint_of(_PACKAGE_DIR)
