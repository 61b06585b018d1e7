"""Numba's BLAS table loaded alone (fedsim.blas_preload): the kernels compute the very
same bytes as with the table SciPy's own import gives, and scipy.linalg stays unimported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fedsim.blas_preload import BLAS_MODULE, preload_blas_table

ROOT = Path(__file__).resolve().parents[1]

# Trains an MLP (np.dot forward, transposed products backward) and scores it, in a fresh
# interpreter (Numba resolves the BLAS table once per process), preloaded or not.
_KERNELS = """
import hashlib, json, sys
preload = sys.argv[1] == "preload"
if preload:
    from fedsim.blas_preload import preload_blas_table
    assert preload_blas_table()
import numpy as np
from fedsim.kernels.train import evaluate, init_params, sgd_train
rng = np.random.default_rng(7)
sizes = np.array([64, 16, 10], dtype=np.int64)
params = init_params(sizes, rng)
X = rng.standard_normal((200, 64)).astype(np.float32)
y = rng.integers(0, 10, 200).astype(np.int64)
order = rng.permutation(200).astype(np.int64)
anchor = params.copy()
loss = sgd_train(params, sizes, X, y, order, 16, 0.1, 0.01, anchor)
acc, eval_loss = evaluate(params, sizes, X, y)
print("OUT " + json.dumps({
    "params": hashlib.sha256(params.tobytes()).hexdigest(),
    "scores": [float(loss).hex(), float(acc).hex(), float(eval_loss).hex()],
    "scipy.linalg": "scipy.linalg" in sys.modules,
    "numpy.f2py": "numpy.f2py" in sys.modules,
}))
"""


def _kernels_in_fresh_process(mode: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _KERNELS, mode],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("OUT ")), None)
    assert line is not None, proc.stderr[-2000:]
    return json.loads(line[len("OUT ") :])


def test_preloaded_table_gives_identical_training_and_skips_scipy_linalg() -> None:
    usual = _kernels_in_fresh_process("usual")
    preloaded = _kernels_in_fresh_process("preload")
    assert (preloaded["params"], preloaded["scores"]) == (usual["params"], usual["scores"])
    assert usual["scipy.linalg"] is True  # what the preload saves
    assert (preloaded["scipy.linalg"], preloaded["numpy.f2py"]) == (False, False)


def test_preload_does_nothing_once_scipy_linalg_is_imported() -> None:
    import scipy.linalg

    table = sys.modules[BLAS_MODULE]
    assert preload_blas_table() is False
    assert sys.modules[BLAS_MODULE] is table
    assert scipy.linalg.cython_blas is table
