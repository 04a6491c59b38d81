"""Installable, not only runnable from the checkout: the wheel carries what the pipeline runs (the node scripts and
the npm manifest), nothing from tools/, and an installed copy simplifies and validates outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assets_pipeline import nodetools

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = {"assets_pipeline/node/simplify.mjs", "assets_pipeline/node/validate.mjs",
           "assets_pipeline/node/package.json", "assets_pipeline/node/package-lock.json",
           "assets_pipeline/catalog/migrations/script.py.mako", "assets_pipeline/catalog/migrations/env.py"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built by pip from a copy of the tracked files (the checkout stays clean)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True,
                             timeout=60).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(src)],
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    (built,) = (work / "dist").glob("phygital-*.whl")
    return built


def test_wheel_has_the_runtime_files_and_nothing_from_tools(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= RUNTIME, sorted(RUNTIME - names)
    assert not [n for n in names if n.startswith("tools/") or "node_modules" in n or "/tests/" in n]
    assert not [n for n in names if n.endswith((".mjs", ".json")) and not n.startswith("assets_pipeline/node/")
                and not n.startswith(("session_server/web/static/", "phygital-"))], sorted(names)
    shipped = json.loads(zipfile.ZipFile(wheel).read("assets_pipeline/node/package.json"))["dependencies"]
    assert set(shipped) == {"gltf-validator", "meshoptimizer"}  # runtime only: no gltfpack, glTF-Transform, ws
    points = zipfile.ZipFile(wheel).read("phygital-0.1.0.dist-info/entry_points.txt").decode()
    assert "phygital-assets = assets_pipeline.cli:main" in points


def test_installed_wheel_simplifies_and_validates_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel's files (not the checkout) and run the CLI from elsewhere, with the configured tools."""
    assert nodetools.status().ready, "make setup installs the node tools (phygital-assets node-tools --install)"
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target",
                        str(site), str(wheel)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200", "NO_COLOR": "1",
           "PHYGITAL_ASSETS_NODE_TOOLS": str(nodetools.folder())}

    def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assets_pipeline", *map(str, args)], capture_output=True,
                              text=True, cwd=run_dir, env=env, timeout=300, check=False)

    where = subprocess.run([sys.executable, "-c", "import assets_pipeline; print(assets_pipeline.__file__)"],
                           capture_output=True, text=True, cwd=run_dir, env=env, timeout=60, check=True).stdout
    assert where.startswith(str(site)), where  # the installed copy, not the checkout
    r = cli("optimize", ROOT / "samples" / "models" / "display-stand.obj", "-o", run_dir / "stand.glb", "--units",
            "cm", "--up", "z", "--lods", "0.5", "--validate")
    assert r.returncode == 0, r.stderr
    assert "bundled meshoptimizer" not in r.stderr  # the node simplifier ran, not the fallback
    r = cli("validate", "stand.lod1.glb")
    assert r.returncode == 0 and "stand.lod1.glb: 0 errors" in r.stdout, (r.stdout, r.stderr)
    r = cli("node-tools")
    assert r.returncode == 0 and "meshoptimizer 1.3.0: ok" in r.stdout, (r.stdout, r.stderr)


def test_missing_node_tools_say_how_to_install_them(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PHYGITAL_ASSETS_NODE_TOOLS": str(tmp_path / "none")}
    glb = ROOT / "samples" / "models" / "display-stand.obj"
    r = subprocess.run([sys.executable, "-m", "assets_pipeline", "validate", str(glb)], capture_output=True,
                       text=True, env=env, timeout=120, check=False)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "gltf-validator" in lines[0] and str(tmp_path / "none") in lines[0] and "node-tools --install" in lines[0]
    r = subprocess.run([sys.executable, "-m", "assets_pipeline", "node-tools"], capture_output=True, text=True,
                       env=env, timeout=120, check=False)
    assert r.returncode == 1 and "gltf-validator 2.0.0-dev.3.10: missing" in r.stdout, (r.stdout, r.stderr)
    assert "node-tools --install" in r.stderr


def test_node_tools_install_into_a_chosen_folder(tmp_path: Path) -> None:
    """npm ci from the shipped lock file into an empty folder; a second install does nothing."""
    where = tmp_path / "tools"
    state = nodetools.install(where)
    assert state.ready and state.packages["meshoptimizer"] == ("1.3.0", "1.3.0")
    assert sorted(p.name for p in where.iterdir()) == ["node_modules", "package-lock.json", "package.json"]
    stamp = (where / "node_modules" / "meshoptimizer" / "package.json").stat().st_mtime_ns
    assert nodetools.install(where).ready
    assert (where / "node_modules" / "meshoptimizer" / "package.json").stat().st_mtime_ns == stamp
