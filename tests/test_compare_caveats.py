"""`fedsim compare` says in one line when the compared runs modelled the network
differently (fidelity or transport): their energy and byte ratios are partly the
model's (docs/network-model.md, "Flow and packet over whole runs")."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fake_results import write_synthetic_run

from fedsim.record.compare import compare_runs
from fedsim.record.runs import RunData, load_run


def _runs(tmp_path: Path) -> list[RunData]:
    return [load_run(write_synthetic_run(tmp_path, name=n, seed=1)) for n in ("a", "b", "c")]


def _with(run: RunData, *, fidelity: str | None = None, transport: str | None = None) -> RunData:
    summary = (
        run.summary if fidelity is None else dataclasses.replace(run.summary, fidelity=fidelity)
    )
    config = dict(run.config)
    if transport is not None:
        config["fl"] = {**config.get("fl", {}), "transport": transport}
    return dataclasses.replace(run, summary=summary, config=config)


def _caveats(runs: list[RunData]) -> list[str]:
    return [w for w in compare_runs(runs).warnings if "how the network was modelled" in w]


def test_the_same_model_needs_no_caveat(tmp_path: Path) -> None:
    assert _caveats(_runs(tmp_path)) == []


def test_a_fidelity_difference_is_named_in_one_line(tmp_path: Path) -> None:
    a, b, c = _runs(tmp_path)
    (line,) = _caveats([a, _with(b, fidelity="packet"), c])
    assert "fidelity flow (`a`, `c`) vs packet (`b`)" in line
    assert "undercounts idle energy" in line
    assert "transport" not in line


def test_a_transport_difference_is_named_with_http_as_the_default(tmp_path: Path) -> None:
    a, b, c = _runs(tmp_path)
    (line,) = _caveats([a, _with(b, transport="mqtt"), _with(c, fidelity="packet")])
    assert "fl.transport http (`a`, `c`) vs mqtt (`b`)" in line
    assert "fidelity flow (`a`, `b`) vs packet (`c`)" in line
