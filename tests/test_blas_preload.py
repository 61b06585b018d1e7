"""Numba's BLAS table loaded alone (fedsim.blas_preload): the kernels compute the very
same bytes as with the table SciPy's own import gives, and scipy.linalg stays unimported."""

from __future__ import annotations

import sys

from kernel_probe import TRAIN_AND_SCORE, run_fresh

from fedsim.blas_preload import BLAS_MODULE, preload_blas_table

# In a fresh interpreter (Numba resolves the BLAS table once per process), preloaded or not.
_KERNELS = """
import sys
if sys.argv[1] == "preload":
    from fedsim.blas_preload import preload_blas_table
    assert preload_blas_table()
"""
_KERNELS += TRAIN_AND_SCORE
_KERNELS += """
print("OUT " + json.dumps({
    **trained,
    "scipy.linalg": "scipy.linalg" in sys.modules,
    "numpy.f2py": "numpy.f2py" in sys.modules,
}))
"""


def test_preloaded_table_gives_identical_training_and_skips_scipy_linalg() -> None:
    usual = run_fresh(_KERNELS, "usual")
    preloaded = run_fresh(_KERNELS, "preload")
    assert (preloaded["params"], preloaded["scores"]) == (usual["params"], usual["scores"])
    assert usual["scipy.linalg"] is True  # what the preload saves
    assert (preloaded["scipy.linalg"], preloaded["numpy.f2py"]) == (False, False)


def test_preload_does_nothing_once_scipy_linalg_is_imported() -> None:
    import scipy.linalg

    table = sys.modules[BLAS_MODULE]
    assert preload_blas_table() is False
    assert sys.modules[BLAS_MODULE] is table
    assert scipy.linalg.cython_blas is table
