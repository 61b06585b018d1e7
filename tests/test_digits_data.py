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


def test_small_int_table_reads_what_loadtxt_reads() -> None:
    import gzip
    from importlib.util import find_spec
    from pathlib import Path

    from fedsim.tasks.digits import DIGITS_COLUMNS, DIGITS_CSV, _small_int_table

    roots = find_spec("sklearn").submodule_search_locations
    raw = gzip.decompress(Path(next(iter(roots))).joinpath(*DIGITS_CSV).read_bytes())
    got = _small_int_table(raw, DIGITS_COLUMNS)
    want = np.loadtxt(raw.decode("ascii").splitlines(), delimiter=",", dtype=np.float64)
    assert got is not None
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    rng = np.random.default_rng(5)
    for cols in (1, 3, 65):
        table = rng.integers(0, 100, (7, cols))
        text = "".join(",".join(map(str, row)) + "\n" for row in table).encode()
        assert _small_int_table(text, cols).tobytes() == table.astype(np.float64).tobytes()


def test_small_int_table_refuses_other_text() -> None:
    from fedsim.tasks.digits import _small_int_table

    for text in (b"", b"1,2", b"1,2\n3\n", b"1,2\n3,4,5\n", b"1,,2\n", b"1,200\n",
                 b"1.5,2\n", b"-1,2\n", b"1,2\r\n", b"1,2\n3,4"):  # fmt: skip
        assert _small_int_table(text, 2) is None, text
