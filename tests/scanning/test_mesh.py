from __future__ import annotations

import numpy as np

from scanning.mesh import Mesh


def test_compact_drops_unused_vertices_and_keeps_colors() -> None:
    v = np.arange(15, dtype=float).reshape(5, 3)
    m = Mesh(v, np.array([[0, 2, 4]]), v / 15)
    c = m.compact()
    assert np.array_equal(c.vertices, v[[0, 2, 4]]) and np.array_equal(c.triangles, [[0, 1, 2]])
    assert c.colors is not None and np.allclose(c.colors, v[[0, 2, 4]] / 15)


def test_open3d_roundtrip() -> None:
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    m = Mesh(v, np.array([[0, 1, 2]]), np.full((3, 3), 0.25), voxel=0.01)
    back = Mesh.from_open3d(m.to_open3d(), m.voxel)
    assert np.allclose(back.vertices, v) and np.array_equal(back.triangles, m.triangles)
    assert back.colors is not None and np.allclose(back.colors, 0.25) and back.voxel == 0.01
    assert np.allclose(m.extent, [1, 1, 0])
