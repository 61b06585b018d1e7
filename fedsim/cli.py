"""Command line: argument parsing only; the work happens in run.py and friends.

A user mistake (a bad topology key, a missing file, a bad flag value) prints one
line `fedsim: error: ...` and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fedsim.errors import FedsimError, print_warning
from fedsim.record.schema import NEVER_CONTRIBUTED_MIN_SELECTED

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    from fedsim.errors import print_warning
    from fedsim.scenario import prepare_scenario

    # Prepared once, before the heavy imports: a bad file fails in milliseconds.
    scenario = prepare_scenario(args.topology, args.set, args.seed, warn=print_warning)
    from fedsim.audit import AuditError
    from fedsim.record.tables import read_summary
    from fedsim.run import run_scenario

    try:
        out = run_scenario(
            args.topology,
            scenario=scenario,
            seed=args.seed,
            overrides=args.set,
            out_root=Path(args.out),
            progress=not args.quiet,
            plots=not args.no_plots,
            plot_formats=("svg", "png") if args.png else ("svg",),
            audit=not args.no_audit,
            last_in_process=True,
        )
    except AuditError as exc:
        if exc.folder is not None:
            print(f"results: {exc.folder} (see audit.json)")
        raise
    s = read_summary(out / "summary.json")
    ratio = s.sim_time_s / max(s.wall_time_s, 1e-9)
    reached = (
        f", target reached at {s.time_to_target_s:.0f} s" if s.time_to_target_s is not None else ""
    )
    final = "n/a" if s.final_metric is None else f"{s.final_metric:.4f}"
    drops = sum(s.dropouts.values())
    print(f"results: {out}")
    print(
        f"{s.scenario} ({s.engine}, {s.strategy}): {s.rounds} rounds, {s.metric_name} "
        f"{final}{reached}; {s.sim_time_s:.0f} s simulated in "
        f"{s.wall_time_s:.2f} s ({ratio:.0f}x); "
        f"{(s.bytes_up + s.bytes_down) / 1e6:.2f} MB moved; {drops} dropouts"
    )
    if s.never_contributed:
        names = ", ".join(s.never_contributed[:5])
        more = f" and {len(s.never_contributed) - 5} more" if len(s.never_contributed) > 5 else ""
        print_warning(
            f"{len(s.never_contributed)} client(s) selected at least "
            f"{NEVER_CONTRIBUTED_MIN_SELECTED} times never contributed an update: {names}{more} "
            "(clients.csv rounds_surplus and dropouts_* say why)"
        )
    # Results are written: the interpreter's exit need not scan the run's objects
    # for cycles once more (seconds at 10,000 devices).
    import gc

    gc.freeze()
    return 0


def _validate(args: argparse.Namespace) -> int:
    """Check every file through the pre-run path `fedsim run` uses; one line per file,
    exit 2 if any is bad."""
    from fedsim.scenario import prepare_scenario

    bad = 0
    for path in args.topology:
        try:
            sc = prepare_scenario(path, args.set, warn=print_warning)
        except FedsimError as exc:
            bad += 1
            named = len(args.topology) > 1 and not str(exc).startswith(str(path))
            where = f"{path}: " if named else ""  # one file: the very line `run` prints
            print(f"fedsim: error: {where}{exc}", file=sys.stderr)
            continue
        gateways = sum(1 for n in sc.nodes if n.kind == "gateway")
        print(f"{path}: ok ({len(sc.device_nodes)} devices, {gateways} gateways, "
              f"{len(sc.links)} link classes, {len(sc.failures)} scheduled failures)")  # fmt: skip
    return 2 if bad else 0


FORWARDED: dict[tuple[str, ...], tuple[str, str, str]] = {
    ("compare",): ("fedsim.record.compare", "main_compare", "compare run folders"),
    ("report",): ("fedsim.record.report", "main_report", "write report.html for runs"),
    ("sweep",): ("fedsim.sweep", "main_sweep", "run a grid of overrides x seeds"),
    ("show",): ("fedsim.show", "main_show", "print a topology as a tree with derived figures"),
    ("schema",): ("fedsim.schema", "main_schema", "JSON Schema for topology files"),
    ("net", "transfer"): ("fedsim.net.calculator", "main", "one message over one link: timing"),
    ("net", "validate"): ("fedsim.net.validate", "main", "one link in ns-3 and both fidelities"),
    ("serve",): ("fedsim.deploy", "main_serve", "deployment: the FL server over real TCP"),
    ("client",): ("fedsim.deploy", "main_client", "deployment: one FL device over real TCP"),
    ("enroll",): ("fedsim.deploy", "main_enroll", "deployment: fleet key and device keys"),
    ("certs",): ("fedsim.deploy", "main_certs", "deployment: development CA and certificates"),
}
"""Commands with their own argument parsers: `fedsim <words> ARGS` calls `func(ARGS)`."""


def _forwarded(argv: list[str]) -> tuple[Callable[[list[str]], int], list[str]] | None:
    import importlib

    for words, (module, func, _help) in FORWARDED.items():
        if tuple(argv[: len(words)]) == words:
            return getattr(importlib.import_module(module), func), argv[len(words) :]
    return None


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
    r.add_argument("--quiet", action="store_true",
                   help="no progress display; only the results lines and warnings")  # fmt: skip
    r.add_argument("--no-plots", action="store_true",
                   help="no plots/, no report.html (`fedsim report` draws them later)")  # fmt: skip
    r.add_argument("--png", action="store_true",
                   help="also write PNG copies of the plots (SVG is always written)")  # fmt: skip
    r.add_argument("--no-audit", action="store_true",
                   help="skip the run's invariant checks (debugging; no audit.json)")  # fmt: skip
    r.set_defaults(func=_run)

    v = sub.add_parser("validate", help="check topology files without running them")
    v.add_argument("topology", nargs="+")
    v.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    v.set_defaults(func=_validate)

    # Listed for --help; main() hands their arguments to their own parsers.
    for words, (_module, _func, helptext) in FORWARDED.items():
        if len(words) == 1:
            sub.add_parser(words[0], help=helptext, add_help=False)
    net = sub.add_parser("net", help="network tools: `fedsim net transfer|validate --help`")
    net_commands = net.add_subparsers(dest="net_command")
    net_commands.add_parser("transfer", add_help=False)
    net_commands.add_parser("validate", add_help=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        forwarded = _forwarded(words)
        if forwarded is not None:
            fn, rest = forwarded
            return int(fn(rest))
        args = _parser().parse_args(words)
        if not hasattr(args, "func"):
            _parser().parse_args([*words, "--help"])
        return int(args.func(args))
    except FedsimError as exc:
        print(f"fedsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fedsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
