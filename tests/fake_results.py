"""Fake results folders for tests: realistic, self-consistent, without a simulation.

Why: the results tooling (compare, plots, report, sweeps) must be testable independently of
the simulator. The folders are built from the row types of `fedsim.record.schema` and written
by `fedsim.record.writer.write_run`, like a real run's; the figures agree with each other
(summary totals = sums of rounds.csv and of clients.csv, intervals do not overlap, ...), so
tests can check derived numbers. Deterministic for a given argument set.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fedsim.record.dropouts import dropout_cells, never_contributed
from fedsim.record.fingerprint import code_fingerprint
from fedsim.record.schema import ClientRow, LinkRow, RoundRow, Summary, TimelineRow
from fedsim.record.tables import parse_causes, write_json, write_table
from fedsim.record.writer import write_run
from fedsim.run_folder import config_text, resolved_config

__all__ = ["fake_summary", "synthetic_runner", "write_synthetic_run"]

_CODEC_FACTOR = {"float32": 1.0, "float16": 0.5, "int8": 0.25, "topk": 0.1}
_CAUSES = ("deadline", "link_down", "battery")


def fake_summary(**fields: Any) -> Summary:
    """A `Summary` of an empty run, with `fields` replaced."""
    empty: dict[str, Any] = {
        "scenario": "fake", "seed": 1, "engine": "sync", "strategy": "fedavg",
        "task": "digits", "codec": "float32", "fidelity": "flow", "devices": 0, "rounds": 0,
        "accepted_rounds": 0, "sim_time_s": 0.0, "wall_time_s": 0.0,
        "metric_name": "accuracy", "higher_is_better": True, "final_metric": None,
        "best_metric": None, "target_metric": None, "time_to_target_s": None,
        "bytes_to_target": None, "bytes_up": 0, "bytes_down": 0, "wire_bytes_up": 0,
        "wire_bytes_down": 0, "bytes_after_rounds_up": 0, "bytes_after_rounds_down": 0,
        "wire_bytes_after_rounds_up": 0, "wire_bytes_after_rounds_down": 0, "dropouts": {},
        "rounds_surplus": 0, "never_contributed": [],
        "energy_j_mean": None, "code": "",
    }  # fmt: skip
    return Summary(**{**empty, **fields})


def _radio(p: dict[str, Any]) -> float:
    """The radio total as the ledger writes it: the sum of its (rounded) parts."""
    return sum(round(p[k], 6) for k in ("etx", "erx", "eidle", "esleep"))


def _topology(devices: int, gateways: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"name": "server", "kind": "server", "device": None, "parent": None}
    ]
    links: list[dict[str, Any]] = []
    kinds = ("wifi", "lora", "nbiot", "lte")
    for g in range(gateways):
        gw = f"gw{g}"
        nodes.append({"name": gw, "kind": "gateway", "device": None, "parent": "server"})
        links.append(
            {
                "name": f"{gw}-server",
                "a": gw,
                "b": "server",
                "kind": "backhaul",
                "bandwidth_bps": 100e6,
                "latency_s": 0.01,
            }
        )
    for d in range(devices):
        gw = f"gw{d % gateways}"
        kind = kinds[(d // gateways) % len(kinds)] if gateways > 1 else kinds[d % 2]
        profile = ("rpi4", "esp32", "jetson-nano")[d % 3]
        name = f"dev{d:02d}"
        nodes.append({"name": name, "kind": "device", "device": profile, "parent": gw})
        bw = {"wifi": 20e6, "lora": 5.5e3, "nbiot": 60e3, "lte": 10e6}[kind]
        links.append(
            {
                "name": f"{name}-{gw}",
                "a": name,
                "b": gw,
                "kind": kind,
                "bandwidth_bps": bw,
                "latency_s": 0.005 if kind == "wifi" else 0.05,
            }
        )
    return {"nodes": nodes, "links": links}


def write_synthetic_run(
    out_dir: str | Path,
    *,
    name: str = "demo",
    seed: int = 1,
    rounds: int = 20,
    devices: int = 8,
    gateways: int = 2,
    strategy: str = "fedavg",
    codec: str = "float32",
    task: str = "har-mlp",
    metric_name: str = "accuracy",
    higher_is_better: bool = True,
    target_metric: float | None = 0.8,
    model_bytes: int = 200_000,
    loss: float = 0.05,
    outage: tuple[float, float] | None = (0.3, 0.45),
    complete: bool = True,
    down_links: dict[str, float] | None = None,
) -> Path:
    """Write `<out_dir>/<name>/` and return it.

    `outage` is a (start, end) fraction of the run during which dev00 is offline; `loss`
    raises failures and retransmissions; `complete=False` omits summary.json (a crashed run);
    `down_links` sets links' `down_time_s` by link name (`{"gw0-server": 600.0}`).
    """
    rng = np.random.default_rng(seed)
    run = Path(out_dir) / name
    run.mkdir(parents=True, exist_ok=True)
    topo = _topology(devices, gateways)
    clients = [n["name"] for n in topo["nodes"] if n["kind"] == "device"]
    parent = {n["name"]: n["parent"] for n in topo["nodes"]}
    factor = _CODEC_FACTOR.get(codec, 1.0)
    payload = int(model_bytes * factor)
    per_client = {
        c: {
            "sel": 0,
            "rep": 0,
            "up": 0,
            "down": 0,
            "ecomp": 0.0,
            "causes": {},
            "etx": 0.0,
            "erx": 0.0,
            "eidle": 0.0,
            "esleep": 0.0,
        }
        for c in clients
    }
    timeline: dict[str, list[list[Any]]] = {c: [] for c in clients}
    round_rows: list[list[Any]] = []
    dropouts: dict[str, int] = {}
    t = 0.0
    round_len = 30.0 + 10.0 * factor
    total_time = rounds * (round_len + 5.0)
    out_start, out_end = (
        (outage[0] * total_time, outage[1] * total_time) if outage else (math.inf, math.inf)
    )
    metric, version = (0.1 if higher_is_better else 2.5), 0
    metrics: list[float] = []
    for r in range(1, rounds + 1):
        k = max(2, devices // 2)
        selected = sorted(rng.choice(clients, size=min(k, devices), replace=False).tolist())
        causes: dict[str, int] = {}
        up = down = 0
        end = t + round_len + float(rng.uniform(0, 5))
        for c in selected:
            per_client[c]["sel"] += 1
            offline = c == "dev00" and t < out_end and end > out_start
            fail = offline or rng.random() < loss * 3
            cause = "link_down" if offline else str(rng.choice(_CAUSES))
            dl_end = t + 2.0 + float(rng.uniform(0, 2))
            tr_end = dl_end + 10.0 + float(rng.uniform(0, 8))
            ul_end = tr_end + 3.0 + float(rng.uniform(0, 3))
            if not offline:
                down += payload
                per_client[c]["down"] += payload
                timeline[c] += [[c, "downloading", t, dl_end], [c, "training", dl_end, tr_end]]
                per_client[c]["ecomp"] += 4.0 * (tr_end - dl_end)
                per_client[c]["erx"] += 0.5 * (dl_end - t)
                per_client[c]["eidle"] += 0.05 * (tr_end - dl_end)
            if fail:
                causes[cause] = causes.get(cause, 0) + 1
                drops = per_client[c]["causes"]
                drops[cause] = drops.get(cause, 0) + 1
                if not offline:
                    timeline[c].append([c, "idle", tr_end, end])
                continue
            up += payload
            per_client[c]["up"] += payload
            per_client[c]["rep"] += 1
            per_client[c]["etx"] += 0.8 * (ul_end - tr_end)
            per_client[c]["esleep"] += 0.001 * (end - ul_end)
            timeline[c] += [[c, "uploading", tr_end, ul_end], [c, "idle", ul_end, end]]
        reported = len(selected) - sum(causes.values())
        accepted = 1 if reported >= 2 else 0
        if accepted:
            version += 1
            gain = (0.9 - metric) * 0.25 if higher_is_better else -(metric - 0.3) * 0.25
            metric = metric + gain * (0.6 + 0.4 * factor) + float(rng.normal(0, 0.005))
        metrics.append(metric)
        for cause, n in causes.items():
            dropouts[cause] = dropouts.get(cause, 0) + n
        overhead = 1.06 + loss
        round_rows.append(
            [
                r,
                round(end, 6),
                len(selected),
                reported,
                sum(causes.values()),
                accepted,
                version,
                up,
                down,
                int(up * overhead),
                int(down * overhead),
                round(metric, 6),
                ";".join(f"{k}:{v}" for k, v in sorted(causes.items())),
            ]
        )
        t = end + 5.0
    sim_time = round_rows[-1][1]
    # Fill idle/offline gaps so every client's intervals tile [0, sim_time].
    for c in clients:
        spans = sorted(timeline[c], key=lambda row: row[2])
        filled: list[list[Any]] = []
        cursor = 0.0
        for row in [*spans, [c, "idle", sim_time, sim_time]]:
            if row[2] > cursor + 1e-9:
                gap_lo, gap_hi = cursor, row[2]
                if c == "dev00" and gap_lo < out_end and gap_hi > out_start:
                    lo, hi = max(gap_lo, out_start), min(gap_hi, out_end)
                    if lo > gap_lo:
                        filled.append([c, "idle", gap_lo, lo])
                    filled.append([c, "offline", lo, hi])
                    if gap_hi > hi:
                        filled.append([c, "idle", hi, gap_hi])
                else:
                    filled.append([c, "idle", gap_lo, gap_hi])
            if row[3] > row[2]:
                filled.append(row)
            cursor = max(cursor, row[3])
        timeline[c] = [[a, s, round(lo, 6), round(hi, 6)] for a, s, lo, hi in filled]

    bytes_up = sum(row[7] for row in round_rows)
    bytes_down = sum(row[8] for row in round_rows)
    reach = None
    if target_metric is not None:
        for i, m in enumerate(metrics):
            if (m >= target_metric) if higher_is_better else (m <= target_metric):
                reach = i
                break
    best = max(metrics) if higher_is_better else min(metrics)
    link_rows = []
    for link in topo["links"]:
        frac = float(rng.uniform(0.05, 0.6))
        for direction in ("up", "down"):
            pb = int(payload * rounds * (0.6 if direction == "up" else 0.8))
            if link["kind"] == "backhaul":
                pb *= devices // gateways
            pkts = max(1, pb // 1400)
            retx = int(pkts * loss)
            link_rows.append(
                [
                    link["name"],
                    link["a"],
                    link["b"],
                    link["kind"],
                    direction,
                    pb,
                    int(pb * (1.06 + loss)),
                    pkts,
                    retx,
                    int(retx * 0.1),
                    round(frac * (1.0 if direction == "up" else 0.7), 6),
                    (down_links or {}).get(
                        link["name"],
                        round(out_end - out_start, 6) if link["a"] == "dev00" and outage else 0.0,
                    ),
                ]
            )
    rows = [
        RoundRow(
            round=r[0], sim_time_s=r[1], selected=r[2], reported=r[3], failed=r[4],
            accepted=r[5], deployed_version=r[6], bytes_up=r[7], bytes_down=r[8],
            wire_bytes_up=r[9], wire_bytes_down=r[10], metric=r[11],
            failed_causes=parse_causes(r[12]),
        )
        for r in round_rows
    ]  # fmt: skip
    client_rows = [
        ClientRow(
            client=c, device=str(n["device"]), gateway=str(parent[c]),
            rounds_selected=p["sel"], rounds_reported=p["rep"], rounds_surplus=0,
            **dropout_cells(p["causes"]),
            bytes_up=p["up"], bytes_down=p["down"],
            energy_compute_j=round(p["ecomp"], 6), energy_radio_j=_radio(p),
            energy_tx_j=round(p["etx"], 6), energy_rx_j=round(p["erx"], 6),
            energy_idle_j=round(p["eidle"], 6), energy_sleep_j=round(p["esleep"], 6),
        )
        for c, p, n in (
            (c, per_client[c], next(n for n in topo["nodes"] if n["name"] == c)) for c in clients
        )
    ]  # fmt: skip
    link_table = [LinkRow(*row) for row in link_rows]
    timeline_rows = [TimelineRow(*row) for c in clients for row in timeline[c]]
    config = {
        "name": name,
        "seed": seed,
        "task": {"name": task},
        "fl": {"strategy": strategy, "codec": codec, "rounds": rounds, "clients_per_round": 4},
        "links": [{"name": ln["name"], "kind": ln["kind"], "loss": loss} for ln in topo["links"]],
    }
    energy = [p["ecomp"] + _radio(p) for p in per_client.values()]
    summary = Summary(
        scenario=name,
        seed=seed,
        engine="sync",
        strategy=strategy,
        task=task,
        codec=codec,
        fidelity="flow",
        devices=devices,
        rounds=rounds,
        accepted_rounds=sum(r.accepted for r in rows),
        sim_time_s=sim_time,
        wall_time_s=round(0.5 + rounds * 0.01, 6),
        metric_name=metric_name,
        higher_is_better=higher_is_better,
        final_metric=round(metrics[-1], 6),
        best_metric=round(best, 6),
        target_metric=target_metric,
        time_to_target_s=None if reach is None else round_rows[reach][1],
        bytes_to_target=None
        if reach is None
        else sum(r[7] + r[8] for r in round_rows[: reach + 1]),
        bytes_up=bytes_up,
        bytes_down=bytes_down,
        wire_bytes_up=sum(r[9] for r in round_rows),
        wire_bytes_down=sum(r[10] for r in round_rows),
        bytes_after_rounds_up=0,
        bytes_after_rounds_down=0,
        wire_bytes_after_rounds_up=0,
        wire_bytes_after_rounds_down=0,
        dropouts=dict(sorted(dropouts.items())),
        rounds_surplus=0,
        never_contributed=never_contributed(client_rows),
        energy_j_mean=round(sum(energy) / len(energy), 6),
        code=code_fingerprint(),  # as a real run: fedsim sweep reuses only same-code runs
    )
    if complete:
        return write_run(
            run, config=config, rounds=rows, links=link_table, timeline=timeline_rows,
            clients=client_rows, topology=topo, summary=summary,
        )  # fmt: skip
    # A crashed run: every file but summary.json.
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    write_table(run / "rounds.csv", RoundRow, rows)
    write_table(run / "links.csv", LinkRow, link_table)
    write_table(run / "timeline.csv", TimelineRow, timeline_rows)
    write_table(run / "clients.csv", ClientRow, client_rows)
    write_json(run / "topology.json", topo)
    return run


def synthetic_runner(
    base: Path, seed: int, overrides: tuple[str, ...], out_root: Path, run_name: str
) -> Path:
    """A sweep runner that writes a synthetic run instead of simulating (tests, demos).

    Reads `fl.codec`, `fl.rounds` and `*.loss` overrides; everything else is ignored.
    """
    opts: dict[str, Any] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        parsed = yaml.safe_load(value)
        if key == "fl.codec":
            opts["codec"] = str(parsed)
        elif key == "fl.rounds":
            opts["rounds"] = int(parsed)
        elif key.endswith(".loss"):
            opts["loss"] = float(parsed)
    run = write_synthetic_run(out_root, name=run_name, seed=seed, **opts)
    # As a real run: the configuration the sweep resolves (it reuses only runs of it).
    (run / "config.yaml").write_text(
        config_text(resolved_config(base, overrides, seed)), encoding="utf-8"
    )
    return run
