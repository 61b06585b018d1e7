"""Real IoT sensor data, offline: the UCR/UEA archive files sktime ships in its wheel.

Read straight from the installed package's data folder (`find_spec` locates it
without importing sktime, which would import pandas), parsed here from the
archive's `.ts` text format. Nothing is downloaded; no file is vendored into fedsim.
docs/tasks.md gives the sources, licences and citations.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from fedsim.errors import ScenarioError

__all__ = ["basic_motions", "italy_power_demand", "read_ts"]

PACKAGE = "sktime"
INSTALL_HINT = "pip install 'fedsim[iot]' (sktime ships the data in its wheel)"


def _data_file(dataset: str, split: str, kind: str) -> Path:
    spec = find_spec(PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root, "datasets", "data", dataset, f"{dataset}_{split}.ts")
        if path.is_file():
            return path
    raise ScenarioError("task.kind", f"{kind} needs {dataset} from {PACKAGE}: {INSTALL_HINT}")


def read_ts(path: Path) -> tuple[np.ndarray, list[str]]:
    """A `.ts` file of equal-length series: (values [n, dimensions, length], labels)."""
    rows: list[list[list[float]]] = []
    labels: list[str] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "@")):
                continue
            *dims, label = line.split(":")
            rows.append([[float(v) for v in d.split(",")] for d in dims])
            labels.append(label.strip())
    return np.asarray(rows, dtype=np.float64), labels


def _read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


@cache
def basic_motions() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """BasicMotions: 10 s smartwatch recordings at 10 Hz, 3-axis accelerometer then
    3-axis gyroscope: (X_train [40, 6, 100], y_train, X_test, y_test, class names)."""
    Xtr, ltr = read_ts(_data_file("BasicMotions", "TRAIN", "activity"))
    Xte, lte = read_ts(_data_file("BasicMotions", "TEST", "activity"))
    names = tuple(sorted(set(ltr) | set(lte)))
    ytr = np.array([names.index(v) for v in ltr], dtype=np.int64)
    yte = np.array([names.index(v) for v in lte], dtype=np.int64)
    _read_only(Xtr, ytr, Xte, yte)
    return Xtr, ytr, Xte, yte, names


@cache
def italy_power_demand() -> tuple[np.ndarray, np.ndarray]:
    """ItalyPowerDemand: 1096 days of Italy's hourly electricity demand (1997), each
    day z-normalised by the archive: (days [1096, 24], season: 0 Oct-Mar, 1 Apr-Sep)."""
    parts = [read_ts(_data_file("ItalyPowerDemand", s, "load_forecast")) for s in ("TRAIN", "TEST")]
    X = np.concatenate([p[0][:, 0, :] for p in parts])
    season = np.array([int(v) - 1 for p in parts for v in p[1]], dtype=np.int64)
    _read_only(X, season)
    return X, season
