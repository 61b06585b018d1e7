"""Imports follow the data flow (docs/architecture.md): checked on the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "fedsim"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("fl", ("simpy", "fedsim.net", "fedsim.clock", "fedsim.run")),
        ("net", ("fedsim.fl", "fedsim.run", "fedsim.tasks", "fedsim.record")),
        ("tasks", ("simpy", "aiohttp", "fedsim.net", "fedsim.fl", "fedsim.run")),
        ("record", ("simpy", "aiohttp", "fedsim.net", "fedsim.fl", "fedsim.clock")),
        ("coap", ("simpy", "aiohttp", "fedsim.net", "fedsim.fl", "fedsim.clock", "fedsim.run")),
        ("transports", ("simpy", "fedsim.net", "fedsim.clock", "fedsim.run")),
    ],
)
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    bad = [
        f"{p.relative_to(PKG)} imports {name}"
        for p in _modules(package)
        for name in _imports(p)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not bad, bad


def test_kernels_import_only_numpy_and_numba() -> None:
    allowed = ("numpy", "numba", "math", "itertools", "__future__", "typing", "collections")
    bad = [
        f"{p.relative_to(PKG)} imports {name}"
        for p in _modules("kernels")
        for name in _imports(p)
        if name.split(".")[0] not in allowed
    ]
    assert not bad, bad
