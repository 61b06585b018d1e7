"""`fedsim serve --results DIR` follows the simulator's run-folder rules.

Found by last stop's lead: a re-run of a pilot into the same `--results` folder left the
previous run's files (a report.html, a table the new run does not write) beside the new
ones. Now the folder is cleared once the server listens when fedsim wrote it, refused
before anything starts when it did not, and never overlaps the durable state.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from topo import tiny_topology

from fedsim.deploy import serve
from fedsim.errors import FedsimError
from fedsim.scenario import parse_scenario


def _scenario() -> object:
    return parse_scenario(
        tiny_topology(fl__rounds=1, nodes__2__count=2, fl__min_available=2, fl__clients_per_round=2)
    )


def _listening_folder(results: Path, state: Path | None = None) -> list[str]:
    """Start a server over `results`; the folder's files once it listens (then stop it)."""
    seen: list[str] = []

    async def main() -> None:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(serve(_scenario(), "127.0.0.1", 0,  # type: ignore[arg-type]
                                           on_ready=ready.set_result, results_dir=results,
                                           state_dir=state))  # fmt: skip
        done, _ = await asyncio.wait({ready, server}, return_when=asyncio.FIRST_COMPLETED)
        if server in done:
            server.result()  # the refusal
        seen.extend(sorted(p.name for p in results.iterdir()))
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server

    asyncio.run(main())
    return seen


def test_a_previous_runs_folder_is_cleared(tmp_path: Path) -> None:
    old = tmp_path / "pilot"
    (old / "plots").mkdir(parents=True)
    for name in ("summary.json", "report.html", "ledger.csv", "plots/metric_vs_time.svg"):
        (old / name).write_text("from the previous run", encoding="utf-8")
    assert _listening_folder(old) == []


def test_a_folder_fedsim_did_not_write_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me", encoding="utf-8")
    with pytest.raises(FedsimError, match=r"is not a run folder .* pick another --results"):
        _listening_folder(mine)
    assert (mine / "thesis.tex").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("inside", ["same", "state-inside", "results-inside"])
def test_results_and_state_must_not_overlap(tmp_path: Path, inside: str) -> None:
    results, state = {
        "same": (tmp_path / "x", tmp_path / "x"),
        "state-inside": (tmp_path / "x", tmp_path / "x" / "state"),
        "results-inside": (tmp_path / "x" / "results", tmp_path / "x"),
    }[inside]
    with pytest.raises(FedsimError, match="overlap"):
        _listening_folder(results, state)
    assert not (tmp_path / "x").exists()  # refused before the state was created
