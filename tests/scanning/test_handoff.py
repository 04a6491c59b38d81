"""Hand-off to the asset pipeline: the GLB keeps geometry, size and vertex colors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from assets_pipeline.geometry import vertex_normals
from scanning.handoff import write_product
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


def test_handoff_uses_the_asset_pipelines_public_api_only() -> None:
    """No glTF samplers or textures built by hand, no reach into the catalog repository or publish's checks."""
    import ast

    source = (Path(__file__).resolve().parents[2] / "scanning" / "handoff.py").read_text()
    assert '"samplers"' not in source and '"textures"' not in source
    modules = {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    names = {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not [m for m in modules if m and m.startswith(("assets_pipeline.catalog.repository", "assets_pipeline.io",
                                                          "assets_pipeline.transforms"))], modules  # fmt: skip
    assert "check_sku" not in names and "read" not in names  # nothing is read back


def test_a_texture_atlas_document_is_built_with_the_public_document_api() -> None:
    from assets_pipeline.document import CLAMP_TO_EDGE, LINEAR_MIPMAP_LINEAR, AssetDocument, Image

    doc = AssetDocument.from_mesh_arrays(np.zeros((3, 3)), np.array([[0, 1, 2]]), texcoords=np.zeros((3, 2)),
                                         texture=Image(b"png", "image/png", "atlas"), texture_wrap=CLAMP_TO_EDGE)
    pbr = doc.gltf["materials"][0]["pbrMetallicRoughness"]
    assert pbr["baseColorTexture"] == {"index": 0} and pbr["metallicFactor"] == 0.0
    assert doc.gltf["textures"] == [{"source": 0, "sampler": 0}] and len(doc.images) == 1
    assert doc.gltf["samplers"][0]["wrapS"] == CLAMP_TO_EDGE and doc.gltf["samplers"][0]["minFilter"] == (
        LINEAR_MIPMAP_LINEAR)
