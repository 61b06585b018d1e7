"""FL acceptance measurements through the real stack (`fedsim.run.run_scenario`).

Sections (all by default, or pick with --only):
  strategies   every strategy's final accuracy on topologies/default.yaml
               (targets: >= 0.88, robust aggregators >= 0.85)
  codecs       float32 vs int8 vs topk (10 %): uplink wire-byte ratio and accuracy
               delta (targets: int8 >= 3.5x within 2 points, topk >= 5x within 3),
               on the default softmax model and on an MLP whose payload dominates
  adversaries  30 % sign-flip devices: fedavg < 0.5; median, trimmed_mean, krum >= 0.85
  stragglers   FedBuff (fl.engine=async) vs sync FedAvg time-to-target on
               topologies/stragglers.yaml

Run: .venv/bin/python experiments/fl_acceptance.py [--only strategies,codecs] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from fedsim.run import run_scenario

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "topologies/default.yaml"
STRAGGLERS = ROOT / "topologies/stragglers.yaml"
STRATEGIES = ("fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi", "fedadagrad",
              "median", "trimmed_mean", "krum")  # fmt: skip
ROBUST = ("median", "trimmed_mean", "krum")
NO_STOP = ["fl.target=null"]


def _run(out: Path, name: str, topo: Path, overrides: list[str]) -> dict[str, Any]:
    path = run_scenario(topo, overrides=overrides, out_root=out, run_name=name)
    summary: dict[str, Any] = json.loads((path / "summary.json").read_text())
    return summary


def _mark(ok: bool) -> str:
    return "ok  " if ok else "MISS"


def strategies(out: Path) -> bool:
    print("\n== strategies on default.yaml (60 rounds, fl.target=null)")
    good = True
    for s in STRATEGIES:
        res = _run(out, f"strategy-{s}", DEFAULT, [*NO_STOP, f"fl.strategy={s}"])
        need = 0.85 if s in ROBUST else 0.88
        ok = res["final_metric"] >= need
        good &= ok
        print(f"  {_mark(ok)} {s:13s} final {res['final_metric']:.4f}  (>= {need})")
    return good


def codecs(out: Path) -> bool:
    good = True
    models = {
        "softmax (650 params)": [],
        # 19k parameters do not fit a 32 KB SAMD21: this case runs the sensors as ESP32s.
        "mlp [256] (19210 params)": [
            "task.model=mlp",
            "task.hidden=[256]",
            "nodes.2.device=esp32",
            "nodes.3.device=esp32",
        ],
    }
    for label, model in models.items():
        print(f"\n== codecs on default.yaml, {label}")
        base = _run(out, f"codec-{label[:3]}-float32", DEFAULT, [*NO_STOP, *model])
        print(
            f"       float32  final {base['final_metric']:.4f}  uplink wire "
            f"{base['wire_bytes_up']:>10,d} B  payload {base['bytes_up']:>10,d} B"
        )
        for codec, need_ratio, max_drop in (("int8", 3.5, 0.02), ("topk", 5.0, 0.03)):
            over = [*NO_STOP, *model, f"fl.codec={codec}"]
            res = _run(out, f"codec-{label[:3]}-{codec}", DEFAULT, over)
            ratio = base["wire_bytes_up"] / res["wire_bytes_up"]
            payload_ratio = base["bytes_up"] / res["bytes_up"]
            delta = res["final_metric"] - base["final_metric"]
            ok = ratio >= need_ratio and delta >= -max_drop
            if model:  # the targets are judged where the model, not HTTP, fills the uplink
                good &= ok
            print(
                f"  {_mark(ok)} {codec:8s} final {res['final_metric']:.4f}  uplink wire "
                f"{res['wire_bytes_up']:>10,d} B  ratio {ratio:4.2f}x "
                f"(payload {payload_ratio:4.2f}x)"
                f"  accuracy {100 * delta:+.1f} pts  (>= {need_ratio}x, >= -{100 * max_drop:.0f})"
            )
    return good


# 20 of the 28 devices per round: with only 10 the Byzantine share of a round often
# exceeds the nominal 30 % (a hypergeometric draw), which no 30 %-robust rule survives.
ATTACK_ROUNDS = ["fl.clients_per_round=20", "fl.over_selection=0", "fl.min_available=20"]
ATTACK_OPTIONS = {
    "median": [],
    "trimmed_mean": ["fl.options.beta=0.3"],
    "krum": ["fl.options.f=6", "fl.options.m=8"],  # Multi-Krum: 6 of 20 may be Byzantine
}


def adversaries(out: Path) -> bool:
    print("\n== 30 % sign-flip adversaries (scale 4) on default.yaml, 20 clients per round")
    attack = ["adversaries={fraction: 0.3, kind: sign_flip, scale: 4.0}", *ATTACK_ROUNDS]
    good = True
    for s in ("fedavg", *ROBUST):
        opts = ATTACK_OPTIONS.get(s, [])
        res = _run(out, f"attack-{s}", DEFAULT, [*NO_STOP, *attack, f"fl.strategy={s}", *opts])
        ok = res["final_metric"] < 0.5 if s == "fedavg" else res["final_metric"] >= 0.85
        good &= ok
        want = "< 0.5" if s == "fedavg" else ">= 0.85"
        print(f"  {_mark(ok)} {s:13s} final {res['final_metric']:.4f}  ({want}) {' '.join(opts)}")
    return good


def stragglers(out: Path) -> bool:
    print("\n== stragglers.yaml: sync FedAvg vs FedBuff, time to 0.93 accuracy")
    sync = _run(out, "stragglers-sync", STRAGGLERS, [])
    fedbuff = _run(out, "stragglers-async", STRAGGLERS, ["fl.engine=async"])
    for label, res in (("sync fedavg", sync), ("fedbuff", fedbuff)):
        ttt = res["time_to_target_s"]
        shown = f"{ttt:8.0f} s" if ttt is not None else "    never"
        print(
            f"       {label:12s} time-to-target {shown}  rounds {res['rounds']:4d}  final "
            f"{res['final_metric']:.4f}  dropouts {res['dropouts']}"
        )
    a, b = sync["time_to_target_s"], fedbuff["time_to_target_s"]
    ok = a is not None and b is not None and b < a
    if ok:
        print(f"  {_mark(ok)} FedBuff reaches the target {a / b:.1f}x sooner")
    else:
        print(f"  {_mark(ok)} FedBuff is not faster here")
    return ok


SECTIONS = {"strategies": strategies, "codecs": codecs, "adversaries": adversaries,
            "stragglers": stragglers}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", type=Path, default=None, help="keep run folders here")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    for n in names:
        if n not in SECTIONS:
            parser.error(f"unknown section {n!r} (known: {', '.join(SECTIONS)})")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        results = {n: SECTIONS[n](out) for n in names}
    print("\n" + "  ".join(f"{n}: {'met' if ok else 'NOT met'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
