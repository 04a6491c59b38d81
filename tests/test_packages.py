"""The four packages are installed, run as ``python -m <package> --help`` and as console scripts, and
keep their architectural boundaries (checked on the source, not by convention)."""

from __future__ import annotations

import ast
import itertools
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["assets_pipeline", "session_server", "tryon", "scanning"]
SCRIPTS = {"assets_pipeline": "phygital-assets", "session_server": "phygital-session", "tryon": "phygital-tryon",
           "scanning": "phygital-scan"}


@pytest.mark.parametrize("package", PACKAGES)
def test_help(package: str) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    r = subprocess.run([sys.executable, "-m", package, "--help"], capture_output=True, text=True, timeout=120,
                       env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout and len(r.stdout.splitlines()) > 5
    script = Path(sys.executable).parent / SCRIPTS[package]
    assert script.is_file(), f"console script {script.name} is not installed"
    r2 = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert r2.returncode == 0 and "Usage" in r2.stdout, r2.stderr


def _imports(path: Path) -> set[str]:
    """Top-level modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


PURE = [*sorted((ROOT / "assets_pipeline" / "transforms").glob("*.py")),
        *(ROOT / "assets_pipeline" / name for name in ("document.py", "refs.py", "scene.py"))]


CLI_APPS = {"assets_pipeline": "assets_pipeline.cli", "session_server": "session_server.__main__",
            "tryon": "tryon.cli", "scanning": "scanning.cli"}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_option_says_what_it_does(package: str) -> None:
    """Each option of each (sub)command has a help text: ``--help`` never lists a bare ``--seed <int>``."""
    import importlib

    from typer.main import get_command

    def commands(cmd: object, path: str) -> list[tuple[str, object]]:
        subs = getattr(cmd, "commands", None) or {}
        return [(path, cmd)] + [c for name, sub in subs.items() for c in commands(sub, f"{path} {name}")]

    root = get_command(importlib.import_module(CLI_APPS[package]).app)
    bare = [f"{path} {'/'.join(p.opts)}" for path, cmd in commands(root, package) for p in getattr(cmd, "params", [])
            if p.param_type_name == "option" and p.name != "help" and not getattr(p, "help", None)]
    assert not bare, f"options without a help text: {bare}"


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_document_and_transforms_stay_pure(path: Path) -> None:
    """The document and transforms do no I/O and need no codec, database or network library."""
    banned = {"boto3", "sqlalchemy", "pygltflib", "open3d", "DracoPy", "meshoptimizer", "PIL", "subprocess",
              "requests", "httpx"}
    assert not _imports(path) & banned


def _help_entries(text: str, section: str) -> list[tuple[str, str]]:
    """(name column, help text) of each entry of a ``--help`` section (``Options:``, ``Arguments:``) in click's
    layout: the help follows two spaces on the same line, or on the next lines further indented."""
    lines = text.splitlines()
    if f"{section}:" not in lines:
        return []
    body = list(itertools.takewhile(lambda s: s.strip(), lines[lines.index(f"{section}:") + 1:]))
    entries: list[tuple[str, str]] = []
    for i, line in enumerate(body):
        if line.startswith("  ") and not line.startswith("   "):  # an entry (continuation lines are indented more)
            name, _, help_text = line.strip().partition("  ")
            if not help_text.strip() and i + 1 < len(body) and body[i + 1].startswith("   "):
                help_text = body[i + 1]
            entries.append((name, help_text.strip()))
    return entries


@pytest.mark.parametrize("package", PACKAGES)
def test_every_help_reads_well(package: str) -> None:
    """``--help`` of every (sub)command, run as a user runs it on an 80-column terminal: every option and argument
    is listed by its full name with a help text, and no flag is typed ``<bool>`` nor a name or text cut short with
    an ellipsis (typer 0.29's rich panels did both). A repeatable option says what one value looks like, not
    ``<list[str]>`` (a variadic argument's ``files... <list[Path]>`` is typer's, and left). The usage line
    names every argument as click does, ``INPUT``, ``[QUERY]``, ``FILES...`` (typer 0.29 wrote ``{input}``)."""
    import importlib

    from typer.main import get_command

    def commands(cmd: object, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], object]]:
        subs = getattr(cmd, "commands", None) or {}
        return [(path, cmd)] + [c for name, sub in subs.items() for c in commands(sub, (*path, name))]

    every = commands(get_command(importlib.import_module(CLI_APPS[package]).app), ())
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}

    def run(path: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", package, *path, "--help"], capture_output=True, text=True,
                              timeout=120, env=env, check=False)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [path for path, _ in every]))
    problems = []
    for (path, cmd), r in zip(every, results, strict=True):
        where = " ".join((package, *path))
        if r.returncode != 0 or "Usage:" not in r.stdout:
            problems.append(f"{where}: exit {r.returncode}: {r.stderr.strip()[:200]}")
            continue
        problems += [f"{where}: {bad!r} in --help" for bad in ("<bool>", "…") if bad in r.stdout]
        usage = " ".join(itertools.takewhile(str.strip, r.stdout[r.stdout.index("Usage:"):].splitlines())).split()
        pieces = usage[len(f"Usage: python -m {where}".split()):]
        problems += [f"{where}: {piece!r} in the usage line" for piece in pieces
                     if not re.fullmatch(r"\[?[A-Z][A-Z0-9_]*\]?(\.\.\.)?", piece)]
        named = {piece.strip("[].") for piece in pieces}
        problems += [f"{where}: argument {param.name} is not in the usage line" for param in getattr(cmd, "params", [])
                     if param.param_type_name == "argument" and (param.name or "").upper() not in named]
        problems += [f"{where}: {line.split()[0]} has no metavar" for line in r.stdout.splitlines()
                     if line.lstrip().startswith("--") and "<list[" in line]
        entries = _help_entries(r.stdout, "Options") + _help_entries(r.stdout, "Arguments")
        problems += [f"{where}: {name} has no help text" for name, text in entries if not text]
        names = " ".join(name for name, _ in entries)
        for param in getattr(cmd, "params", []):
            if not getattr(param, "hidden", False) and not all(o in names.split() or f"{o}/" in names
                                                               for o in param.opts if o.startswith("--")):
                problems.append(f"{where}: {'/'.join(param.opts)} is not listed in full")
    assert not problems, "\n".join(problems)
