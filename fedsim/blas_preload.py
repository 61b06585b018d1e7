"""Numba's BLAS table loaded without importing all of scipy.linalg.

The kernels' `np.dot` compiles to calls through `scipy.linalg.cython_blas`, a table of
BLAS function pointers. Numba's first compiled call in a process (loading its cached
kernels included) checks that table with `import scipy.linalg.cython_blas`, which first
runs `scipy/linalg/__init__.py`: all of scipy.linalg and, through SciPy's array-API layer,
numpy.f2py, numpy.testing and numpy.ma, ~0.2 s of CPU that a run never uses. Loading that
one extension module under its own name gives Numba the same table (the same BLAS
library, so the same results) in a few milliseconds.

Only for a process fedsim owns (`fedsim run`, a sweep worker): a later `import
scipy.linalg` there works, but leaves the attribute `scipy.linalg.cython_blas` unset
(`from scipy.linalg import cython_blas` still finds the module).
"""

from __future__ import annotations

import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path

__all__ = ["BLAS_MODULE", "preload_blas_table"]

BLAS_MODULE = "scipy.linalg.cython_blas"


def _extension_file() -> Path | None:
    spec = find_spec("scipy")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        for suffix in EXTENSION_SUFFIXES:
            path = Path(root, "linalg", f"cython_blas{suffix}")
            if path.is_file():
                return path
    return None


def preload_blas_table() -> bool:
    """Load `scipy.linalg.cython_blas` alone, before Numba looks for it. False (and
    nothing changed: Numba then imports it the usual way) when scipy.linalg is already
    imported or the file is not where SciPy keeps it."""
    if BLAS_MODULE in sys.modules or "scipy.linalg" in sys.modules:
        return False
    path = _extension_file()
    if path is None:
        return False
    loader = ExtensionFileLoader(BLAS_MODULE, str(path))
    spec = spec_from_file_location(BLAS_MODULE, path, loader=loader)
    if spec is None:
        return False
    try:
        module = module_from_spec(spec)
        sys.modules[BLAS_MODULE] = module
        loader.exec_module(module)
    except Exception:  # a SciPy laid out differently: the usual import still works
        sys.modules.pop(BLAS_MODULE, None)
        return False
    return True
