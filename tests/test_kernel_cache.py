"""fedsim's cached kernels loaded with Numba's runtime only (fedsim.kernel_cache): the
same bytes as Numba's usual load, neither the compiler's registries nor Numba's
extensions loaded, and compiling afterwards (or loading anyone else's cached function)
still works as usual."""

from __future__ import annotations

from pathlib import Path

from kernel_probe import TRAIN_AND_SCORE, run_fresh

# In a fresh interpreter (a process loads a kernel once), with fedsim's kernels loaded
# the lean way or the usual one.
_KERNELS = """
import sys
if sys.argv[1] == "lean":
    from fedsim.kernel_cache import lean_kernel_loading
    assert lean_kernel_loading()
"""
_KERNELS += TRAIN_AND_SCORE
_KERNELS += """
registries = "numba.np.arraymath" in sys.modules
from numba.core import entrypoints
extensions = entrypoints._already_initialized
from numba import njit
@njit
def total(a):
    return np.sum(a) + 1.0
print("OUT " + json.dumps({
    **trained,
    "registries": registries,
    "extensions": extensions,
    "compiled": float(total(np.arange(4.0))),
    "extensions_after_compiling": entrypoints._already_initialized,
}))
"""

# Someone else's cached function, in a module outside fedsim.
_THEIRS_MODULE = """
import numpy as np
from numba import njit

@njit(cache=True)
def twice(a):
    return a * 2.0
"""

_THEIRS = """
import json, sys
from fedsim.kernel_cache import lean_kernel_loading
assert lean_kernel_loading()
import numpy as np
import theirs
out = theirs.twice(np.arange(3.0))
print("OUT " + json.dumps({"out": out.tolist(), "registries": "numba.np.arraymath" in sys.modules}))
"""


def test_lean_loading_gives_the_same_bytes_without_the_compiler_registries() -> None:
    usual = run_fresh(_KERNELS, "usual")  # also caches the kernels if they were not yet
    lean = run_fresh(_KERNELS, "lean")
    assert lean["params"] == usual["params"]
    assert lean["scores"] == usual["scores"]
    assert usual["registries"] is True
    assert lean["registries"] is False
    assert (usual["extensions"], lean["extensions"]) == (True, False)
    assert lean["extensions_after_compiling"] is True
    assert lean["compiled"] == usual["compiled"] == 7.0


def test_a_cached_function_outside_fedsim_loads_the_usual_way(tmp_path: Path) -> None:
    (tmp_path / "theirs.py").write_text(_THEIRS_MODULE)
    first = run_fresh(_THEIRS, path=tmp_path)  # compiles and caches it
    second = run_fresh(_THEIRS, path=tmp_path)  # loads it from the cache
    assert first["out"] == second["out"] == [0.0, 2.0, 4.0]
    assert second["registries"] is True
    assert list(tmp_path.glob("__pycache__/theirs.twice-*.nbi"))
