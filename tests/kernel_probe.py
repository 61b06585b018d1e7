"""Run fedsim's training kernels in a fresh interpreter (Numba resolves its BLAS table
and loads a cached kernel once per process) and read back what the script printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TRAIN_AND_SCORE = """
import hashlib, json, sys
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
trained = {
    "params": hashlib.sha256(params.tobytes()).hexdigest(),
    "scores": [float(loss).hex(), float(acc).hex(), float(eval_loss).hex()],
}
"""
"""Trains an MLP (np.dot forward, transposed products backward) and scores it; leaves
`trained` (the parameters' hash, the scores as exact hex floats) for the script's OUT line."""


def run_fresh(code: str, *args: str, path: Path | None = None) -> dict:
    """Run `code` with `args` in a fresh interpreter (this checkout first on the path,
    then `path`); the JSON of its last `OUT ` line."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (ROOT, path, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("OUT ")]
    assert lines, proc.stderr[-2000:]
    return json.loads(lines[-1][len("OUT ") :])
