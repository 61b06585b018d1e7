"""Hostile topology files: one line, exit 2, nothing built, no traceback (finding 7).

Each file goes through `fedsim.cli.main` in-process, as `fedsim validate` and `fedsim run`
would read it. Wall time is measured (printed by the slow check) but only asserted under
`-m slow`: a loaded machine must not fail the default run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.cli import main
from fedsim.errors import FedsimError
from fedsim.topology_file import (
    MAX_TOPOLOGY_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_VALUES,
    load_yaml_text,
    read_topology,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT / "topologies" / "default.yaml").read_text(encoding="utf-8")


def _with_description(yaml_value: str) -> str:
    """default.yaml with its `description:` line replaced (a free-text key nothing checks)."""
    lines = DEFAULT.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("description:"))
    lines[at] = f"description: {yaml_value}"
    return "\n".join(lines) + "\n"


def billion_laughs(levels: int = 9) -> str:
    """10**levels values from a few hundred bytes: each anchor is ten aliases of the last."""
    items = ["&a0 [" + ", ".join(["lol"] * 10) + "]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return _with_description("[" + ", ".join(items) + "]")


def _binary(p: Path) -> None:
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)


def _too_big(p: Path) -> None:
    p.write_bytes(DEFAULT.encode() + b"#" * MAX_TOPOLOGY_BYTES)


def _text(content: str) -> Callable[[Path], None]:
    return lambda p: p.write_text(content, encoding="utf-8")


HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "binary": (_binary, "line 1: not a text file (byte 0x89 at offset 0 is not UTF-8)"),
    "too-big": (_too_big, f"larger than {MAX_TOPOLOGY_BYTES // 1_000_000} MB"),
    "alias-bomb": (_text(billion_laughs(9)), f"more than {MAX_YAML_VALUES} values"),
    "alias-bomb-merge-keys": (
        _text(
            "a0: &a0 {"
            + ", ".join(f"k{i}: lol" for i in range(10))
            + "}\n"
            + "".join(
                f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]\n" for n in range(1, 9)
            )
        ),
        "alias bomb",
    ),
    "self-referencing-alias": (_text(_with_description("&loop [1, *loop]")), "*loop refers"),
    "deep-flow-nesting": (
        _text(_with_description("[" * 100 + "]" * 100)),
        f"nested more than {MAX_YAML_DEPTH} levels deep",
    ),
    "very-deep-flow-nesting": (  # libyaml's own scanner limit (1000) comes first
        _text(_with_description("[" * 100_000 + "]" * 100_000)),
        "exceeded maximum nesting depth",
    ),
    "deep-block-nesting": (
        _text(
            "task:\n"
            + "".join("  " * d + f"k{d}:\n" for d in range(1, 500))
            + "  " * 500
            + "x: 1\n"
        ),
        f"nested more than {MAX_YAML_DEPTH} levels deep",
    ),
    "nul-bytes": (_text(DEFAULT + "\x00\x00"), "not valid YAML"),
    "not-yaml": (_text("nodes: [unclosed\n  - x: {\n"), "not valid YAML"),
    "a-list": (_text("- 1\n- 2\n"), "a topology file is a YAML mapping"),
    "empty": (_text(""), "a topology file is a YAML mapping"),
    "two-documents": (_text(DEFAULT + "---\n" + DEFAULT), "not valid YAML"),
    "unknown-alias": (_text(_with_description("*nowhere")), "not valid YAML"),
    "huge-integer": (_text(_with_description("9" * 5000)), "value has 5000 digits)"),
    "impossible-date": (_text(_with_description("2001-13-45")), "month must be in 1..12"),
    "tagged-nonsense": (_text(_with_description("!!int abc")), "cannot read 'abc'"),
    "tagged-timestamp": (_text(_with_description("!!timestamp x")), "'x': not a timestamp"),
    "tagged-bool": (_text(_with_description("!!bool maybe")), "'maybe': not a bool"),
    "python-tag": (_text(_with_description("!!python/object/apply:os.system [ls]")), "YAML"),
}


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> float:
    start = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - start
    _out, err = capsys.readouterr()
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("fedsim: error: ")
    assert fragment in err, err
    assert f"{argv[1]}:" in err, err
    assert "Traceback" not in err
    return elapsed


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_validate_refuses_a_hostile_file_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    write, fragment = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    write(path)
    _one_line_exit_2(capsys, ["validate", str(path)], fragment)


@pytest.mark.parametrize("name", ["binary", "alias-bomb", "deep-flow-nesting"])
def test_run_refuses_a_hostile_file_before_building_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    write, fragment = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    write(path)
    out = tmp_path / "results"
    _one_line_exit_2(
        capsys, ["run", str(path), "--quiet", "--no-plots", "--out", str(out)], fragment
    )
    assert not out.exists() or not any(out.iterdir())


def test_unreadable_paths_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _one_line_exit_2(capsys, ["validate", str(tmp_path / "missing.yaml")], "cannot read")
    _one_line_exit_2(capsys, ["validate", str(tmp_path)], "cannot read")


def test_a_bomb_one_level_below_the_limit_is_an_ordinary_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Aliases are fine while they expand to little: 10**4 values load, and the file then
    meets the ordinary checks (a description is text), not a limit."""
    path = tmp_path / "small-laughs.yaml"
    path.write_text(billion_laughs(3), encoding="utf-8")
    data = read_topology(path)
    assert len(data["description"]) == 4
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "fedsim: error: description: expected text, got a list", err


def test_the_shipped_topologies_are_well_inside_the_limits() -> None:
    for path in sorted((ROOT / "topologies").glob("*.yaml")):
        assert path.stat().st_size < MAX_TOPOLOGY_BYTES // 100
        assert isinstance(read_topology(path)["nodes"], list)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + DEFAULT.encode())
    assert read_topology(path) == read_topology(ROOT / "topologies" / "default.yaml")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "!!timestamp x",
            "--set description: line 1 is not valid YAML (cannot read 'x': not a timestamp)",
        ),
        ("[" * 65 + "]" * 65, f"nested more than {MAX_YAML_DEPTH} levels deep"),
        ("&a [*a]", "*a refers to a collection containing it"),
    ],
)
def test_yaml_text_has_the_same_limits(text: str, fragment: str) -> None:
    """An override's value (`--set key=YAML`) is read under the file's limits."""
    with pytest.raises(FedsimError) as err:
        load_yaml_text(text, "--set description")
    assert fragment in str(err.value)
    assert str(err.value).startswith("--set description:")


def test_yaml_text_reads_ordinary_values() -> None:
    assert load_yaml_text("[1, 2.5, 10MBps, {a: b}]", "--set x") == [1, 2.5, "10MBps", {"a": "b"}]


SHIPPED = sorted((ROOT / "topologies").glob("*.yaml"))
YAML_PIECES = [
    *(b"&a ", b"*a", b"[", b"{", b"<<: ", b"? ", b"|", b"\t", b"---\n", b"\xff"),
    *(b"!!int ", b"!!float ", b"!!bool ", b"!!timestamp ", b"!!binary ", b"!!set "),
]
EDIT = st.tuples(
    st.floats(0, 1, exclude_max=True),
    st.sampled_from(["flip", "cut", "insert"]),
    st.one_of(st.sampled_from(YAML_PIECES), st.binary(min_size=1, max_size=8)),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(SHIPPED), st.lists(EDIT, min_size=1, max_size=6))
def test_a_mangled_topology_reads_or_fails_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, source: Path, edits: list[tuple[float, str, bytes]]
) -> None:
    """Whatever the bytes, reading is a mapping or a one-line FedsimError naming the file."""
    data = bytearray(source.read_bytes())
    for where, op, piece in edits:
        at = int(where * len(data)) if data else 0
        if op == "flip" and data:
            data[at] ^= piece[0] or 1
        elif op == "cut":
            del data[at : at + len(piece) * 8]
        else:
            data[at:at] = piece
    path = tmp_path_factory.mktemp("mangled") / source.name
    path.write_bytes(bytes(data))
    try:
        outcome = read_topology(path)
    except FedsimError as exc:
        outcome = str(exc)
    if isinstance(outcome, str):
        assert "\n" not in outcome
        assert outcome.startswith(f"{path}:")
    else:
        assert isinstance(outcome, dict)


@pytest.mark.slow
def test_every_hostile_file_is_refused_in_under_a_second(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    times = {}
    for name, (write, fragment) in HOSTILE.items():
        path = tmp_path / f"{name}.yaml"
        write(path)
        times[name] = _one_line_exit_2(capsys, ["validate", str(path)], fragment)
    print("refusal wall time, s:", {k: round(v, 3) for k, v in times.items()})
    assert max(times.values()) < 1.0, times
