"""Poisson surfaces from clouds with and without normals; the cloud pipeline end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from scanning.clouds import PointCloud, validate_cloud
from scanning.metrics import compare, is_watertight
from scanning.reconstruct import CloudOptions, reconstruct_cloud
from scanning.surface import poisson


def _sphere_cloud(n: int = 8000, normals: bool = True) -> PointCloud:
    d = np.random.default_rng(0).normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return validate_cloud(0.1 * d, d if normals else None)


@pytest.mark.parametrize("normals", [True, False])
def test_poisson_sphere(normals: bool) -> None:
    cloud = _sphere_cloud(normals=normals)
    mesh = poisson(cloud)
    ref = o3d.geometry.TriangleMesh.create_sphere(0.1, 60)
    acc = compare(mesh.vertices, mesh.triangles, np.asarray(ref.vertices), np.asarray(ref.triangles),
                  samples=20_000)
    assert acc.fscore_1 > 0.97
    assert np.all(np.isfinite(mesh.vertices))


def test_cloud_on_a_table_to_a_standing_watertight_mesh(bunny_capture, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from scanning.region import backproject

    chunks = []
    for depth, pose in zip(bunny_capture.depths[::2], bunny_capture.poses[::2], strict=True):
        pts, _ = backproject(depth, bunny_capture.intrinsics, 2)
        world = pts @ pose[:3, :3].T + pose[:3, 3]
        chunks.append(world[np.linalg.norm(world[:, :2], axis=1) < 0.2])
    path = tmp_path / "scan.ply"
    o3d.io.write_point_cloud(str(path), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.vstack(chunks))))
    mesh, rep = reconstruct_cloud(path, CloudOptions(up="z"))
    assert rep.watertight and is_watertight(mesh.triangles)
    truth_ext = np.ptp(bunny_capture.truth_vertices, axis=0)  # z-up truth; the mesh is y-up
    assert np.allclose(rep.dimensions_m, [truth_ext[0], truth_ext[2], truth_ext[1]], rtol=0.05)
    assert mesh.vertices[:, 1].min() == pytest.approx(0.0, abs=1e-9)


def test_colourless_cloud_gives_no_vertex_colours(tmp_path: Path) -> None:
    """A laser range scan has no colours: Open3D's Poisson gave its mesh all-black vertex colours and the product
    was published black. Without colour the mesh has none, and the document a neutral material, no COLOR_0."""
    from scanning.handoff import to_document

    mesh = poisson(_sphere_cloud())
    assert mesh.colors is None
    doc = to_document(mesh, texture_size=256)  # nothing to bake: no atlas (it raised "no vertex colors to bake")
    assert not doc.images
    (prim,) = [p for _, _, p in doc.primitives()]
    assert "COLOR_0" not in prim["attributes"]
    base = doc.gltf["materials"][prim["material"]].get("pbrMetallicRoughness", {}).get("baseColorFactor", [1] * 4)
    assert min(base[:3]) >= 0.5
    cloud = _sphere_cloud()
    red = PointCloud(cloud.points, cloud.normals, np.tile([0.8, 0.1, 0.1], (len(cloud.points), 1)), cloud.source)
    coloured = poisson(red)  # a cloud with colours keeps them
    assert coloured.colors is not None and np.allclose(coloured.colors.mean(axis=0), [0.8, 0.1, 0.1], atol=0.05)
    path = tmp_path / "scan.ply"
    o3d.io.write_point_cloud(str(path), cloud.to_open3d())
    mesh, _ = reconstruct_cloud(path, CloudOptions())
    assert mesh.colors is None
