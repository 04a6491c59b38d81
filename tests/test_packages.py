"""The four packages are installed, run as ``python -m <package> --help`` and as console scripts, and
keep their architectural boundaries (checked on the source, not by convention)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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
