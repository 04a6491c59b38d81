from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from scanning.metrics import compare, fscore, is_watertight, sample_surface


def _sphere() -> tuple[np.ndarray, np.ndarray]:
    m = o3d.geometry.TriangleMesh.create_sphere(0.1, 40)
    return np.asarray(m.vertices), np.asarray(m.triangles)


def test_identical_meshes_score_perfectly() -> None:
    v, f = _sphere()
    acc = compare(v, f, v, f, samples=20_000)
    assert acc.fscore_05 > 0.99 and acc.fscore_1 == pytest.approx(1.0)
    assert acc.chamfer < 0.001 * acc.diagonal and acc.dimension_error == pytest.approx(0.0)


def test_shift_between_the_two_thresholds() -> None:
    v, f = _sphere()
    diag = float(np.linalg.norm(np.ptp(v, axis=0)))
    moved = v + np.array([0.0075 * diag, 0, 0])  # 0.75 % of the diagonal: beyond 0.5 %, within 1 % for most points
    acc = compare(moved, f, v, f, samples=20_000)
    assert acc.fscore_05 < 0.7 < acc.fscore_1
    assert acc.chamfer == pytest.approx(0.0075 * diag * 2 / np.pi, rel=0.25)  # mean |cos| of a sphere shift


def test_dimension_error_is_the_worst_axis() -> None:
    v, f = _sphere()
    acc = compare(v * [1.0, 1.0, 1.03], f, v, f, samples=5000)
    assert acc.dimension_error == pytest.approx(0.03, abs=1e-6)


def test_fscore_formula() -> None:
    f, p, r = fscore(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0]), 0.5)
    assert (p, r) == (0.5, 0.5) and f == pytest.approx(0.5)


def test_uniform_sampling_stays_on_the_surface() -> None:
    v, f = _sphere()
    pts = sample_surface(v, f, 1000)
    assert np.allclose(np.linalg.norm(pts, axis=1), 0.1, atol=0.002)


def test_watertight() -> None:
    box = o3d.geometry.TriangleMesh.create_box()
    f = np.asarray(box.triangles)
    assert is_watertight(f)
    assert not is_watertight(f[1:])
    assert not is_watertight(np.concatenate([f, f[:1]]))
    flipped = f.copy()
    flipped[0] = flipped[0, ::-1]
    assert not is_watertight(flipped)
