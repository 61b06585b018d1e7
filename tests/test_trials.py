"""Trial topologies (topologies/trials/) written by a new user from the docs alone,
checked the way that user checks a results folder by hand: the CSV files and
summary.json, read back, against the failure schedule, the PSM cycle, the link rate
and the model size. Issue 10's findings 1 and 2 are among them."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fedsim.run import run_scenario

TRIALS = Path(__file__).resolve().parents[1] / "topologies" / "trials"

CUT_AT = 3 * 3600.0
CUT_FOR = 2 * 3600.0


class Folder:
    """One written run folder, read back as a user would read it."""

    def __init__(self, path: Path) -> None:
        self.summary: dict[str, Any] = json.loads((path / "summary.json").read_text())
        self.rounds = _rows(path / "rounds.csv")
        self.clients = _rows(path / "clients.csv")
        self.links = _rows(path / "links.csv")
        self.timeline = _rows(path / "timeline.csv")

    @property
    def end(self) -> float:
        return float(self.summary["sim_time_s"])

    def link(self, name: str, direction: str) -> dict[str, str]:
        (row,) = [r for r in self.links if r["link"] == name and r["direction"] == direction]
        return row

    def states(self, client_prefix: str, start: float, end: float) -> list[dict[str, str]]:
        """Timeline intervals of matching clients that overlap (start, end)."""
        return [
            r
            for r in self.timeline
            if r["client"].startswith(client_prefix)
            and float(r["start_s"]) < end
            and float(r["end_s"]) > start
        ]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _run(tmp: Path, name: str, *overrides: str, seed: int | None = None) -> Folder:
    return Folder(
        run_scenario(TRIALS / f"{name}.yaml", seed=seed, overrides=overrides, out_root=tmp)
    )


def _round_causes(run: Folder) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in run.rounds:
        for part in filter(None, r["failed_causes"].split(";")):
            cause, n = part.split(":")
            out[cause] += int(n)
    return out


def _client_causes(run: Folder) -> Counter[str]:
    out: Counter[str] = Counter()
    for c in run.clients:
        for key, value in c.items():
            if key.startswith("dropouts_") and int(value):
                out[key.removeprefix("dropouts_")] += int(value)
    return out


def _assert_hand_checks(run: Folder) -> None:
    """What every results folder must satisfy when read by hand."""
    assert _round_causes(run) == _client_causes(run) == Counter(run.summary["dropouts"])
    for c in run.clients:
        per_cause = sum(int(v) for k, v in c.items() if k.startswith("dropouts_"))
        assert int(c["dropouts"]) == per_cause, c["client"]
        for direction in ("up", "down"):
            (hop,) = [r for r in run.links if r["a"] == c["client"] and r["direction"] == direction]
            assert int(c[f"bytes_{direction}"]) == int(hop["payload_bytes"]), c["client"]
    for row in run.links:
        assert float(row["down_time_s"]) <= run.end + 1e-6, row["link"]


def _active_during(run: Folder, prefix: str, start: float, end: float) -> list[dict[str, str]]:
    return [r for r in run.states(prefix, start, end) if r["state"] != "offline"]


def _uploads_during(run: Folder, prefix: str, start: float, end: float) -> list[dict[str, str]]:
    return [r for r in run.states(prefix, start, end) if r["state"] == "uploading"]


# -- finding 1: a report across a cut backhaul ------------------------------------


def test_nbiot_cut_mid_round_breaks_the_round_and_accepts_nothing_over_it(
    tmp_path: Path,
) -> None:
    """40 meters; the cut lands while a round's meters are downloading their task (the
    instant is found by a first run without the cut, so the test does not depend on
    exact timings): every one of them must drop out with cause link_down and no meter
    may do anything but be offline during the cut."""
    small = ("nodes.2.count=40", "fl.min_available=4", "fl.clients_per_round=4")
    free = _run(tmp_path / "free", "nbiot_backhaul_cut", *small, "fl.time_limit=4h", "failures=[]")
    loading = [r for r in free.states("meter", 2.5 * 3600, 4 * 3600) if r["state"] == "downloading"]
    assert loading, "no download between 2.5 h and 4 h to cut"
    first = min(loading, key=lambda r: float(r["start_s"]))
    cut = round((float(first["start_s"]) + float(first["end_s"])) / 2, 6)
    run = _run(
        tmp_path / "cut", "nbiot_backhaul_cut", *small, "fl.time_limit=6h", f"failures.0.at={cut}s"
    )
    downloading = [r for r in run.states("meter", cut - 1e-9, cut) if r["state"] == "downloading"]
    assert downloading
    assert all(float(r["end_s"]) == cut for r in downloading)
    (broken,) = [r for r in run.rounds if cut < float(r["sim_time_s"]) < cut + CUT_FOR]
    assert (broken["reported"], broken["accepted"]) == ("0", "0")
    causes = dict(part.split(":") for part in broken["failed_causes"].split(";"))
    assert sum(map(int, causes.values())) == int(broken["selected"])
    assert set(causes) <= {"link_down", "device_offline"}  # cut, or asleep (PSM) before it
    assert int(causes.get("link_down", 0)) >= len(downloading)
    assert _active_during(run, "meter", cut, cut + CUT_FOR) == []
    for direction in ("up", "down"):
        assert float(run.link("cell-server", direction)["down_time_s"]) == CUT_FOR
    _assert_hand_checks(run)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 3])
def test_nbiot_full_size_no_report_inside_the_cut(tmp_path: Path, seed: int) -> None:
    """Issue 10 finding 1 at full size: 200 PSM meters, cut 3 h - 5 h."""
    run = _run(tmp_path, "nbiot_backhaul_cut", seed=seed)
    assert len(run.clients) == 200
    inside = [r for r in run.rounds if CUT_AT < float(r["sim_time_s"]) < CUT_AT + CUT_FOR]
    assert inside
    assert all(r["reported"] == "0" for r in inside)
    assert sum(int(r["failed"]) for r in inside) == _round_causes(run)["link_down"] > 0
    assert _active_during(run, "meter", CUT_AT, CUT_AT + CUT_FOR) == []
    for direction in ("up", "down"):
        assert float(run.link("cell-server", direction)["down_time_s"]) == CUT_FOR
    _assert_hand_checks(run)


def test_nbiot_psm_meters_sleep_fifty_minutes_an_hour(tmp_path: Path) -> None:
    """Every PSM sleep interval (cause device_offline) that does not touch the cut or
    the run's end lasts period - awake = 3000 s."""
    run = _run(
        tmp_path,
        "nbiot_backhaul_cut",
        "nodes.2.count=20",
        "fl.min_available=2",
        "fl.clients_per_round=2",
        "fl.time_limit=3h",
        "failures=[]",
    )
    sleeps = [
        float(r["end_s"]) - float(r["start_s"])
        for r in run.timeline
        if r["cause"] == "device_offline"
        and float(r["start_s"]) > 0
        and float(r["end_s"]) < run.end
    ]
    assert len(sleeps) >= 20
    assert all(abs(s - 3000.0) < 1e-6 for s in sleeps)


# -- finding 2: a dead gateway keeps carrying traffic -------------------------------


@pytest.fixture(scope="module")
def churn_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Folder]:
    tmp = tmp_path_factory.mktemp("churn")
    return {
        "300s": _run(tmp, "gateway_churn", "fl.time_limit=300s"),
        "1h": _run(tmp, "gateway_churn", "fl.time_limit=1h"),
    }


def test_churned_gateway_uplink_carries_nothing_after_it_left(
    churn_runs: dict[str, Folder],
) -> None:
    """Everything the gone gateway's uplink carried, it carried in its first 60 s:
    a 1 h run and a 300 s run show the same packets and bytes there."""
    short, long = churn_runs["300s"], churn_runs["1h"]
    for direction in ("up", "down"):
        a, b = short.link("gw-gone-server", direction), long.link("gw-gone-server", direction)
        for col in ("packets", "wire_bytes", "payload_bytes"):
            assert a[col] == b[col], (direction, col)


@pytest.mark.parametrize("length", ["300s", "1h"])
def test_churned_gateway_down_time_is_the_run_after_it_left(
    churn_runs: dict[str, Folder], length: str
) -> None:
    run = churn_runs[length]
    down = float(run.link("gw-gone-server", "up")["down_time_s"])
    assert down == pytest.approx(run.end - 60.0, abs=1e-6)
    for name in ("orphan-1", "orphan-2", "orphan-3"):
        (last,) = [r for r in run.states(name, 60.0, run.end) if float(r["start_s"]) >= 60.0]
        assert (float(last["start_s"]), float(last["end_s"]), last["state"]) == (
            60.0,
            run.end,
            "offline",
        )
    _assert_hand_checks(run)


# -- units: a byte-rate link --------------------------------------------------------

MODEL_BYTES = (64 * 3300 + 3300 + 3300 * 10 + 10) * 4  # hidden: [3300], float32
SEGMENT, HEADERS = 1460, 54  # TCP payload per segment, Ethernet + IP + TCP headers
ANSWER_BYTES = 182  # an upload's answer: HTTP head and its JSON


def _downloads(run: Folder) -> list[float]:
    return [
        float(r["end_s"]) - float(r["start_s"]) for r in run.timeline if r["state"] == "downloading"
    ]


@pytest.fixture(scope="module")
def byte_rate_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Folder]:
    tmp = tmp_path_factory.mktemp("rate")
    return {
        bw: _run(tmp, "byte_rate_link", "fl.rounds=3", f"links.line.bandwidth={bw}")
        for bw in ("1MBps", "1Mbps")
    }


def test_byte_rate_link_bytes_per_round_are_the_model_plus_http(
    byte_rate_runs: dict[str, Folder],
) -> None:
    """After round 1 (registration), a round moves one model each way plus < 1 kB
    of HTTP; wire bytes add 54 B per segment and ACK."""
    for run in byte_rate_runs.values():
        for r in run.rounds[1:]:
            for col in ("bytes_up", "bytes_down"):
                assert 0 < int(r[col]) - MODEL_BYTES < 1000, (r["round"], col)
        for direction in ("up", "down"):
            link = run.link("dev-server", direction)
            assert int(link["retx_bytes"]) == 0
            framing = int(link["wire_bytes"]) - int(link["data_bytes"])
            # 54 B per frame, plus 4 B of MSS option on a SYN (one keep-alive connection)
            assert framing == HEADERS * int(link["packets"]) + 4, direction
            # payload the server handed over as the run ended, cut with its window (the
            # last upload's answer: docs/results.md, "The run's window"), crossed nothing
            unsent = int(link["payload_bytes"]) - int(link["data_bytes"])
            assert unsent == (0 if direction == "up" else ANSWER_BYTES), direction
        _assert_hand_checks(run)


def test_byte_rate_link_one_megabyte_per_second_is_eight_megabits(
    byte_rate_runs: dict[str, Folder],
) -> None:
    """A ~1 MB model at 1 Mbit/s: its segments' serialization, ~8.2 s; at 1 MB/s the
    same bytes take 1/8 of it plus slow start's round trips (RTT 0.1 s), so the
    transfer-time ratio in a whole run lies between 6 and 8."""
    wire = MODEL_BYTES + HEADERS * -(-MODEL_BYTES // SEGMENT)
    slow, fast = _downloads(byte_rate_runs["1Mbps"]), _downloads(byte_rate_runs["1MBps"])
    assert len(slow) == len(fast) == 3
    for t in slow:
        assert t == pytest.approx(wire * 8 / 1e6, rel=0.01)
    for t in fast:
        assert wire / 1e6 < t < wire / 1e6 + 3 * 0.1
    assert 6.0 < sum(slow) / sum(fast) < 8.0


# -- a field mix: LoRa tags on batteries, Wi-Fi behind a partition, FedBuff ----------


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    return _run(tmp_path_factory.mktemp("campus"), "mixed_campus_async", "fl.time_limit=32min")


def test_campus_async_run_is_named_and_reconciles(campus: Folder) -> None:
    assert (campus.summary["engine"], campus.summary["strategy"]) == ("async", "fedbuff")
    assert campus.end == 32 * 60.0
    _assert_hand_checks(campus)


def test_campus_partition_accepts_nothing_from_the_cut_building(campus: Folder) -> None:
    """The Wi-Fi building is cut 1200-1800 s: its hubs and phones are offline all the
    while (the tags behind the LoRa gateway are not), the tasks the cut broke are
    partition dropouts, and the building's uplink was down exactly 600 s."""
    assert _active_during(campus, "hub", 1200.0, 1800.0) == []
    assert _active_during(campus, "phone", 1200.0, 1800.0) == []
    assert _uploads_during(campus, "tag", 1200.0, 1800.0) != []
    assert _client_causes(campus)["partition"] > 0
    assert float(campus.link("gw-wifi-server", "up")["down_time_s"]) == 600.0


def test_campus_drained_tags_stay_offline_for_battery(campus: Folder) -> None:
    drained = [r for r in campus.timeline if r["cause"] == "battery"]
    assert drained
    for r in drained:
        assert float(r["end_s"]) == campus.end
        access = campus.link(f"{r['client']}-gw-lora", "up")
        assert float(access["down_time_s"]) == pytest.approx(campus.end - float(r["start_s"]))


@pytest.mark.parametrize(("length", "limit"), [("300s", 300.0), ("1h", 3600.0)])
def test_no_round_starts_after_the_time_limit(
    churn_runs: dict[str, Folder], length: str, limit: float
) -> None:
    """fl.time_limit with round_interval 30 s: the wait for the next round may cross
    the limit; no task may be handed out after it (it was: round 11 at 300.10 s)."""
    run = churn_runs[length]
    starts = [float(r["start_s"]) for r in run.timeline if r["state"] == "downloading"]
    assert starts
    assert max(starts) < limit
