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


def _ply_with_face_props(fmt: str, faces: list[list[int]]) -> bytes:
    """Four vertices and ``faces``, each face with a flag before its index list and a colour after it (as VCGLIB
    and MeshLab write them), in ``fmt`` (ascii, binary_little_endian or binary_big_endian)."""
    head = (f"ply\nformat {fmt} 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
            f"element face {len(faces)}\nproperty uchar flags\nproperty list uchar int vertex_indices\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n").encode()
    corners = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0.25)]
    if fmt == "ascii":
        body = "".join(" ".join(map(str, c)) + "\n" for c in corners)
        body += "".join(f"7 {len(f)} {' '.join(map(str, f))} 10 20 30\n" for f in faces)
        return head + body.encode()
    o = "<" if fmt == "binary_little_endian" else ">"
    body = b"".join(np.array(c, o + "f4").tobytes() for c in corners)
    for f in faces:
        body += bytes([7, len(f)]) + np.array(f, o + "i4").tobytes() + bytes([10, 20, 30])
    return head + body


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian"])
@pytest.mark.parametrize("faces", [[[0, 1, 2], [0, 2, 3]], [[0, 1, 2, 3]], [[0, 1, 2], [0, 2, 3, 1]]])
def test_ply_binary_faces_with_colours_read_as_ascii(tmp_path: Path, fmt: str, faces: list[list[int]]) -> None:
    ascii_path, binary_path = tmp_path / "a.ply", tmp_path / "b.ply"
    ascii_path.write_bytes(_ply_with_face_props("ascii", faces))
    binary_path.write_bytes(_ply_with_face_props(fmt, faces))
    a, b = read(ascii_path), read(binary_path)
    pa, pb = next(a.primitives())[2], next(b.primitives())[2]
    np.testing.assert_array_equal(a.accessors[pa["indices"]].array, b.accessors[pb["indices"]].array)
    np.testing.assert_array_equal(a.accessors[pa["attributes"]["POSITION"]].array,
                                  b.accessors[pb["attributes"]["POSITION"]].array)


def test_ply_binary_triangles_with_face_colours_read_in_one_block() -> None:
    from assets_pipeline.io import ply

    data = _ply_with_face_props("binary_big_endian", [[0, 1, 2], [0, 2, 3], [3, 2, 1]])
    _, elements, offset = ply._header(Path("t.ply"), data)
    _, offset = ply._read_binary(elements[0], data, offset, ">", Path("t.ply"))
    face, end = ply._read_binary(elements[1], data, offset, ">", Path("t.ply"))
    assert end == len(data)
    assert list(face) == ["flags", "vertex_indices", "red", "green", "blue"]
    assert isinstance(face["vertex_indices"], np.ndarray)  # one block, not a list of rows
    np.testing.assert_array_equal(face["vertex_indices"], [[0, 1, 2], [0, 2, 3], [3, 2, 1]])
    np.testing.assert_array_equal(face["blue"], [30, 30, 30])
    np.testing.assert_array_equal(face["flags"], [7, 7, 7])
