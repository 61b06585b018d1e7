"""`fedsim schema`: the JSON Schema of topology files, generated from the typed model
that `fedsim validate` and `fedsim run` load through (fedsim.config), so editors
complete and check the same keys, kinds and ranges. Cross-references (a node naming a
missing gateway, enough samples for every device) need the whole file: the model
checks them, the schema cannot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["main_schema", "topology_schema"]


def topology_schema() -> dict[str, Any]:
    from fedsim.config.schema import topology_json_schema

    return topology_json_schema()


def main_schema(argv: Sequence[str]) -> int:
    import argparse
    from pathlib import Path

    p = argparse.ArgumentParser(prog="fedsim schema", description=__doc__)
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    args = p.parse_args(list(argv))
    text = json.dumps(topology_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0
