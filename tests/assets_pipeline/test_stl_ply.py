"""STL (binary, ASCII) and PLY (including triangle strips) readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.errors import InvalidAsset
from assets_pipeline.io.formats import read
from assets_pipeline.scene import bounds

from .geometry import area


def test_stl_binary_and_ascii_match_their_sources(corpus: Path) -> None:
    m = corpus / "models"
    for stl, obj in (("teapot_binary.stl", "teapot.obj"), ("suzanne_ascii.stl", "suzanne.obj")):
        a, b = read(m / stl), read(m / obj)
        assert a.triangle_count() == b.triangle_count()
        np.testing.assert_allclose(np.array(bounds(a)), np.array(bounds(b)), atol=1e-5)
        assert area(a) == pytest.approx(area(b), rel=1e-3)  # non-planar quads may split the other way


def test_ply_triangle_strips(corpus: Path) -> None:
    doc = read(corpus / "models" / "igea.ply")
    prim = next(doc.primitives())[2]
    n = doc.accessors[prim["attributes"]["POSITION"]].count
    idx = doc.accessors[prim["indices"]].array
    assert n == 134345
    assert doc.triangle_count() > 250_000  # a surface, not the bare point cloud other readers see
    assert len(np.unique(idx)) > 0.99 * n
    tri = idx.reshape(-1, 3)
    assert (tri[:, 0] != tri[:, 1]).all() and (tri[:, 1] != tri[:, 2]).all()


def test_ply_ascii_with_colors_and_polygons(tmp_path: Path) -> None:
    p = tmp_path / "quad.ply"
    p.write_text(
        "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nelement face 1\n"
        "property list uchar int vertex_indices\nend_header\n"
        "0 0 0 255 0 0\n1 0 0 0 255 0\n1 1 0 0 0 255\n0 1 0 255 255 255\n4 0 1 2 3\n")
    doc = read(p)
    assert doc.triangle_count() == 2
    prim = next(doc.primitives())[2]
    assert doc.accessors[prim["attributes"]["COLOR_0"]].array.dtype == np.uint8
    assert area(doc) == pytest.approx(1.0)


@pytest.mark.parametrize("text,problem", [
    ("solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\nendsolid\n",
     "not a whole number of triangles"),
    ("solid x\nendsolid x\n", "no triangles"),
])
def test_bad_ascii_stl(tmp_path: Path, text: str, problem: str) -> None:
    p = tmp_path / "bad.stl"
    p.write_text(text)
    with pytest.raises(InvalidAsset, match=problem):
        read(p)


def test_truncated_binary_stl(tmp_path: Path, corpus: Path) -> None:
    data = (corpus / "models" / "teapot_binary.stl").read_bytes()
    p = tmp_path / "cut.stl"
    p.write_bytes(data[:5000])
    with pytest.raises(InvalidAsset, match="truncated binary STL"):
        read(p)


def test_ply_point_cloud_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "cloud.ply"
    p.write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                 "end_header\n0 0 0\n1 0 0\n0 1 0\n")
    with pytest.raises(InvalidAsset, match="point cloud"):
        read(p)
