"""ns-3 itself, on demand: regenerate reference rows and compare them with the tables.

Slow (ns-3 loads and compiles its experiment for ~1 min): `make test-all` only, and
only with the optional `ns3` extra installed (pip install 'fedsim[ns3]'); without it
these tests are skipped, saying so. Loss-free rows are one deterministic run and must
come out as printed (6 significant digits). A lossy row is 50 seeded runs whose seeds
the table does not record, so it is compared as the acceptance rule compares: the
table's 50-run mean must be a plausible 50-run mean of the regenerated runs.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from fedsim.net.ns3_link import ns3_missing, ns3_transfer
from fedsim.net.validate import acceptance

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def ns3() -> None:
    why = ns3_missing()
    if why is not None:
        pytest.skip(f"the optional ns-3 extra is not installed: {why}")


def _pick(rows: list[dict[str, str]], keys: set[tuple[str, int, float]]) -> list:
    out = [r for r in rows if (r["profile"], int(r["msg_bytes"]), float(r["loss_rate"])) in keys]
    assert len(out) == len(keys), "a chosen reference row is missing from the table"
    return out


LOSSLESS = _pick(_rows("ns3_tcp_transfer.csv"), {
    ("wifi-like", 100_000, 0.0), ("wifi-like", 1_000_000, 0.0),
    ("lte-like", 10_000, 0.0), ("lte-like", 1_000_000, 0.0),
})  # fmt: skip
LOSSY = _pick(_rows("ns3_tcp_transfer.csv"), {("wifi-like", 10_000, 0.05)})


@pytest.mark.usefixtures("ns3")
@pytest.mark.parametrize("row", LOSSLESS, ids=lambda r: f"{r['profile']}-{r['msg_bytes']}")
def test_lossless_reference_rows_come_out_as_printed(row: dict[str, str]) -> None:
    t, retx = ns3_transfer(float(row["bandwidth_bps"]), float(row["delay_s"]),
                           int(row["msg_bytes"]))  # fmt: skip
    assert t == pytest.approx(float(row["mean_s"]), rel=1e-5)
    assert retx == 0


@pytest.mark.usefixtures("ns3")
@pytest.mark.parametrize("row", _rows("ns3_ethernet_hystart.csv"),
                         ids=lambda r: f"{r['msg_bytes']}-hystart{r['hystart']}")  # fmt: skip
def test_ethernet_hystart_rows_come_out_as_printed(row: dict[str, str]) -> None:
    t, _ = ns3_transfer(float(row["bandwidth_bps"]), float(row["delay_s"]),
                        int(row["msg_bytes"]), hystart=row["hystart"] == "1")  # fmt: skip
    assert t == pytest.approx(float(row["mean_s"]), rel=1e-5)


@pytest.mark.usefixtures("ns3")
@pytest.mark.parametrize("row", LOSSY, ids=lambda r: f"{r['profile']}-{r['msg_bytes']}-lossy")
def test_a_lossy_reference_row_is_a_plausible_rerun(row: dict[str, str]) -> None:
    runs = int(row["runs"])
    times = np.array([
        ns3_transfer(float(row["bandwidth_bps"]), float(row["delay_s"]), int(row["msg_bytes"]),
                     loss=float(row["loss_rate"]), run=k)[0] or np.nan
        for k in range(1, 4 * runs + 1)
    ])  # fmt: skip
    assert acceptance(times, float(row["mean_s"]), runs, lossless=False) is not None
