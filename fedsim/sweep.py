"""Parameter sweeps: one topology, a grid of overrides, several seeds, one aggregated answer.

Sweep file (YAML)::

    name: codec-vs-loss            # output folder name: <out>/<name>/
    base: topologies/farm.yaml     # relative to the current directory, else to this file
    grid:                          # cartesian product of all lists, in file order
      fl.codec: [float32, int8]
      links.0.loss: [0.0, 0.05]    # list items by index (or by their `name`)
    seeds: [1, 2, 3]               # every grid point runs once per seed
    set: ["fl.rounds=20"]          # optional: overrides applied to every run
    reference: {fl.codec: float32} # optional: the point effects are measured against
                                   # (default: the first; keys left out take their first value)

Every grid key must already exist in the base topology (typos fail before anything runs).
Each run gets a deterministic name from its overrides and seed, and writes
`<out>/<name>/runs/<run_name>/`; a run whose folder holds a summary.json recording the current
code fingerprint (fedsim.record.fingerprint) and a config.yaml equal to what the base file with
its overrides and seed resolves to now is skipped, so an interrupted sweep resumes where it
stopped, while runs made by other code are re-run (`--reuse-stale` keeps them) and runs of
an edited base file are always re-run. Runs go to
a local process pool by default or to a Dask cluster (`--scheduler tcp://host:8786`). At the
end the sweep writes, per grid point, a centre and 95% interval over seeds of the final
metric, time-to-target, bytes and energy, and each point's ratio or difference against the
reference point, paired by seed (every point runs the same seeds; fedsim.record.sweep_stats)
(aggregate.csv/.md, plots, report.html). See docs/sweeps.md.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fedsim.audit import AuditError
from fedsim.errors import FedsimError
from fedsim.record.fingerprint import code_fingerprint
from fedsim.record.tables import read_summary
from fedsim.run_folder import recorded_config, resolved_config
from fedsim.topology_file import load_yaml_text, read_topology

__all__ = [
    "Runner",
    "SweepResult",
    "SweepRun",
    "SweepSpec",
    "check_distinct_values",
    "expand",
    "load_sweep",
    "run_scenario_runner",
    "run_sweep",
    "validate_keys",
]

Runner = Callable[[Path, int, tuple[str, ...], Path, str], Path]
"""runner(base, seed, overrides, out_root, run_name) -> run folder."""

_ALLOWED = {"name", "base", "grid", "seeds", "set", "reference"}
_CONNECT_TIMEOUT = "5s"


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file."""

    name: str
    base: Path
    grid: dict[str, list[Any]]
    seeds: list[int]
    fixed: tuple[str, ...] = ()
    reference: str | None = None
    """The label of the point effects are measured against (None: the first)."""


@dataclass(frozen=True)
class SweepRun:
    """One run of the sweep: a grid point (its values), a seed, and the derived names."""

    point: tuple[tuple[str, Any], ...]
    seed: int
    overrides: tuple[str, ...]
    point_label: str
    run_name: str


@dataclass
class SweepResult:
    """What happened: where things are, which runs ran, were skipped, or failed.

    `stale`: finished runs found made by other code (another fingerprint, or none); they
    are in `executed`/`failed` when re-run, in `skipped` with `reuse_stale`.
    """

    sweep_dir: Path
    runs: list[SweepRun]
    executed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    """Finished runs whose recorded config.yaml differs from what the base file and the
    run's overrides and seed resolve to now (the base was edited): always re-run."""
    failed: dict[str, str] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Statistics a reader must know (too few seeds to resolve the effects)."""


def _format_value(value: Any) -> str:
    """A YAML scalar/flow text the override parser reads back as the same value."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.+\- ]*[A-Za-z0-9_.]", value):
        text = yaml.safe_dump(value, default_flow_style=True).strip()
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; every problem is a FedsimError naming the field."""
    p = Path(path)
    if not p.is_file():
        raise FedsimError(f"no sweep file at {p}")
    data = load_yaml_text(p.read_text(encoding="utf-8", errors="replace"), str(p))
    if not isinstance(data, dict):
        raise FedsimError(f"{p}: expected a mapping with name, base, grid, seeds")
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise FedsimError(f"{p}: unknown sweep field(s) {', '.join(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
        raise FedsimError(f"{p}: name must be a folder-safe string (letters, digits, _.-)")
    base_text = data.get("base")
    if not isinstance(base_text, str):
        raise FedsimError(f"{p}: base must be the path of a topology file")
    base = Path(base_text)
    if not base.is_absolute() and not base.is_file() and (p.parent / base).is_file():
        base = p.parent / base
    if not base.is_file():
        raise FedsimError(f"{p}: base topology {base_text} not found")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise FedsimError(f"{p}: grid must map override keys to lists of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise FedsimError(f"{p}: grid.{key} must be a non-empty list")
    seeds = data.get("seeds", [1])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise FedsimError(f"{p}: seeds must be a non-empty list of integers")
    fixed = data.get("set") or []
    if not isinstance(fixed, list) or not all(isinstance(s, str) and "=" in s for s in fixed):
        raise FedsimError(f'{p}: set must be a list of "key.path=value" strings')
    grid = {str(k): v for k, v in grid.items()}
    _check_keys_given_once(p, fixed, grid, seeds[0])
    reference = _reference_label(p, grid, data.get("reference"))
    return SweepSpec(name, base, grid, seeds, tuple(fixed), reference)


def _check_keys_given_once(
    p: Path, fixed: list[str], grid: dict[str, list[Any]], seed: int
) -> None:
    """A key in both `set` and `grid` (or twice in `set`) would make the run depend on the
    order the overrides are applied in, not on what its name and overrides say; `seeds`
    gives the seed, so neither may set it."""
    from fedsim.scenario import check_overrides

    try:
        check_overrides([*fixed, *(f"{k}={_format_value(v[0])}" for k, v in grid.items())], seed)
    except FedsimError as exc:
        raise FedsimError(f"{p}: {exc}") from None


def _point_label(point: Sequence[tuple[str, Any]]) -> str:
    return ", ".join(f"{k}={_format_value(v)}" for k, v in point) or "base"


def _reference_label(p: Path, grid: dict[str, list[Any]], given: Any) -> str | None:
    """`reference: {key: value}` -> that grid point's label; keys left out take their first
    grid value; a key or value not in the grid is an error naming what is."""
    if given is None:
        return None
    if not isinstance(given, dict):
        raise FedsimError(f"{p}: reference must map grid keys to one of their values")
    for key, value in given.items():
        if key not in grid:
            raise FedsimError(f"{p}: reference.{key} is not a grid key (grid: {', '.join(grid)})")
        if value not in grid[key]:
            known = ", ".join(_format_value(v) for v in grid[key])
            raise FedsimError(
                f"{p}: reference.{key}: {_format_value(value)} is not one of its grid "
                f"values ({known})"
            )
    return _point_label([(k, given.get(k, values[0])) for k, values in grid.items()])


def _lookup(doc: Any, key: str) -> str | None:
    """None if `key` (dotted) exists in doc, else the reason it does not."""
    node, walked = doc, []
    for part in key.split("."):
        where = ".".join(walked) or "the top level"
        if isinstance(node, dict):
            if part not in node:
                known = ", ".join(sorted(map(str, node))[:12])
                return f"no '{part}' under {where} (has: {known})"
            node = node[part]
        elif isinstance(node, list):
            if part.lstrip("-").isdigit():
                i = int(part)
                if not -len(node) <= i < len(node):
                    return f"index {i} out of range under {where} ({len(node)} items)"
                node = node[i]
            else:
                named = [x for x in node if isinstance(x, dict) and x.get("name") == part]
                if not named:
                    return f"no item named '{part}' under {where}"
                node = named[0]
        else:
            return f"{where} is a value, not a section"
        walked.append(part)
    return None


def _loader() -> Callable[..., Any] | None:
    try:
        from fedsim.scenario import prepare_scenario
    except ImportError:
        return None
    return prepare_scenario


def precheck_runs(spec: SweepSpec, runs: list[SweepRun]) -> None:
    """Every grid point through the pre-run path `fedsim run` uses (fedsim.config), so a
    bad point fails the sweep before the first run starts, not hours into it."""
    load = _loader()
    if load is None:
        return
    seen: set[tuple[str, ...]] = set()
    for r in runs:
        if r.overrides in seen:
            continue
        seen.add(r.overrides)
        try:
            load(spec.base, list(r.overrides), r.seed)
        except FedsimError as exc:
            raise FedsimError(f"sweep point {r.point_label!r}: {exc}") from None


def check_distinct_values(spec: SweepSpec) -> None:
    """Two values of a grid key that the scenario reads as the same (`2ms` and `0.002`,
    `10%` and `0.1`) would run one scenario twice as two points, each a sample of a
    different-looking setting: refuse, naming the key and both spellings. The values are
    compared as parsed (`Scenario` equality, the other keys at their first value and the
    first seed), not as text; a value the loader refuses is left to the point's own
    check."""
    try:
        from fedsim.scenario import load_scenario
    except ImportError:
        return
    first = {k: values[0] for k, values in spec.grid.items()}
    for key, values in spec.grid.items():
        if len(values) < 2:
            continue
        loaded: list[tuple[Any, Any]] = []
        for value in values:
            point = {**first, key: value}
            overrides = [*spec.fixed, *(f"{k}={_format_value(v)}" for k, v in point.items())]
            try:
                scenario = load_scenario(spec.base, overrides, spec.seeds[0])
            except FedsimError:
                continue
            for other, seen in loaded:
                if seen == scenario:
                    raise FedsimError(
                        f"sweep grid.{key}: {_format_value(other)} and {_format_value(value)} "
                        "are the same value; give it once"
                    )
            loaded.append((value, scenario))


def validate_keys(spec: SweepSpec) -> None:
    """Every grid and `set` key must exist in the base topology: catch typos before running.

    A key absent from the file is accepted if the scenario loader accepts it (a default,
    e.g. `fl.codec`), checked with each of the key's grid values.
    """
    doc = read_topology(spec.base)
    load = _loader()
    checks = [(s.split("=", 1)[0].strip(), s) for s in spec.fixed]
    checks += [(k, f"{k}={_format_value(v)}") for k, values in spec.grid.items() for v in values]
    for key, override in checks:
        reason = _lookup(doc, key)
        if reason is None:
            continue
        message = f"sweep key '{key}' not found in {spec.base}: {reason}"
        if load is None:
            raise FedsimError(message)
        given = list(spec.fixed) if override in spec.fixed else [*spec.fixed, override]
        try:
            load(spec.base, given)  # (a `set` key once: given twice is refused as such)
        except FedsimError as exc:
            if _names_the_key(str(exc), key):
                raise FedsimError(f"sweep value {override}: {exc}") from None
            raise FedsimError(f"{message} (loader: {exc})") from exc


def _names_the_key(error: str, key: str) -> bool:
    """The loader's error is about this key's value (`fl.codec: 'int4' is not one of
    ...`), not about the key being unknown: the key exists (a default), the value is bad."""
    where, _, why = error.partition(": ")
    return where.split(" ")[-1] in (key, key.replace(".", "..")) and "unknown key" not in why


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-")


def expand(spec: SweepSpec) -> list[SweepRun]:
    """The cartesian product of the grid, times the seeds, in a stable order."""
    keys = list(spec.grid)
    runs = []
    for combo in itertools.product(*(spec.grid[k] for k in keys)):
        point = tuple(zip(keys, combo, strict=True))
        overrides = tuple(f"{k}={_format_value(v)}" for k, v in point)
        label = _point_label(point)
        digest = hashlib.sha1("\n".join(spec.fixed + overrides).encode()).hexdigest()[:6]
        short = "_".join(_slug(f"{k.rsplit('.', 1)[-1]}={_format_value(v)}") for k, v in point)
        stem = f"{short[:60]}-{digest}" if short else f"base-{digest}"
        runs += [
            SweepRun(point, seed, spec.fixed + overrides, label, f"{stem}-s{seed}")
            for seed in spec.seeds
        ]
    return runs


def run_scenario_runner(
    base: Path, seed: int, overrides: tuple[str, ...], out_root: Path, run_name: str
) -> Path:
    """The real runner: `fedsim.run.run_scenario` without progress output."""
    try:
        from fedsim.run import run_scenario
    except ImportError as exc:
        raise FedsimError("fedsim.run.run_scenario is not available in this build") from exc
    return run_scenario(
        base,
        seed=seed,
        overrides=list(overrides),
        out_root=out_root,
        run_name=run_name,
        progress=False,
        audit=True,
    )


def _recorded_code(folder: Path) -> str | None:
    """The code fingerprint a finished run recorded; None if absent, unreadable or not
    in the current results schema (an older run: it is re-run, not aggregated)."""
    try:
        return read_summary(folder / "summary.json").code
    except (OSError, FedsimError):
        return None


class _ExpectedConfigs:
    """The config.yaml each run would write now, loading the base once per grid point
    (only the seed differs between a point's runs)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._by_point: dict[tuple[str, ...], dict[str, Any]] = {}

    def of(self, run: SweepRun) -> dict[str, Any]:
        config = self._by_point.get(run.overrides)
        if config is None:
            config = resolved_config(self.base, run.overrides, run.seed)
            self._by_point[run.overrides] = config
        return {**config, "seed": run.seed}


def _runs_text(n: int) -> str:
    return f"{n} run was" if n == 1 else f"{n} runs were"


def _execute(runner: Runner, base: Path, run: SweepRun, out_root: Path) -> tuple[str, str | None]:
    """Run one job; errors come back as text so one bad run does not sink the sweep."""
    try:
        # A stale result must not count as finished if its re-run fails.
        (out_root / run.run_name / "summary.json").unlink(missing_ok=True)
        runner(base, run.seed, run.overrides, out_root, run.run_name)
    except Exception as exc:
        if isinstance(exc, AuditError):  # written, but wrong: not a finished grid point
            (out_root / run.run_name / "summary.json").unlink(missing_ok=True)
        return run.run_name, f"{type(exc).__name__}: {exc}"
    return run.run_name, None


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise FedsimError(
            "--scheduler needs dask.distributed (pip install fedsim[cluster])"
        ) from exc
    try:
        return Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise FedsimError(f"cannot reach Dask scheduler at {address}: {exc}") from exc


def _run_all(
    jobs: list[SweepRun],
    runner: Runner,
    base: Path,
    out_root: Path,
    workers: int | None,
    scheduler: str | None,
    on_done: Callable[[str, str | None], None],
) -> None:
    if not jobs:
        return
    if scheduler:
        client = _dask_client(scheduler)
        try:
            futures = [
                client.submit(
                    _execute,
                    runner,
                    base,
                    job,
                    out_root,
                    pure=False,
                    key=f"fedsim-sweep-{job.run_name}",
                )
                for job in jobs
            ]
            for fut in futures:  # submission order: deterministic log, same as the pool
                on_done(*fut.result())
        finally:
            client.close()
        return
    n = workers or min(len(jobs), os.cpu_count() or 1)
    if n <= 1:
        for job in jobs:
            on_done(*_execute(runner, base, job, out_root))
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        futs = [pool.submit(_execute, runner, base, job, out_root) for job in jobs]
        for fut in as_completed(futs):
            on_done(*fut.result())


def run_sweep(
    spec: SweepSpec,
    *,
    out: str | Path = Path("results"),
    runner: Runner | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    log: Callable[[str], None] | None = None,
    reuse_stale: bool = False,
) -> SweepResult:
    """Validate, run what is missing or was made by other code, then aggregate.

    A finished run is reused only if its config.yaml is what the base file, the run's
    overrides and seed resolve to now, and the code fingerprint in its summary.json equals
    `code_fingerprint()`; `reuse_stale=True` reuses finished runs made by other code, never
    one whose configuration changed.
    """
    from fedsim.record.aggregate import write_sweep_outputs

    validate_keys(spec)
    check_distinct_values(spec)
    runs = expand(spec)
    if runner is None:  # the real runner: each point must pass `fedsim validate`
        precheck_runs(spec, runs)
    names = [r.run_name for r in runs]
    if len(set(names)) != len(names):
        raise FedsimError("sweep has duplicate grid points or seeds (two runs share a name)")
    sweep_dir = Path(out) / spec.name
    runs_root = sweep_dir / "runs"
    runs_root.mkdir(parents=True, exist_ok=True)
    result = SweepResult(sweep_dir, runs)
    say = log or (lambda _msg: None)
    current = code_fingerprint()
    jobs, old_codes = [], set()
    expected = _ExpectedConfigs(spec.base)
    for r in runs:
        folder = runs_root / r.run_name
        if not (folder / "summary.json").is_file():
            jobs.append(r)
            continue
        if recorded_config(folder) != expected.of(r):
            result.changed.append(r.run_name)
            jobs.append(r)
            continue
        code = _recorded_code(folder)
        if code == current:
            result.skipped.append(r.run_name)
            continue
        result.stale.append(r.run_name)
        old_codes.add(code or "unrecorded")
        if reuse_stale:
            result.skipped.append(r.run_name)
        else:
            jobs.append(r)
    current_done = len(runs) - len(jobs) - (len(result.stale) if reuse_stale else 0)
    say(f"sweep {spec.name}: {len(runs)} runs, {current_done} already done")
    if result.changed:
        say(
            f"{len(result.changed)} re-run: their topology changed (their config.yaml is not "
            f"what {spec.base} with the sweep's overrides and seed resolves to now)"
        )
    if result.stale:
        what = "reusing them (--reuse-stale)" if reuse_stale else "re-running them"
        say(
            f"{_runs_text(len(result.stale))} made by other code (fingerprint "
            f"{', '.join(sorted(old_codes))} -> {current}): {what}"
        )
    if scheduler:
        _dask_client(scheduler).close()  # fail fast, before any run is submitted
    start = time.monotonic()

    def on_done(name: str, error: str | None) -> None:
        if error is None:
            result.executed.append(name)
        else:
            result.failed[name] = error
        done = len(result.executed) + len(result.failed)
        status = "ok" if error is None else f"FAILED ({error})"
        say(f"[{done}/{len(jobs)}] {name} {status} ({time.monotonic() - start:.1f} s)")

    _run_all(jobs, runner or run_scenario_runner, spec.base, runs_root, workers, scheduler, on_done)
    foreign = {n: c for n in result.executed if (c := _recorded_code(runs_root / n)) != current}
    if foreign:  # e.g. Dask workers on another checkout: the next sweep would redo them
        codes = ", ".join(sorted({c or "unrecorded" for c in foreign.values()}))
        say(
            f"warning: {_runs_text(len(foreign))} just made by other code (fingerprint {codes}, "
            f"this process {current}); the next sweep will re-run them. Do the workers run "
            "another fedsim checkout or package versions?"
        )
    result.outputs = write_sweep_outputs(spec, runs, runs_root, sweep_dir, result.warnings)
    for line in result.warnings:
        say(f"warning: {line}")
    return result
