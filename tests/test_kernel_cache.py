"""fedsim's cached kernels loaded with Numba's runtime only (fedsim.kernel_cache): the
same bytes as Numba's usual load, neither the compiler's registries nor Numba's
extensions loaded, and compiling afterwards (or loading anyone else's cached function)
still works as usual."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Trains an MLP and scores it in a fresh interpreter (a process loads a kernel once),
# with fedsim's kernels loaded the lean way or the usual one.
_KERNELS = """
import hashlib, json, sys
if sys.argv[1] == "lean":
    from fedsim.kernel_cache import lean_kernel_loading
    assert lean_kernel_loading()
import numpy as np
from fedsim.kernels.train import evaluate, init_params, sgd_train
rng = np.random.default_rng(7)
sizes = np.array([64, 16, 10], dtype=np.int64)
params = init_params(sizes, rng)
X = rng.standard_normal((200, 64)).astype(np.float32)
y = rng.integers(0, 10, 200).astype(np.int64)
order = rng.permutation(200).astype(np.int64)
loss = sgd_train(params, sizes, X, y, order, 16, 0.1, 0.01, params.copy())
acc, eval_loss = evaluate(params, sizes, X, y)
registries = "numba.np.arraymath" in sys.modules
from numba.core import entrypoints
extensions = entrypoints._already_initialized
from numba import njit
@njit
def total(a):
    return np.sum(a) + 1.0
print("OUT " + json.dumps({
    "params": hashlib.sha256(params.tobytes()).hexdigest(),
    "scores": [float(loss).hex(), float(acc).hex(), float(eval_loss).hex()],
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


def _run(code: str, *args: str, path: Path | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (ROOT, path, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("OUT ")][-1]
    return json.loads(line[4:])


def test_lean_loading_gives_the_same_bytes_without_the_compiler_registries() -> None:
    usual = _run(_KERNELS, "usual")  # also caches the kernels if they were not yet
    lean = _run(_KERNELS, "lean")
    assert lean["params"] == usual["params"]
    assert lean["scores"] == usual["scores"]
    assert usual["registries"] is True
    assert lean["registries"] is False
    assert (usual["extensions"], lean["extensions"]) == (True, False)
    assert lean["extensions_after_compiling"] is True
    assert lean["compiled"] == usual["compiled"] == 7.0


def test_a_cached_function_outside_fedsim_loads_the_usual_way(tmp_path: Path) -> None:
    (tmp_path / "theirs.py").write_text(_THEIRS_MODULE)
    first = _run(_THEIRS, path=tmp_path)  # compiles and caches it
    second = _run(_THEIRS, path=tmp_path)  # loads it from the cache
    assert first["out"] == second["out"] == [0.0, 2.0, 4.0]
    assert second["registries"] is True
    assert list(tmp_path.glob("__pycache__/theirs.twice-*.nbi"))
