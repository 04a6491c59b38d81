"""Texture atlas baked from vertex colors: the texture reproduces the colors, and the GLB carries it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
from typer.testing import CliRunner

from assets_pipeline.geometry import vertex_normals
from assets_pipeline.io.formats import read
from assets_pipeline.limits import Limits
from scanning.atlas import bake_atlas
from scanning.cli import app
from scanning.errors import HandoffError
from scanning.handoff import write_product
from scanning.mesh import Mesh


@pytest.fixture(scope="module")
def ball() -> Mesh:
    m = o3d.geometry.TriangleMesh.create_sphere(0.1, resolution=20)
    v = np.asarray(m.vertices)
    return Mesh(v, np.asarray(m.triangles).astype(np.int64), np.clip(0.5 + 4 * v, 0, 1), 0.005)


def test_atlas_reproduces_the_vertex_colors(ball: Mesh) -> None:
    tex = bake_atlas(ball, vertex_normals(ball.vertices, ball.triangles), 256)
    assert tex.image.shape == (256, 256, 3) and tex.image.dtype == np.uint8
    assert len(tex.triangles) == len(ball.triangles)
    assert len(tex.vertices) >= len(ball.vertices)  # split along the chart seams
    assert tex.uvs.min() >= 0 and tex.uvs.max() <= 1
    # the split vertices are the original ones: same surface
    assert np.allclose(np.linalg.norm(tex.vertices, axis=1), 0.1, atol=1e-6)
    # sample each triangle a little inside its corners (glTF: origin top-left, row = v * height)
    corners = tex.uvs[tex.triangles]
    inside = corners + 0.25 * (corners.mean(axis=1, keepdims=True) - corners)
    rows = np.clip((inside[..., 1] * 256).astype(int), 0, 255)
    cols = np.clip((inside[..., 0] * 256).astype(int), 0, 255)
    want = tex.vertices[tex.triangles]
    want = np.clip(0.5 + 4 * (want + 0.25 * (want.mean(axis=1, keepdims=True) - want)), 0, 1)
    assert np.abs(tex.image[rows, cols] / 255.0 - want).mean() < 0.02


def test_glb_with_a_texture_atlas(ball: Mesh, tmp_path: Path) -> None:
    out = tmp_path / "ball.glb"
    write_product(ball, out, "ball", texture_size=256)
    doc = read(out, Limits())
    assert len(doc.images) == 1
    prim = doc.gltf["meshes"][0]["primitives"][0]
    assert "TEXCOORD_0" in prim["attributes"] and "COLOR_0" not in prim["attributes"]
    material = doc.gltf["materials"][prim["material"]]
    assert material["pbrMetallicRoughness"]["baseColorTexture"]["index"] == 0
    assert doc.triangle_count() == len(ball.triangles)


def test_atlas_needs_colors_and_a_sane_size(ball: Mesh) -> None:
    normals = vertex_normals(ball.vertices, ball.triangles)
    with pytest.raises(HandoffError, match="no vertex colors"):
        bake_atlas(ball.with_(colors=None), normals, 256)
    with pytest.raises(HandoffError, match="texture size: must be between 64 and 4096"):
        bake_atlas(ball, normals, 10_000)


def test_cli_texture_size_is_checked(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["mesh", str(tmp_path / "none.ply"), "-o", str(tmp_path / "x.glb"), "--texture-size", "10"]
    )
    assert res.exit_code == 2 and "--texture-size" in res.output


def test_mesh_command_with_texture_size(tmp_path: Path) -> None:
    d = np.random.default_rng(0).normal(size=(3000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    cloud = tmp_path / "ball.xyz"
    np.savetxt(cloud, np.hstack([0.05 * d, d, 0.5 + 0.5 * d]))  # x y z nx ny nz r g b
    out, rep = tmp_path / "ball.glb", tmp_path / "ball.json"
    res = CliRunner().invoke(
        app,
        [
            "mesh",
            str(cloud),
            "-o",
            str(out),
            "--report",
            str(rep),
            "--triangles",
            "1500",
            "--texture-size",
            "256",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = read(out, Limits())
    assert len(doc.images) == 1 and "TEXCOORD_0" in doc.gltf["meshes"][0]["primitives"][0]["attributes"]
    report = json.loads(rep.read_text())
    assert report["output"]["texture_size"] == 256
    # the atlas and the rest of the hand-off count in the reported time (they were left out)
    seconds = report["seconds"]
    assert seconds["texture"] > 0 and seconds["handoff"] >= seconds["texture"]
    stages = sum(v for k, v in seconds.items() if k not in ("total", "texture"))
    assert seconds["total"] >= stages - 0.01


def test_the_atlas_stages_are_reported_as_progress(ball: Mesh, tmp_path: Path) -> None:
    """UV charting is one long call: it gets a progress stage of its own (the CLI shows it), and its time."""
    stages: list[str] = []

    class Recorder:
        def start(self, stage: str, total: int | None) -> None:
            stages.append(stage)

        def advance(self, amount: int = 1) -> None:
            pass

    rep = write_product(ball, tmp_path / "ball.glb", "ball", texture_size=128, progress=Recorder())
    assert [s.split(" (")[0] for s in stages] == ["UV charting", "texture baking", "optimizing"]
    assert rep.seconds["texture"] > 0 and rep.seconds["total"] >= rep.seconds["texture"]


def test_a_non_manifold_mesh_is_a_clear_error(ball: Mesh) -> None:
    # a fin: a third triangle on one of the ball's edges (Poisson surfaces of open clouds have such edges;
    # Open3D's UVAtlas crashes the process on this one, so it must be caught before charting)
    a, b = ball.triangles[0][:2]
    v = np.vstack([ball.vertices, (ball.vertices[a] + ball.vertices[b]) / 2 + 0.03])
    t = np.vstack([ball.triangles, [[a, b, len(ball.vertices)]]])
    mesh = Mesh(v, t, np.clip(0.5 + 4 * v, 0, 1), 0.005)
    with pytest.raises(HandoffError, match="texture: UV charting failed: the mesh is not manifold; run without"):
        bake_atlas(mesh, vertex_normals(v, t), 256)
