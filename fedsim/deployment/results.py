"""Deployment's results folder: rounds.csv, clients.csv, summary.json (and the
topology's config.yaml; links.csv and timeline.csv with their headers only: the
server cannot see links or device states), in the simulation's formats, so
`fedsim compare` and `fedsim report` put a pilot next to its simulation.

Time is wall-clock seconds since the federation started (`sim_time_s` holds it).
Bytes are payload as the emulator counts it: the HTTP bytes (request and status
lines, headers, bodies, chunk framing) the devices' connections carried, counted at
the server's socket as they cross (fedsim/deployment/socket_bytes.py), so a round's
row holds the requests that arrived and the answers written during it, and what
crosses after the last round's row is `bytes_after_rounds_*`. TCP/IP and TLS overhead
is not seen from inside the server: `wire_bytes_*` equal `bytes_*`, a lower bound of
what the emulator's first-hop wire bytes count.

Each write ends with the audit of what it wrote (fedsim.deployment.audit: audit.json, a
violation on stderr); a violation never stops the server.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from aiohttp import web

from fedsim.deployment.audit import DeploymentAudit
from fedsim.deployment.socket_bytes import connection_bytes
from fedsim.errors import FedsimError
from fedsim.fl.auth import DEVICE
from fedsim.fl.engine import RoundRecord
from fedsim.record.deployed_model import MODEL_FILE, model_scores, write_model
from fedsim.record.dropouts import dropout_cells, never_contributed, run_dropouts
from fedsim.record.fingerprint import code_fingerprint
from fedsim.record.ledger import discarded_by_client, update_counts
from fedsim.record.recorder import round_row
from fedsim.record.schema import ClientRow, LinkRow, RoundRow, Summary, TimelineRow
from fedsim.record.tables import write_json, write_summary, write_table
from fedsim.run_folder import check_run_folder, clear_run_folder
from fedsim.scenario import Scenario

__all__ = ["DeploymentResults", "check_results_folder"]

_KEYS = ("up", "down", "wire_up", "wire_down")


def check_results_folder(results_dir: str | Path, state_dir: str | Path | None) -> None:
    """Refuse, before the server starts, a `--results DIR` it may not clear: the rules of
    a simulation's run folder (fedsim.run_folder: a folder fedsim did not write, a
    symbolic link), and a folder overlapping `--state` (clearing it would delete what a
    restart resumes from)."""
    results = Path(results_dir).resolve()
    if state_dir is not None:
        state = Path(state_dir).resolve()
        if results == state or state in results.parents or results in state.parents:
            raise FedsimError(
                f"--results {results_dir} and --state {state_dir} overlap: the results "
                "folder is cleared for each run, the state must survive; give separate folders"
            )
    check_run_folder(Path(results_dir), flag="--results")


class DeploymentResults:
    """Collects rows as rounds close and writes the folder (after each round too, so a
    crashed server leaves the rounds it finished).

    With a store (`--state`, the engine's journal) a round's row is made and stored in
    the journal's transaction that closes the round (`StateStore.closing`): a round the
    journal holds has its row, so a restart never lacks one."""

    def __init__(self, sc: Scenario, engine: Any, out: str | Path, store: Any = None) -> None:
        self.sc = sc
        self.engine = engine
        self.out = Path(out)
        self.store = store
        if store is not None:
            store.closing["results"] = self._close_round
        saved = store.get_json("results") if store is not None else None
        self.t0 = time.time() - (saved["elapsed"] if saved else 0.0)
        self.rows: list[dict[str, Any]] = saved["rows"] if saved else []
        self.totals = dict.fromkeys(_KEYS, 0) | (saved["totals"] if saved else {})
        self.per_client: dict[str, list[int]] = saved["clients"] if saved else {}
        self._at_last_round = dict(self.totals)
        self.devices = frozenset(n.name for n in sc.device_nodes)
        self.audit = DeploymentAudit(sc)
        """Run on the folder after every write."""

    def start(self) -> None:
        """Once the server listens: clear the folder of a previous run (so none of its
        files, a report.html or more rounds, sits beside this run's), then write a
        resumed run's rounds back at once (they come from the durable state)."""
        clear_run_folder(self.out, flag="--results")
        if self.rows:
            self.write()

    def book(self, device: str, up: int, down: int) -> None:
        """`up` bytes arrived from, `down` were written to `device`'s connection now."""
        if device not in self.devices:
            return
        self.totals["up"] += up
        self.totals["down"] += down
        self.totals["wire_up"] += up  # TCP/IP is not seen from here: wire = payload
        self.totals["wire_down"] += down
        mine = self.per_client.setdefault(device, [0, 0])
        mine[0] += up
        mine[1] += down

    @web.middleware
    async def count_bytes(self, request: web.Request, handler: Callable[..., Any]) -> Any:
        """Give an authenticated request's connection to its device (runs after
        authentication): its bytes are booked as they cross (socket_bytes)."""
        tally = connection_bytes(request.transport)
        device = request.get(DEVICE)
        if tally is None or device is None or device not in self.devices:
            return await handler(request)
        tally.claim(device)
        try:
            return await handler(request)
        finally:
            tally.handled()

    def _close_round(self, rec: RoundRecord) -> dict[str, Any]:
        """Make the round's row (the only place one is made), with the bytes the sockets
        counted since the last round's; return what a restart resumes from. With a store
        the journal calls it as it closes the round and commits the return value with it."""
        elapsed = time.time() - self.t0
        delta = {k: self.totals[k] - self._at_last_round[k] for k in _KEYS}
        self._at_last_round = dict(self.totals)
        self.rows.append(dataclasses.asdict(round_row(rec, elapsed, delta)))
        return {
            "elapsed": elapsed,
            "rows": self.rows,
            "totals": self.totals,
            "clients": self.per_client,
        }

    def round_done(self, rec: RoundRecord) -> None:
        """The engine's observer, after the journal: write the folder (without a store,
        make the round's row first)."""
        if self.store is None:
            self._close_round(rec)
        self.write()

    def write(self) -> Path:
        sc, engine = self.sc, self.engine
        rows = [RoundRow(**r) for r in self.rows]
        by_name = {n.name: n for n in sc.nodes}
        clients = []
        discarded = discarded_by_client(engine.records)
        for node in sc.device_nodes:
            info = engine.clients.get(node.name)
            up, down = self.per_client.get(node.name, [0, 0])
            clients.append(ClientRow(
                client=node.name, device=node.device or "",
                gateway=by_name[node.name].parent or "",
                rounds_selected=info.rounds_selected if info else 0,
                rounds_reported=info.rounds_reported if info else 0,
                rounds_discarded=discarded.get(node.name, 0),
                rounds_surplus=info.rounds_surplus if info else 0,
                **dropout_cells(info.dropouts if info else {}),
                bytes_up=up, bytes_down=down, energy_compute_j=0.0, energy_radio_j=0.0,
                # The devices' own counts of what they abandoned: remote, never told the
                # server. Blank (not measured), not 0 (measured: none).
                requests_timed_out=None, requests_gave_up=None,
            ))  # fmt: skip
        evaluator = engine.evaluator
        higher = bool(evaluator.higher_is_better)
        finite = [r.metric for r in rows if np.isfinite(r.metric)]
        target = sc.fl.target
        hit = next(
            (r for r in rows if target is not None
             and (r.metric >= target if higher else r.metric <= target)),
            None,
        )  # fmt: skip
        dropouts: dict[str, int] = {}
        for r in rows:
            for cause, n in r.failed_causes.items():
                dropouts[cause] = dropouts.get(cause, 0) + n
        after = dict(getattr(engine, "dropouts_after_rounds", {}))  # async only
        last = rows[-1].metric if rows else engine.deployed_metric
        summary = Summary(
            scenario=sc.name, seed=sc.seed, engine="sync" if hasattr(engine, "strategy")
            else "async", strategy=sc.fl.strategy if hasattr(engine, "strategy") else "fedbuff",
            task=sc.task.kind, codec=sc.fl.codec, fidelity="deployment",
            devices=len(sc.device_nodes), rounds=len(rows),
            accepted_rounds=sum(r.accepted for r in rows),
            sim_time_s=time.time() - self.t0, wall_time_s=time.time() - self.t0,
            metric_name=evaluator.metric_name, higher_is_better=higher,
            final_metric=float(last) if np.isfinite(last) else None,
            best_metric=(max(finite) if higher else min(finite)) if finite else None,
            target_metric=target,
            time_to_target_s=hit.sim_time_s if hit else None,
            bytes_to_target=(
                sum(r.bytes_up + r.bytes_down for r in rows if r.round <= hit.round)
                if hit else None
            ),
            bytes_up=sum(r.bytes_up for r in rows), bytes_down=sum(r.bytes_down for r in rows),
            wire_bytes_up=sum(r.wire_bytes_up for r in rows),
            wire_bytes_down=sum(r.wire_bytes_down for r in rows),
            bytes_after_rounds_up=self.totals["up"] - sum(r.bytes_up for r in rows),
            bytes_after_rounds_down=self.totals["down"] - sum(r.bytes_down for r in rows),
            wire_bytes_after_rounds_up=self.totals["wire_up"]
            - sum(r.wire_bytes_up for r in rows),
            wire_bytes_after_rounds_down=self.totals["wire_down"]
            - sum(r.wire_bytes_down for r in rows),
            dropouts=run_dropouts(dropouts, after), dropouts_after_rounds=after,
            rounds_surplus=sum(c.rounds_surplus for c in clients),
            never_contributed=never_contributed(clients),
            energy_j_mean=None, code=code_fingerprint(), **update_counts(rows),
            final_scores=model_scores(evaluator, engine.params),
        )  # fmt: skip
        self.out.mkdir(parents=True, exist_ok=True)
        config = {**dict(sc.raw), "name": sc.name, "seed": sc.seed}
        (self.out / "config.yaml").write_text(
            yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8"
        )
        write_table(self.out / "rounds.csv", RoundRow, rows)
        write_table(self.out / "clients.csv", ClientRow, clients)
        write_table(self.out / "links.csv", LinkRow, [])  # not observable from the server
        write_table(self.out / "timeline.csv", TimelineRow, [])
        write_json(self.out / "topology.json", {"nodes": [
            {"name": n.name, "kind": n.kind, "device": n.device, "parent": n.parent}
            for n in sc.nodes
        ], "links": []})  # fmt: skip
        write_model(self.out / MODEL_FILE, engine.params)
        write_summary(self.out / "summary.json", summary)
        since = {k: int(self.totals[k] - self._at_last_round[k]) for k in _KEYS}
        self.audit(self.out, since, self.engine.unsettled())
        return self.out
