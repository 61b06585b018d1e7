"""audit.json's tie to the files it vouches for: a SHA-256 of each results file.

Why: an audit is about the files it checked. Without their digests, an edited
summary.json (a final accuracy typed in, a dropout count changed) still read "audit
passed" in every reader. The run writes its tables, then audits them and records the
digest of each results file in the folder (`file_digests`); readers recompute them
(`changed_files`) and call the audit void when one differs. This catches edits and
truncations, not forgery: whoever rewrites a file can rewrite audit.json too.
summary.json's digest leaves out `wall_time_s` (host time, the one field two runs of the
same file and seed differ in), so audit.json is as reproducible as the tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fedsim.record.tables import write_json

__all__ = [
    "AUDIT_JSON",
    "RESULT_FILES",
    "changed_files",
    "file_digests",
    "unvouched_files",
    "write_audit_json",
]

AUDIT_JSON = "audit.json"

RESULT_FILES = (
    "summary.json",
    "rounds.csv",
    "clients.csv",
    "links.csv",
    "ledger.csv",
    "timeline.csv",
    "config.yaml",
    "topology.json",
    "model.npy",
)
"""The files a run writes before its audit; each present one must have a digest."""

_CHUNK = 1 << 20


WALL_CLOCK_FIELD = "wall_time_s"
"""summary.json's one wall-clock field: left out of its digest, so that two runs of the
same file and seed write the same audit.json, as they write the same tables."""


def _sha256(path: Path) -> str:
    if path.name == "summary.json":
        return _summary_sha256(path)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _summary_sha256(path: Path) -> str:
    """Of summary.json's content but `wall_time_s`, keys sorted, compact; of its bytes
    when it is not a JSON object (it was one when audited: a mismatch)."""
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        return hashlib.sha256(raw).hexdigest()
    data.pop(WALL_CLOCK_FIELD, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of each results file in `folder` (sorted by name). Only those: a live
    pilot's folder is audited again after every round, and a report.html written into it
    meanwhile (`fedsim report`), drawn again later, must not void it."""
    return {
        name: _sha256(folder / name) for name in sorted(RESULT_FILES) if (folder / name).is_file()
    }


def changed_files(folder: Path, recorded: Mapping[str, Any]) -> list[str]:
    """One phrase per recorded file whose bytes differ now: `summary.json changed`,
    `rounds.csv is missing`. A name that is not a plain file name (a path) is refused:
    audit.json may not send a reader out of the folder."""
    changed = []
    for name, digest in sorted(recorded.items()):
        if Path(name).name != name or name in ("", ".", ".."):
            changed.append(f"{name!r} is not a file of the folder")
            continue
        path = folder / name
        if not path.is_file():
            changed.append(f"{name} is missing")
        elif _sha256(path) != digest:
            changed.append(f"{name} changed")
    return changed


def unvouched_files(folder: Path, recorded: Iterable[str]) -> list[str]:
    """The results files in `folder` audit.json holds no digest for (summary.json
    always counts, present or not)."""
    names = set(recorded)
    return [
        name
        for name in RESULT_FILES
        if name not in names and (name == "summary.json" or (folder / name).is_file())
    ]


def write_audit_json(
    folder: Path,
    invariants: Sequence[str] | None = None,
    violations: Sequence[Mapping[str, str]] = (),
    *,
    code: str | None = None,
    extra: Mapping[str, Any] | None = None,
    not_applicable: Mapping[str, str] | None = None,
) -> Path:
    """audit.json for the files now in `folder`: the invariants checked (every one
    registered but those `not_applicable` to the run, a deployment's, each with why:
    `registered` counts them all, so a list cut short reads as incomplete), the
    violations, the code that checked (`code`, default the running fedsim's) and the
    digest of every file (format: docs/results.md)."""
    from fedsim.record.fingerprint import code_fingerprint
    from fedsim.record.invariant_names import KNOWN_INVARIANTS

    invariants = sorted(KNOWN_INVARIANTS) if invariants is None else invariants
    target = folder / AUDIT_JSON
    record = {
        "invariants": sorted(invariants),
        "violations": [dict(v) for v in violations],
        "code": code if code is not None else code_fingerprint(),
        "registered": len(invariants) + len(not_applicable or {}),
        **({"not_applicable": dict(sorted(not_applicable.items()))} if not_applicable else {}),
        "files": file_digests(folder),
        **(extra or {}),
    }
    write_json(target, record)
    return target
