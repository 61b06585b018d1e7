"""Federated vs centralised on the real sensor topologies (the table in docs/tasks.md).

For each shipped topology: the federated run as shipped (rounds, bytes and simulated
time to its target) and run to its last round without the target (final metric);
then the same CNN, initial model, test set and local recipe trained centrally on the
union of the devices' data for as many epochs as one device trains in the federated
run (rounds x local epochs). Load forecasting also gets two model-free baselines:
persistence (the last observed hour repeated) and the training days' mean profile.

Run: .venv/bin/python experiments/sensor_baselines.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fedsim.rng import Streams
from fedsim.run import run_scenario
from fedsim.scenario import TaskSpec, load_scenario
from fedsim.tasks.registry import build_task

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGIES = ("activity_smartwatch", "load_forecast_meters")


def _federated(path: Path, out: Path) -> dict[str, Any]:
    shipped = json.loads((run_scenario(path, out_root=out, run_name="target") / "summary.json")
                         .read_text())  # fmt: skip
    full = run_scenario(path, overrides=["fl.target=null"], out_root=out, run_name="full")
    final = json.loads((full / "summary.json").read_text())
    return {"shipped": shipped, "final": final}


def _centralised(path: Path) -> dict[str, Any]:
    sc = load_scenario(path)
    options = {**dict(sc.task.options), "partition": "iid"}
    task = build_task(TaskSpec(sc.task.kind, options), 1, Streams(sc.seed))
    local = dict(sc.fl.local)
    epochs = sc.fl.rounds * int(local.get("epochs", 1))
    evaluator = task.evaluator()
    params = task.initial_params()
    rng = np.random.default_rng(sc.seed)
    target = sc.fl.target
    higher = evaluator.higher_is_better
    reached = None
    curve = []
    for epoch in range(1, epochs + 1):
        params, _ = task.learner(0).train(params, {**local, "epochs": 1}, rng)
        metric = evaluator.evaluate(params)[evaluator.metric_name]
        curve.append(metric)
        hit = target is not None and (metric >= target if higher else metric <= target)
        if reached is None and hit:
            reached = epoch
    return {"epochs": epochs, "final": curve[-1], "best": max(curve) if higher else min(curve),
            "epochs_to_target": reached, "train_samples": task.learner(0).num_examples}  # fmt: skip


def _naive_load(path: Path) -> dict[str, float]:
    sc = load_scenario(path)
    task = build_task(sc.task, len(sc.device_nodes), Streams(sc.seed))
    test = task.evaluator().data
    train_targets = np.concatenate(
        [task.learner(i).data.targets for i in range(len(sc.device_nodes))]
    )
    persistence = np.repeat(test.X[:, -1:], test.targets.shape[1], axis=1)
    profile = np.broadcast_to(train_targets.mean(axis=0), test.targets.shape)
    rmse = lambda pred: float(np.sqrt(np.mean((pred - test.targets) ** 2)))  # noqa: E731
    return {"persistence_rmse": rmse(persistence), "mean_profile_rmse": rmse(profile)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp())
    for name in TOPOLOGIES:
        path = ROOT / "topologies" / f"{name}.yaml"
        fed = _federated(path, out / name)
        central = _centralised(path)
        s, f = fed["shipped"], fed["final"]
        line = {
            "topology": name,
            "metric": f["metric_name"],
            "target": load_scenario(path).fl.target,
            "fed_rounds_to_target": s["rounds"] if s["time_to_target_s"] is not None else None,
            "fed_bytes_to_target": s["bytes_to_target"],
            "fed_time_to_target_s": s["time_to_target_s"],
            "fed_final": f["final_metric"],
            "fed_best": f["best_metric"],
            "fed_rounds": f["rounds"],
            "fed_bytes": f["bytes_up"] + f["bytes_down"],
            "fed_sim_time_s": f["sim_time_s"],
            "central": central,
        }
        if name.startswith("load"):
            line["naive"] = _naive_load(path)
        print(json.dumps(line))


if __name__ == "__main__":
    main()
