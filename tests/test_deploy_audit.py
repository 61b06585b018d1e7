"""A pilot's numbers are audited as a simulation's are: `fedsim serve --results DIR`
audits the folder on every write, with the invariants its tables support.

Real TCP on localhost: two devices, two rounds. The clean pilot reads `passed` with the
applicable invariants listed and the rest named as not applicable; a table edited
afterwards reads `void`; a byte the server books wrong fails the audit loudly (stderr,
audit.json) while the federation finishes; an applicable invariant deleted from
audit.json reads `incomplete`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from topo import tiny_topology

from fedsim.audit import INVARIANTS, Invariant, NotRecorded, applicable
from fedsim.deploy import run_client, serve
from fedsim.deployment.audit import DEPLOYMENT_SOURCES, DeploymentAudit, DeploymentRecord
from fedsim.deployment.results import DeploymentResults
from fedsim.record.absent_devices import gave_up_warning, timed_out_warning
from fedsim.record.audit_status import read_audit_status
from fedsim.record.deployed_model import read_model
from fedsim.record.invariant_names import DEPLOYMENT_INVARIANTS, KNOWN_INVARIANTS
from fedsim.record.runs import load_run
from fedsim.scenario import parse_scenario

DEVICES = ("dev-1", "dev-2")
ROUNDS = 2
APPLY = DEPLOYMENT_INVARIANTS
"""What a deployment's tables support, spelled out for the readers of audit.json
(fedsim.record.invariant_names); the code derives it from each invariant's declared
sources, and the first test compares the two."""


def _scenario(**changes: Any) -> Any:
    return parse_scenario(
        tiny_topology(**{"fl__rounds": ROUNDS, "fl__clients_per_round": 2,
                         "fl__min_available": 2, "fl__poll_wait": "10s", "fl__deadline": "30s",
                         "nodes__2__count": 2, **changes})
    )  # fmt: skip


def _pilot(out: Path, **changes: Any) -> None:
    """Serve the federation into `out` with both devices taking part to the end."""
    sc = _scenario(**changes)

    async def main() -> None:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve(sc, "127.0.0.1", 0, on_ready=ready.set_result, results_dir=out, grace_s=10.0)
        )
        port = await asyncio.wait_for(ready, 10)
        url = f"http://127.0.0.1:{port}"
        await asyncio.wait_for(asyncio.gather(*(run_client(sc, d, url) for d in DEVICES)), 60)
        await asyncio.wait_for(server, 20)

    asyncio.run(main())


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deploy-audit") / "pilot"
    _pilot(out)
    return out


@pytest.fixture
def copy(pilot: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pilot, tmp_path / "pilot"))


def _audit_json(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "audit.json").read_text(encoding="utf-8"))


def _rewrite_csv(path: Path, edit: Any) -> None:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    edit(rows)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def test_the_applicable_invariants_follow_from_their_declarations() -> None:
    ran, not_applicable = applicable(DEPLOYMENT_SOURCES)
    assert set(ran) == APPLY
    assert set(ran) | set(not_applicable) == set(INVARIANTS) == KNOWN_INVARIANTS
    for name, why in not_applicable.items():
        assert why.startswith("needs "), (name, why)
        assert INVARIANTS[name].needs - DEPLOYMENT_SOURCES  # it lacks a source, truly
    assert "links.csv" in not_applicable["bytes-match-links"]
    assert "evidence" in not_applicable["updates-match-server"]
    assert "timeline.csv" in not_applicable["timeline-covers-run"]


def test_a_clean_pilot_passes_its_audit(pilot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = read_audit_status(pilot)
    assert status.state == "passed", status.line()
    assert status.invariants == len(APPLY)
    assert "apply to a deployment" in status.line()
    record = _audit_json(pilot)
    assert set(record["invariants"]) == APPLY
    assert record["violations"] == []
    assert record["fidelity"] == "deployment"
    assert set(record["not_applicable"]) == KNOWN_INVARIANTS - APPLY
    assert record["registered"] == len(KNOWN_INVARIANTS)
    assert {"rounds.csv", "clients.csv", "summary.json"} <= set(record["files"])
    summary = json.loads((pilot / "summary.json").read_text(encoding="utf-8"))
    after = {k: summary[f"bytes_after_rounds_{k}"] for k in ("up", "down")}
    assert {k: record["bytes_after_rounds"][k] for k in after} == after
    assert load_run(pilot).audit.passed  # what compare and report read


def test_a_table_edited_after_the_audit_voids_it(copy: Path) -> None:
    def more_bytes(rows: list[dict[str, str]]) -> None:
        rows[0]["bytes_up"] = str(int(rows[0]["bytes_up"]) + 1)

    _rewrite_csv(copy / "rounds.csv", more_bytes)
    status = read_audit_status(copy)
    assert status.state == "void"
    assert "rounds.csv changed" in status.line()


def test_an_applicable_invariant_deleted_from_audit_json_is_incomplete(copy: Path) -> None:
    record = _audit_json(copy)
    record["invariants"].remove("bytes-reconcile")
    (copy / "audit.json").write_text(json.dumps(record), encoding="utf-8")
    status = read_audit_status(copy)
    assert status.state == "incomplete"
    left_out = len(KNOWN_INVARIANTS) - len(APPLY)
    assert status.note == (
        f"incomplete audit: {len(APPLY) - 1} checked + {left_out} not applicable = "
        f"{len(KNOWN_INVARIANTS) - 1} of {len(KNOWN_INVARIANTS)} invariants"
    )


def test_a_not_applicable_entry_deleted_is_incomplete_too(copy: Path) -> None:
    record = _audit_json(copy)
    del record["not_applicable"]["timeline-covers-run"]
    (copy / "audit.json").write_text(json.dumps(record), encoding="utf-8")
    assert read_audit_status(copy).state == "incomplete"


def test_an_applicable_invariant_moved_to_not_applicable_does_not_vouch(copy: Path) -> None:
    """Counts still add up, so only the readers' own list of what a deployment checks
    catches it."""
    record = _audit_json(copy)
    record["invariants"].remove("bytes-reconcile")
    record["not_applicable"]["bytes-reconcile"] = "needs nothing a pilot has"
    (copy / "audit.json").write_text(json.dumps(record), encoding="utf-8")
    status = read_audit_status(copy)
    assert status.state == "not audited"
    assert "calls 'bytes-reconcile' not applicable" in status.note


def test_unsettled_selections_are_read_with_the_audit_and_checked(copy: Path) -> None:
    """A reader takes a pilot's unsettled selections from audit.json with its status
    (load_run's dropouts check reads them there); a malformed entry vouches for nothing."""
    assert load_run(copy).unsettled == {}
    record = _audit_json(copy)
    record["unsettled"] = {"dev-1": -1}
    (copy / "audit.json").write_text(json.dumps(record), encoding="utf-8")
    status = read_audit_status(copy)
    assert status.state == "not audited"
    assert "its `unsettled` is not {client: count}" in status.note


def test_only_a_deployment_may_leave_invariants_out(copy: Path) -> None:
    status = read_audit_status(copy, fidelity="packet")
    assert status.state == "not audited"
    assert "only a deployment's audit may" in status.note


def test_a_number_booked_wrong_fails_the_audit_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dev-1's own tally loses a byte of each request: clients.csv no longer adds up to
    the rounds. The federation still finishes every round; the folder says it is wrong."""
    book = DeploymentResults.book

    def lossy(self: DeploymentResults, device: str, up: int, down: int) -> None:
        book(self, device, up, down)
        if device == "dev-1" and up:
            self.per_client[device][0] -= 1

    monkeypatch.setattr(DeploymentResults, "book", lossy)
    out = tmp_path / "pilot"
    _pilot(out)
    run = load_run(out)
    assert [r.round for r in run.rounds] == list(range(1, ROUNDS + 1))  # it went on
    assert run.summary.accepted_updates == ROUNDS * len(DEVICES)
    status = read_audit_status(out)
    assert status.state == "failed"
    assert status.violations[0].startswith("bytes-reconcile: bytes_up: rounds.csv ")
    assert "!= clients.csv" in status.violations[0]
    assert run.audit.failed
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "audit FAILED" in line]
    assert lines, err
    assert lines[0].startswith("fedsim serve: audit FAILED: bytes-reconcile: bytes_up: ")
    assert len(lines) == len(set(lines))  # each violation said once, not at every write


def test_an_async_pilot_audits_clean_while_tasks_are_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FedBuff aggregates each update alone while the other device still trains: its
    task is selected but not yet reported, a dropout or surplus. The writes after each
    aggregation say so (audit.json `unsettled`) instead of failing dropouts-reconcile."""
    out = tmp_path / "pilot"
    seen: list[dict[str, int]] = []
    call = DeploymentAudit.__call__

    def spy(self: DeploymentAudit, folder: Path, after: Any, unsettled: Any) -> Any:
        seen.append(dict(unsettled))
        return call(self, folder, after, unsettled)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DeploymentAudit, "__call__", spy)
        _pilot(out, fl__engine="async", fl__async__buffer=1, fl__async__concurrency=2)
    assert "audit" not in capsys.readouterr().err
    assert any(seen[:-1]), seen  # some write saw a selection not yet settled ...
    assert seen[-1] == {}  # ... and none is left at the end
    status = read_audit_status(out)
    assert status.state == "passed", status.line()
    assert _audit_json(out)["unsettled"] == {}


def test_a_report_drawn_into_a_live_pilot_does_not_void_it(copy: Path) -> None:
    """Only the results files have digests: `fedsim report` may write report.html into a
    pilot's folder between two of its audits and draw it again later."""
    (copy / "report.html").write_text("<html>drawn mid-pilot</html>", encoding="utf-8")
    found = DeploymentAudit(_scenario())(copy, _audit_json(copy)["bytes_after_rounds"], {})
    assert found == []
    assert "report.html" not in _audit_json(copy)["files"]
    (copy / "report.html").write_text("<html>drawn again</html>", encoding="utf-8")
    assert read_audit_status(copy).state == "passed"


def test_an_audit_that_cannot_be_written_never_stops_the_server(
    copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It runs where an update was just taken: a disk error writing audit.json is said on
    stderr, and the folder, left without audit.json, reads not audited."""

    def full_disk(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fedsim.deployment.audit.write_audit_json", full_disk)
    found = DeploymentAudit(_scenario())(copy, _audit_json(copy)["bytes_after_rounds"], {})
    assert [v.invariant for v in found] == ["audit-written"]
    assert "audit not written: OSError(28" in capsys.readouterr().err
    assert read_audit_status(copy).state == "not audited"


def test_a_check_that_reads_what_a_deployment_lacks_fails_loudly(
    copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A declaration that leaves out a source its check reads cannot pass on nothing:
    the record has no evidence, and `getattr(..., None)` does not hide it."""
    record = DeploymentRecord(copy, _scenario(), {}, {}, DeploymentAudit(_scenario()).evaluator())
    with pytest.raises(NotRecorded):
        getattr(record, "evidence", None)
    lying = INVARIANTS["bytes-reconcile"]

    def reads_evidence(result: Any) -> list[Any]:
        ev = getattr(result, "evidence", None)
        return [] if ev is None else list(ev.accepted)  # None would pass it on nothing

    monkeypatch.setitem(
        INVARIANTS, lying.name, Invariant(lying.name, lying.doc, reads_evidence, lying.needs)
    )
    found = DeploymentAudit(_scenario())(copy, _audit_json(copy)["bytes_after_rounds"], {})
    assert [v.invariant for v in found] == ["bytes-reconcile"]
    assert "the check could not run: NotRecorded" in found[0].detail
    assert "audit FAILED: bytes-reconcile" in capsys.readouterr().err
    assert read_audit_status(copy).state == "failed"


_ALIASES = {"timeline": ("recorder",)}
"""timeline.csv is read from the recorder's own intervals (`recorder.timeline`), for speed."""


class _Declared:
    """A simulated run showing an invariant only the sources it declares."""

    def __init__(self, result: Any, needs: frozenset[str]) -> None:
        self._result = result
        self._allowed = set(needs).union(*(_ALIASES.get(n, ()) for n in needs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._allowed:
            raise NotRecorded(f"reads {name}, not declared")
        return getattr(self._result, name)


def test_every_declaration_covers_what_its_check_reads_in_a_simulation() -> None:
    """A declaration that leaves out a source would let a deployment run a check it
    cannot support: each check, on a simulated run with an outage, reads no more."""
    from fedsim.audit import MEMO
    from fedsim.run import simulate

    topo = tiny_topology(fl__rounds=3)
    topo["failures"] = [{"link": "dev-1", "at": "100ms", "duration": "5s"}]
    result = simulate(parse_scenario(topo), audit=True)
    for inv in INVARIANTS.values():
        MEMO.clear()
        assert list(inv.check(_Declared(result, inv.needs))) == [], inv.name
    MEMO.clear()


def test_a_pilot_leaves_the_devices_own_counts_blank(pilot: Path) -> None:
    """Review note (session 14): a pilot's clients.csv wrote `requests_timed_out` and
    `requests_gave_up` as 0, a measurement of none, though its server never learns what
    a remote device abandoned. Blank says not measured; the readers take it as such."""
    with (pilot / "clients.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["client"] for r in rows] == list(DEVICES)
    assert {(r["requests_timed_out"], r["requests_gave_up"]) for r in rows} == {("", "")}
    run = load_run(pilot)
    assert [(c.requests_timed_out, c.requests_gave_up) for c in run.clients] == [(None, None)] * 2
    assert timed_out_warning(run.clients, run.summary) is None
    assert gave_up_warning(run.clients, run.summary) is None


def test_a_pilot_keeps_its_model_and_the_audit_scores_it(copy: Path) -> None:
    """model.npy is the pilot's deployed model (audit.json covers its bytes); the audit
    scores it with an evaluator built afresh from the scenario, so a folder whose model
    is not the one its final metric scores fails `final-model-scores`."""
    params = read_model(copy / "model.npy")
    assert params.dtype == np.float32
    summary = json.loads((copy / "summary.json").read_text())
    assert summary["final_scores"]["accuracy"] == summary["final_metric"]
    np.save(copy / "model.npy", np.zeros_like(params))
    found = DeploymentAudit(_scenario())(copy, _audit_json(copy)["bytes_after_rounds"], {})
    assert [v.invariant for v in found] == ["final-model-scores"]
    assert "not the final model's" in found[0].detail
