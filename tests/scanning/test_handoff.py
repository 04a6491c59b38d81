"""Hand-off to the asset pipeline: the GLB keeps geometry, size and vertex colors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from scanning.handoff import vertex_normals, write_product
from scanning.mesh import Mesh


def _mesh() -> Mesh:
    m = o3d.geometry.TriangleMesh.create_sphere(0.1, 30)
    v = np.asarray(m.vertices) + np.array([0, 0.1, 0])
    return Mesh(v, np.asarray(m.triangles).astype(np.int64), np.clip(0.5 + 2 * np.asarray(m.vertices), 0, 1))


def test_glb_keeps_size_and_vertex_colors(tmp_path: Path) -> None:
    import json
    import struct

    out = tmp_path / "p.glb"
    rep = write_product(_mesh(), out, name="ball")
    assert out.is_file() and rep.bytes == out.stat().st_size
    assert rep.dimensions_m == pytest.approx([0.2, 0.2, 0.2], rel=0.01)
    data = out.read_bytes()
    assert data[:4] == b"glTF"
    (length,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20:20 + length])
    attrs = gltf["meshes"][0]["primitives"][0]["attributes"]
    assert {"POSITION", "NORMAL", "COLOR_0"} <= set(attrs)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_vertex_normals_point_outwards() -> None:
    m = _mesh()
    n = vertex_normals(m.vertices, m.triangles)
    radial = m.vertices - [0, 0.1, 0]
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    assert np.min(np.sum(n * radial, axis=1)) > 0.95
