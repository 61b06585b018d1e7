"""The command tree: every command documented, `--version`, click's own mistakes as one
`fedsim: error:` line with exit 2, Ctrl-C as exit 130, and README's command table
generated from the tree."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from fedsim.cli import main
from fedsim.cli.app import fedsim_version
from fedsim.cli.doc import BEGIN, END, commands, markdown

ROOT = Path(__file__).resolve().parents[1]
PATHS = [ctx.command_path.split()[1:] for ctx, _ in commands()]


def test_the_tree_has_every_command() -> None:
    assert [" ".join(p) for p in PATHS] == [
        "", "run", "validate", "show", "schema", "compare", "report", "sweep",
        "net", "net transfer", "net validate", "serve", "client", "enroll", "certs",
    ]  # fmt: skip


def test_every_command_and_option_has_help() -> None:
    missing = []
    for ctx, command in commands():
        short = command.short_help or ""
        if not short or "\n" in short:
            missing.append(f"{ctx.command_path}: no one-line short_help")
        if not (command.help or "").strip() or (command.help or "").strip() == short:
            missing.append(f"{ctx.command_path}: no description beyond its one line")
        missing += [
            f"{ctx.command_path} {param.opts[0]}: no help"
            for param in command.get_params(ctx)
            if isinstance(param, click.Option) and not param.help
        ]
    assert missing == []


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "fedsim")
def test_help_of_every_command(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"Usage: fedsim {' '.join(path)}".rstrip())
    assert "Options:" in out


def test_net_help_lists_transfer_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["net", "-h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (line,) = [ln for ln in lines if ln.strip().startswith("transfer")]
    assert "One message over one link" in line


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fedsim {fedsim_version()}\n"
    assert fedsim_version()[0].isdigit()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["frob"], "fedsim: error: no such command 'frob' (see 'fedsim --help')"),
        (["run"], "fedsim: error: missing argument 'FILE' (see 'fedsim run --help')"),
        (["run", "x.yaml", "--seed", "x"],
         "fedsim: error: invalid value for '--seed': 'x' is not a valid integer "
         "(see 'fedsim run --help')"),
        (["validate"], "fedsim: error: missing argument 'FILE...' (see 'fedsim validate --help')"),
        (["sweep", "s.yaml", "--workers", "0"], "fedsim: error: --workers must be at least 1"),
        (["net", "nope"], "fedsim: error: no such command 'nope' (see 'fedsim net --help')"),
    ],
)  # fmt: skip
def test_a_usage_mistake_is_one_line_exit_2(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", line + "\n")


def test_no_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: fedsim [OPTIONS] COMMAND")
    assert "validate" in err


def test_ctrl_c_is_exit_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fedsim.scenario

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fedsim.scenario, "prepare_scenario", interrupted)
    assert main(["validate", "topologies/default.yaml"]) == 130
    assert capsys.readouterr().err == "fedsim: interrupted\n"


def test_readme_command_table_is_generated_from_the_tree() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.partition(BEGIN)[2].partition(END)[0]
    assert block.strip() == markdown().strip(), "run `make cli-doc`"
    for path in PATHS:
        if path and path != ["net"]:
            assert f"`fedsim {' '.join(path)}" in block


def _documented_flags(text: str) -> list[tuple[tuple[str, ...], str, str]]:
    """(command path, flag, snippet) for every `fedsim COMMAND ... --flag` in code spans,
    indented code and Makefile recipes."""
    tree = {tuple(ctx.command_path.split()[1:]) for ctx, _ in commands()}
    snippets = re.findall(r"`([^`\n]+)`", text) + [
        ln for ln in text.splitlines() if ln.startswith(("    ", "\t"))
    ]
    found = []
    for snippet in snippets:
        for m in re.finditer(r"(?:^|[\s(])fedsim((?: [a-z][a-z-]*)+)([^;|&]*)", snippet):
            words, path = m.group(1).split(), ()
            while len(path) < len(words) and (*path, words[len(path)]) in tree:
                path = (*path, words[len(path)])
            rest = " ".join(words[len(path) :]) + m.group(2)
            found += [(path, f, snippet) for f in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest)]
    return [f for f in found if f[0]]


def test_every_flag_the_docs_give_a_command_exists() -> None:
    options = {
        tuple(ctx.command_path.split()[1:]): {
            o for p in cmd.get_params(ctx) if isinstance(p, click.Option) for o in p.opts
        }
        for ctx, cmd in commands()
    }
    files = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").glob("*.md"))]
    found = [(f.name, *hit) for f in files for hit in _documented_flags(f.read_text("utf-8"))]
    assert len(found) > 20  # the scan sees the docs' examples
    wrong = [f"{name}: {' '.join(p)} has no {flag} ({snippet})" for name, p, flag, snippet in found
             if flag not in options[p]]  # fmt: skip
    assert wrong == []
