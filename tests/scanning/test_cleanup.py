"""Cleanup steps on meshes and clouds whose right answer is known."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from scanning.cleanup import (
    CleanupOptions,
    boundary_loops,
    clean,
    fill_small_holes,
    keep_main_component,
    remove_outliers,
    remove_table,
    simplify,
    to_y_up,
)
from scanning.clouds import PointCloud
from scanning.mesh import Mesh
from scanning.metrics import compare, is_watertight


def _sphere(radius: float = 0.1, res: int = 60, center: tuple[float, float, float] = (0, 0, 0.1)) -> Mesh:
    m = o3d.geometry.TriangleMesh.create_sphere(radius, res)
    m.translate(center)
    v = np.asarray(m.vertices)
    return Mesh(v, np.asarray(m.triangles).astype(np.int64), np.clip(0.5 + v, 0, 1))


def test_keep_main_component_drops_floaters() -> None:
    big, small = _sphere(), _sphere(0.01, 10, (0.5, 0, 0.1))
    both = Mesh(np.vstack([big.vertices, small.vertices]),
                np.vstack([big.triangles, small.triangles + len(big.vertices)]),
                np.vstack([big.colors, small.colors]))
    kept, removed = keep_main_component(both)
    assert removed == 1 and len(kept.triangles) == len(big.triangles) and len(kept.vertices) == len(big.vertices)
    assert np.ptp(kept.vertices[:, 0]) == pytest.approx(0.2, rel=1e-3)


def test_fill_small_holes_closes_them_and_keeps_colors() -> None:
    s = _sphere()
    holed = s.with_(triangles=np.delete(s.triangles, [100, 101, 102, 2000], axis=0))
    loops = boundary_loops(holed.triangles)
    assert len(loops) >= 2
    filled, count = fill_small_holes(holed, 60)
    assert count == len(loops) and is_watertight(filled.triangles)
    assert filled.colors is not None and len(filled.colors) == len(filled.vertices)
    assert np.all(np.isfinite(filled.vertices))
    assert np.linalg.norm(filled.vertices - [0, 0, 0.1], axis=1).max() <= 0.1 + 1e-9  # nothing flies off


def test_large_holes_are_left_alone() -> None:
    s = _sphere()
    z = s.vertices[s.triangles].mean(axis=1)[:, 2]
    cut = s.with_(triangles=s.triangles[z > 0.05])  # an open bottom much longer than 60 edges
    _, count = fill_small_holes(cut, 60)
    assert count == 0


@pytest.mark.parametrize("target", [20_000, 5_000, 1_000])
def test_simplify_keeps_watertight_shape_and_colors(target: int) -> None:
    s = _sphere(res=120)
    out = simplify(s, target)
    assert len(out.triangles) <= max(target * 1.5**3, target + 10)
    assert is_watertight(out.triangles) and out.colors is not None
    acc = compare(out.vertices, out.triangles, s.vertices, s.triangles, samples=20_000)
    assert acc.fscore_1 > 0.99


def test_to_y_up() -> None:
    m = Mesh(np.array([[1.0, 2.0, 3.0]]), np.zeros((0, 3), np.int64))
    assert np.allclose(to_y_up(m).vertices, [[1.0, 3.0, -2.0]])


def test_clean_reports_what_it_did() -> None:
    s = _sphere(res=80)
    mesh, rep = clean(s, CleanupOptions(target_triangles=3000))
    assert rep.watertight and rep.triangles_after <= 3000 * 1.5**3
    assert rep.dimensions == pytest.approx((0.2, 0.2, 0.2), rel=0.02)
    assert mesh.vertices[:, 1].min() == pytest.approx(0.0, abs=0.003)  # y-up, standing on y = 0


def _object_on_table(seed: int = 0) -> tuple[PointCloud, int]:
    rng = np.random.default_rng(seed)
    table = np.column_stack([rng.uniform(-0.4, 0.4, (6000, 2)), rng.normal(0, 0.0005, 6000)])
    d = rng.normal(size=(3000, 3))
    ball = 0.08 * d / np.linalg.norm(d, axis=1, keepdims=True) + [0, 0, 0.09]
    return PointCloud(np.vstack([table, ball])), 3000


def test_remove_table_finds_the_plane_under_the_object() -> None:
    cloud, n_obj = _object_on_table()
    rest, plane = remove_table(cloud)
    assert plane is not None and abs(plane.normal @ [0, 0, 1]) > 0.999 and plane.normal[2] > 0
    assert abs(plane.offset) < 0.002
    assert n_obj * 0.9 <= len(rest) <= n_obj


def test_no_table_no_plane() -> None:
    d = np.random.default_rng(2).normal(size=(3000, 3))
    cloud = PointCloud(d / np.linalg.norm(d, axis=1, keepdims=True))
    rest, plane = remove_table(cloud)
    assert plane is None and len(rest) == len(cloud)


def test_remove_outliers_keeps_the_object() -> None:
    cloud, _ = _object_on_table()
    obj, _ = remove_table(cloud)
    rng = np.random.default_rng(3)
    noisy = PointCloud(np.vstack([obj.points, rng.uniform(-1, 1, (40, 3)) + np.array([0, 0, 1.5])]))
    kept = remove_outliers(noisy)
    assert np.all(kept.points[:, 2] < 0.2)
    assert len(kept) >= 0.95 * len(obj)
