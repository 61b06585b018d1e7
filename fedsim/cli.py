"""Command line: argument parsing only; the work happens in run.py and friends.

A user mistake (a bad topology key, a missing file, a bad flag value) prints one
line `fedsim: error: ...` and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fedsim.errors import FedsimError

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    from fedsim.run import run_scenario

    out = run_scenario(
        args.topology,
        seed=args.seed,
        overrides=args.set,
        out_root=Path(args.out),
        progress=not args.quiet,
        plots=not args.no_plots,
    )
    summary = json.loads((out / "summary.json").read_text())
    ratio = summary["sim_time_s"] / max(summary["wall_time_s"], 1e-9)
    target = summary["time_to_target_s"]
    reached = f", target reached at {target:.0f} s" if target is not None else ""
    drops = sum(summary["dropouts"].values())
    print(f"results: {out}")
    print(
        f"{summary['scenario']}: {summary['rounds']} rounds, {summary['metric_name']} "
        f"{summary['final_metric']:.4f}{reached}; {summary['sim_time_s']:.0f} s simulated in "
        f"{summary['wall_time_s']:.2f} s ({ratio:.0f}x); "
        f"{(summary['bytes_up'] + summary['bytes_down']) / 1e6:.2f} MB moved; {drops} dropouts"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from fedsim.scenario import load_scenario

    for path in args.topology:
        sc = load_scenario(path, args.set)
        gateways = sum(1 for n in sc.nodes if n.kind == "gateway")
        print(f"{path}: ok ({len(sc.device_nodes)} devices, {gateways} gateways, "
              f"{len(sc.links)} link classes, {len(sc.failures)} scheduled failures)")  # fmt: skip
    return 0


def _forward(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        import importlib

        fn = getattr(importlib.import_module(module), func)
        return int(fn(list(args.rest)))

    return call


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fedsim", description="Federated learning over emulated IoT networks."
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a topology file; results go to results/<name>-seed<N>/")
    r.add_argument("topology")
    r.add_argument("--seed", type=int, default=None, help="override the file's seed")
    r.add_argument("--out", default="results", help="results root (default: results)")
    r.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a topology value, e.g. --set fl.codec=int8")  # fmt: skip
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.add_argument("--no-plots", action="store_true", help="skip writing plots")
    r.set_defaults(func=_run)

    v = sub.add_parser("validate", help="check topology files without running them")
    v.add_argument("topology", nargs="+")
    v.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    v.set_defaults(func=_validate)

    for name, module, func, helptext in (
        ("compare", "fedsim.record.compare", "main_compare", "compare run folders"),
        ("report", "fedsim.record.report", "main_report", "write report.html for runs"),
        ("sweep", "fedsim.sweep", "main_sweep", "run a grid of overrides x seeds"),
        ("show", "fedsim.show", "main_show", "print a topology as a tree with derived figures"),
        ("schema", "fedsim.schema", "main_schema", "JSON Schema for topology files"),
    ):
        c = sub.add_parser(name, help=helptext, add_help=False)
        c.add_argument("rest", nargs=argparse.REMAINDER)
        c.set_defaults(func=_forward(module, func))

    n = sub.add_parser("net", help="network tools")
    nsub = n.add_subparsers(dest="net_command", required=True)
    t = nsub.add_parser("transfer", help="one message over one link: timing statistics",
                        add_help=False)  # fmt: skip
    t.add_argument("rest", nargs=argparse.REMAINDER)
    t.set_defaults(func=_forward("fedsim.net.calculator", "main"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FedsimError as exc:
        print(f"fedsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fedsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
