"""The command line: synth -> fuse -> GLB + report, mesh from a cloud, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import open3d as o3d
from typer.testing import CliRunner

from scanning.cli import app
from scanning.synthetic import load_truth

runner = CliRunner()


def test_help_runs_as_a_module() -> None:
    res = subprocess.run([sys.executable, "-m", "scanning", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for command in ("fuse", "mesh", "synth"):
        assert command in res.stdout


def test_synth_then_fuse_writes_glb_and_report(corpus: Path, tmp_path: Path) -> None:
    cap = tmp_path / "cap"
    res = runner.invoke(app, ["synth", str(corpus / "models" / "spot.obj"), "-o", str(cap), "--views", "10",
                              "--width", "240", "--height", "180", "-q"])
    assert res.exit_code == 0, res.output
    assert (cap / "poses.json").is_file() and len(list((cap / "depth").iterdir())) == 10
    out, rep = tmp_path / "spot.glb", tmp_path / "report.json"
    res = runner.invoke(app, ["fuse", str(cap), "-o", str(out), "--report", str(rep), "--triangles", "8000"])
    assert res.exit_code == 0, res.output
    report = json.loads(rep.read_text())
    assert report["poses"] == "given" and report["watertight"] is True and report["frames_used"] == 10
    ext = np.ptp(load_truth(corpus / "models" / "spot.obj", 0.2)[0], axis=0)  # z-up; the GLB is y-up
    assert np.allclose(report["dimensions_m"], [ext[0], ext[2], ext[1]], rtol=0.015)
    assert report["output"]["bytes"] == out.stat().st_size
    assert report["triangles"] <= 8000 * 1.5**3
    # the object's box (capture axes, before meshing) and the model's size (w x h x d) each say which they are
    assert " cm (capture x, y, z) at (" in res.output and " cm (w x h x d), " in res.output, res.output


def test_mesh_from_a_cloud(tmp_path: Path) -> None:
    d = np.random.default_rng(0).normal(size=(5000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    path = tmp_path / "ball.xyz"
    np.savetxt(path, np.hstack([50 * d, d]))  # millimetres, with normals
    out = tmp_path / "ball.glb"
    res = runner.invoke(app, ["mesh", str(path), "-o", str(out), "--scale", "0.001", "-q"])
    assert res.exit_code == 0, res.output
    assert out.is_file()


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanning", *args], capture_output=True, text=True, timeout=120)


def test_bad_capture_exits_2_with_one_line_and_no_output(tmp_path: Path) -> None:
    (tmp_path / "cap" / "color").mkdir(parents=True)
    (tmp_path / "cap" / "depth").mkdir()
    (tmp_path / "cap" / "intrinsics.json").write_text('{"width": 640}')
    out = tmp_path / "x.glb"
    res = _run(["fuse", str(tmp_path / "cap"), "-o", str(out), "-q"])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "intrinsics.json: height: missing" in lines[0]
    assert "Traceback" not in res.stderr and not out.exists()


def test_three_point_cloud_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "three.ply"
    o3d.io.write_point_cloud(str(path), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.eye(3))))
    res = _run(["mesh", str(path), "-o", str(tmp_path / "x.glb")])
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"error: {path}: has 3 usable points; at least 100 are needed "
                                               "for a surface"]
    assert not (tmp_path / "x.glb").exists()


def test_synth_refuses_an_existing_folder(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "cap").mkdir()
    (tmp_path / "cap" / "keep.txt").write_text("mine")
    res = runner.invoke(app, ["synth", str(corpus / "models" / "spot.obj"), "-o", str(tmp_path / "cap"),
                              "--views", "2", "--width", "32", "--height", "24", "-q"])
    assert res.exit_code == 2
    assert (tmp_path / "cap" / "keep.txt").read_text() == "mine"


def test_an_error_before_any_progress_is_the_only_line(tmp_path: Path) -> None:
    for command, missing in (("fuse", tmp_path / "no-capture"), ("mesh", tmp_path / "no-cloud.ply")):
        res = subprocess.run([sys.executable, "-m", "scanning", command, str(missing), "-o", str(tmp_path / "x.glb")],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 2
        assert res.stderr.splitlines() == [f"error: {missing}: {'folder' if command == 'fuse' else 'file'} not found"]


def test_synth_refuses_an_existing_folder_before_reading_the_model(tmp_path: Path) -> None:
    # the output is checked first: a model that does not exist is not even looked for (nor any view rendered)
    (tmp_path / "cap").mkdir()
    (tmp_path / "cap" / "keep.txt").write_text("mine")
    res = subprocess.run([sys.executable, "-m", "scanning", "synth", str(tmp_path / "missing.obj"), "-o",
                          str(tmp_path / "cap")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last == f"error: {tmp_path / 'cap'}: already exists and is not an empty folder"
