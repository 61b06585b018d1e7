"""The digits are read from the CSV scikit-learn ships, without importing sklearn.datasets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from fedsim.tasks.digits import load_digits_arrays


def test_digits_csv_equals_sklearn_load_digits() -> None:
    from sklearn.datasets import load_digits

    X, y = load_digits_arrays()
    ref = load_digits()
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(y, ref.target)


def test_loading_digits_does_not_import_sklearn() -> None:
    code = (
        "import sys; from fedsim.tasks.digits import load_digits_arrays; "
        "X, y = load_digits_arrays(); "
        "print(X.shape, sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1797, 64) []"
