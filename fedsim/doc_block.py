"""A generated block inside a hand-written document: the text between a BEGIN and an END
marker line is rewritten from the code (`make results-doc`, `devices-doc`, `cli-doc`),
so the tables in the docs cannot drift from what they describe."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["rewrite_block", "rewrite_from_argv"]


def rewrite_block(path: Path, begin: str, end: str, body: str) -> bool:
    """Put `body` between the `begin` and `end` lines of `path`; True if it changed."""
    text = path.read_text(encoding="utf-8")
    head, found, rest = text.partition(begin)
    if not found:
        raise SystemExit(f"{path}: no {begin!r} line to write under")
    _, _, tail = rest.partition(end)
    new = f"{head}{begin}\n\n{body}\n{end}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def rewrite_from_argv(update: Callable[[Path], bool], default: str) -> None:
    """`python -m <module> [FILE]`: rewrite FILE's block and say whether it changed."""
    target = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    print(f"{target}: {'updated' if update(target) else 'up to date'}")
