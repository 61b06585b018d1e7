"""The Flower side of `make bench-flower`: the job of flower_job.py as a Flower 1.x
Ray simulation (legacy `start_simulation`), run in a fresh process by flower_compare.py.

    python bench/flower_sim.py DEVICES ROUNDS [--ray-cpus 2]

Clients are NumPyClients training with fedsim's plain NumPy SGD reference
(fedsim.kernels.reference.sgd_train_numpy, not the Numba kernel); the server is
Flower's FedAvg with centralised evaluation on fedsim's test set after every round.
Prints one JSON line: in-simulation seconds (first round's configure_fit to the last
evaluation) and the final accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flower_client import client_fn_for, job_task_once


def simulate(devices: int, rounds: int, ray_cpus: int) -> dict[str, Any]:
    import os

    import flwr as fl
    from flwr.common import ndarrays_to_parameters

    # Ray's workers import flower_client by name: they inherit this environment.
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (here, os.environ.get("PYTHONPATH", "")) if p
    )
    task = job_task_once(devices)
    evaluator = task.evaluator()
    marks: dict[str, float] = {}
    final: dict[str, float] = {}

    def evaluate_fn(rnd: int, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
        scores = evaluator.evaluate(parameters[0].astype(np.float32))
        final.update(round=rnd, accuracy=scores["accuracy"])
        marks["end"] = time.perf_counter()
        return scores["loss"], {"accuracy": scores["accuracy"]}

    class TimedFedAvg(fl.server.strategy.FedAvg):
        def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            marks.setdefault("start", time.perf_counter())
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
            marks["failures"] = marks.get("failures", 0) + len(failures)
            return super().aggregate_fit(server_round, results, failures)

    strategy = TimedFedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=devices,
        min_available_clients=devices,
        min_evaluate_clients=0,
        evaluate_fn=evaluate_fn,
        on_fit_config_fn=lambda rnd: {"round": rnd},
        initial_parameters=ndarrays_to_parameters([task.initial_params()]),
    )
    fl.simulation.start_simulation(
        client_fn=client_fn_for(devices),
        num_clients=devices,
        config=fl.server.ServerConfig(num_rounds=rounds),
        strategy=strategy,
        client_resources={"num_cpus": 1},
        ray_init_args={"num_cpus": ray_cpus, "include_dashboard": False,
                       "log_to_driver": False},
    )  # fmt: skip
    import ray

    ray.shutdown()
    return {
        "devices": devices,
        "rounds": final.get("round"),
        "in_sim_s": marks["end"] - marks["start"],
        "accuracy": final.get("accuracy"),
        "failures": int(marks.get("failures", 0)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devices", type=int)
    ap.add_argument("rounds", type=int)
    ap.add_argument("--ray-cpus", type=int, default=2)
    a = ap.parse_args()
    out = simulate(a.devices, a.rounds, a.ray_cpus)
    print(json.dumps(out), flush=True)
    return 1 if out["failures"] or out["rounds"] != a.rounds else 0


if __name__ == "__main__":
    sys.exit(main())
