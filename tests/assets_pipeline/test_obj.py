"""OBJ/MTL reading on the obj2gltf edge cases and the corpus models."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_pipeline.errors import InvalidAsset
from assets_pipeline.io.formats import read

from .geometry import area, volume


@pytest.fixture(scope="module")
def edge(corpus: Path) -> Path:
    return corpus / "obj_edge_cases"


def test_negative_indices_give_the_whole_box(edge: Path) -> None:
    doc = read(edge / "box-negative-indices" / "box-negative-indices.obj")
    assert doc.triangle_count() == 12
    assert volume(doc) == pytest.approx(8.0, rel=1e-6)  # a 2 x 2 x 2 cube, not half of it


def test_concave_faces_are_ear_clipped(edge: Path) -> None:
    doc = read(edge / "concave" / "concave.obj")
    # a prism over a concave pentagon: 4 minus the notch triangle, times the height
    notch = 0.5 * 2.0 * (0.541850 + 0.336510)
    height = 2 * 0.363522
    assert volume(doc) == pytest.approx((4.0 - notch) * height, rel=1e-4)


def test_windows_paths_and_texture_options(edge: Path) -> None:
    doc = read(edge / "box-windows-paths" / "box-windows-paths.obj")
    assert len(doc.images) == 1 and doc.images[0].mime_type == "image/png"
    assert doc.gltf["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"] == {"index": 0}
    doc = read(edge / "box-texture-options" / "box-texture-options.obj")
    mat = doc.gltf["materials"][0]
    assert "baseColorTexture" in mat["pbrMetallicRoughness"] and "emissiveTexture" in mat
    assert mat["alphaMode"] == "BLEND" and mat["pbrMetallicRoughness"]["baseColorFactor"][3] == pytest.approx(0.9)
    assert any("height (bump) map" in w for w in doc.warnings)


def test_mtllib_names_with_spaces(edge: Path) -> None:
    doc = read(edge / "box-mtllib-spaces" / "box mtllib.obj")
    colors = {m["name"]: m["pbrMetallicRoughness"]["baseColorFactor"][:3] for m in doc.gltf["materials"]}
    assert set(colors) == {"Red", "Green", "Blue"}
    assert colors["Red"][0] > 0.5 and colors["Red"][1] < 0.1
    assert not doc.warnings


def test_incomplete_attributes(edge: Path) -> None:
    folder = edge / "box-incomplete-attributes"
    with pytest.raises(InvalidAsset, match="refers to vertex 8, but only 1 vertices"):
        read(folder / "box-incomplete-positions.obj")
    normals = read(folder / "box-incomplete-normals.obj")
    assert any("normals" in w and "dropped" in w for w in normals.warnings)
    assert all("NORMAL" not in p["attributes"] for _, _, p in normals.primitives())
    uvs = read(folder / "box-incomplete-uvs.obj")
    assert any("texture coordinates" in w for w in uvs.warnings)
    assert volume(uvs) == pytest.approx(8.0, rel=1e-6)


def test_groups_and_multiple_materials(edge: Path) -> None:
    doc = read(edge / "box-groups" / "box-groups.obj")
    assert doc.triangle_count() == 36 and len(doc.gltf["materials"]) == 3
    doc = read(edge / "box-multiple-materials" / "box-multiple-materials.obj")
    assert len(list(doc.primitives())) == len(doc.gltf["materials"]) > 1


def test_corpus_obj_counts(corpus: Path) -> None:
    bunny = read(corpus / "models" / "stanford-bunny.obj")
    assert bunny.triangle_count() == 69451
    beast = read(corpus / "models" / "beast.obj")  # quads with texture coordinates
    assert beast.triangle_count() == 64618 and "TEXCOORD_0" in next(beast.primitives())[2]["attributes"]
    assert area(beast) > 0


def test_nan_vertex_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "nan.obj"
    bad.write_text("v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(InvalidAsset, match=r"nan\.obj: v: v holds NaN"):
        read(bad)


def _polygon_obj(path: Path, xy: object) -> Path:
    import numpy as np

    pts = np.asarray(xy, float)
    lines = [f"v {x:.6f} {y:.6f} 0" for x, y in pts] + ["f " + " ".join(str(i + 1) for i in range(len(pts)))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _signed_areas(doc: object) -> object:
    import numpy as np

    from assets_pipeline.scene import world_triangles

    v, f = world_triangles(doc)  # type: ignore[arg-type]
    p = np.asarray(v, np.float64)[:, :2]
    a, b, c = p[f[:, 0]], p[f[:, 1]], p[f[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def test_big_concave_polygons_are_ear_clipped(tmp_path: Path) -> None:
    """A 15,000-corner polygon took 230 s (pure-Python ear clipping after rounding failed the convexity test):
    a rounded circle (repeated and collinear corners) and a star (half its corners reflex) come out as n - 2
    triangles, all facing the polygon's way, covering exactly its area."""
    import numpy as np

    n = 15_000
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1 + 0.3 * np.random.default_rng(0).random(n)
    for name, xy in (("circle", np.round(np.c_[np.cos(th), np.sin(th)] * 1000)),
                     ("star", np.c_[np.cos(th) * r, np.sin(th) * r])):
        doc = read(_polygon_obj(tmp_path / f"{name}.obj", xy))
        areas = _signed_areas(doc)
        x, y = xy[:, 0], xy[:, 1]
        shoelace = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
        assert doc.triangle_count() == n - 2
        assert (areas >= -1e-9 * abs(shoelace)).all() and np.isclose(areas.sum(), shoelace, rtol=1e-6)  # type: ignore[union-attr]


def test_polygon_past_the_corner_limit_is_refused(tmp_path: Path) -> None:
    import numpy as np

    from assets_pipeline.errors import LimitExceeded
    from assets_pipeline.io.polygons import MAX_POLYGON_CORNERS, triangulate

    n = MAX_POLYGON_CORNERS + 1
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.c_[np.cos(th), np.sin(th)] * (1 + 0.1 * (np.arange(n) % 2))[:, None]  # concave: not fanned
    with pytest.raises(LimitExceeded, match=r"big.obj: f: face 1: polygon corners 50,001 exceeds the limit of 50,000"):
        read(_polygon_obj(tmp_path / "big.obj", xy))  # refused before the corners are parsed
    with pytest.raises(LimitExceeded, match=r"faces: polygon corners 50,001 exceeds the limit of 50,000"):
        triangulate(list(range(n)), np.c_[xy, np.zeros(n)])  # PLY polygon lists go through here


def _scan_like_obj(path: Path, side: int) -> Path:
    """A side x side grid of a bumpy surface as positions and triangles, like a scan export."""
    import numpy as np

    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    pos = np.stack([i / side, j / side, 0.01 * np.sin(i * 0.3) * np.cos(j * 0.2)], -1).reshape(-1, 3)
    a = (i[:-1, :-1] * side + j[:-1, :-1]).reshape(-1) + 1
    tris = np.stack([np.stack([a, a + side, a + 1], 1), np.stack([a + 1, a + side, a + side + 1], 1)], 1)
    with path.open("w") as f:
        np.savetxt(f, pos, fmt="v %.6f %.6f %.6f")
        np.savetxt(f, tris.reshape(-1, 3), fmt="f %d %d %d")
    return path


def test_large_obj_is_streamed_into_arrays(tmp_path: Path) -> None:
    """A 200k-triangle OBJ is read in blocks: peak traced memory stays within twice the output arrays plus a
    fixed number of blocks (the earlier reader, which held the text and a Python string per line, peaked at
    29x the output arrays here, 106 MB against 30 MB now)."""
    import tracemalloc

    from assets_pipeline.io.obj import CHUNK_BYTES

    path = _scan_like_obj(tmp_path / "scan.obj", 317)  # 2 * 316^2 = 199,712 triangles, 6.9 MB
    tracemalloc.start()
    try:
        doc = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out = sum(a.array.nbytes for a in doc.accessors)
    assert doc.triangle_count() == 2 * 316**2
    assert peak <= 2 * out + 32 * CHUNK_BYTES, (peak, out)


def test_blocks_and_line_by_line_parsing_agree(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny blocks (lines cut everywhere), and the line-by-line parser the odd blocks fall back to, give the same
    document as the default blocks, on files with materials, negative indices, polygons and CRLF."""
    import numpy as np

    from assets_pipeline.io import obj

    mixed = tmp_path / "mixed.obj"
    mixed.write_bytes(b"mtllib none.mtl\r\no mixed\r\nv 0 0 0\r\nv 1 0 0 0.5 0.5 0.5\r\nv 1 1 0\r\nv 0 1 0\r\n"
                      b"vt 0 0\r\nvt 1 0\r\nvt 1 1\r\nvt 0 1\r\nvn 0 0 1\r\nusemtl a\r\n"
                      b"f 1/1/1 2/2/1 3/3/1 4/4/1\r\nusemtl b\r\nf -4/-4/-1 -2/-2/-1 -1/-1/-1\r\ng x\r\n"
                      b"s 1\r\nv 0 0 1\r\nf 1/1/1 2/2/1 5/1/1\r\nl 1 2\r\n")
    files = [mixed, corpus / "obj_edge_cases" / "box-negative-indices" / "box-negative-indices.obj",
             corpus / "obj_edge_cases" / "box-multiple-materials" / "box-multiple-materials.obj",
             _scan_like_obj(tmp_path / "grid.obj", 40)]

    def summary(path: Path) -> tuple[object, ...]:
        doc = read(path)
        return (doc.gltf.get("meshes"), doc.warnings, [(a.array.dtype.str, a.array.tobytes()) for a in doc.accessors])

    expected = {p: summary(p) for p in files}
    monkeypatch.setattr(obj, "CHUNK_BYTES", 61)
    for p in files:
        assert summary(p) == expected[p], p.name
    monkeypatch.setattr(obj._Parser, "_fast", lambda self, chunk: None)
    for p in files:
        assert summary(p) == expected[p], p.name
    # 5 corners: position, uv, normal (no colors: not every v line has them); 2 triangles per material
    assert [np.frombuffer(b, np.dtype(t)).size for t, b in expected[mixed][2]] == [15, 10, 15, 6, 6]  # type: ignore[index]


_ODD_BLOCKS = [
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1//1 2//1 3//1\nf 2//1 4//1 3//1\nvn 0 0 1\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\nf 1/1/ 2/2/ 3/3/\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2/2 3/3\nf 1//1 2//1 3//1\nvt 0 0\nvn 0 0 1\n",
    b"v\t0  0 0 \r\nv 1\t0 0\r\nv 0 1 0\r\nf 1  2 3 \r\nf\t3 2 1\r\nf 1 2 3\r\n",
    b"v 0 0 0\rv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 1 2\r3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1-2 3 1\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 99999999999999999999 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf -9223372036854775809 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\nf -1 -2 -3\nv 1 1 1\nf -4 -3 -1\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 0 2 3\n",
    b"v 0 0\nv 1 0\nv 0 1\nf 1 2 3\n",
    b"v 0 0 0 1 0\nv 1 0 0 1 0\nv 0 1 0 1 0\nf 1 2 3\n",
    b"v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1 1\nf 1 2 3\n",
    b"v 0 0 0 1 0 0 1\nv 1 0 0 0 1 0 1\nv 0 1 0 0 0 1 1\nf 1 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0 0\nvt 1 0 0\nvt 0 1 0\nvt0.5 0.5\nf 1/1 2/2 3/3\n",
    b"v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 1e999 1 0\nf 1 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 4 3\nf 1 2 4 3\nf 1 2 4\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2\nf 1 2\nf 1 2\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 3.5\nf 1e0 2 3\nf +1 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1_0 0\nf 1 2 3\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 3 \xc2\x85\nf 1 2 3\n",
]


@pytest.mark.parametrize("text", _ODD_BLOCKS, ids=range(len(_ODD_BLOCKS)))
def test_uniform_blocks_and_line_by_line_parsing_agree(text: bytes, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks whose lines all look alike are parsed in one go (``_Parser._uniform``); on blocks that only nearly
    look alike (``//`` against ``/``, lone CR, ``1-2``, indices past int64, too few numbers, NaN, ``vt0.5``,
    NEL) the document or the error is the one of the general block parser and of the line-by-line parser."""
    from assets_pipeline.io import obj

    path = tmp_path / "odd.obj"
    path.write_bytes(text)

    def outcome() -> object:
        try:
            doc = read(path)
        except InvalidAsset as exc:
            return str(exc)
        return (doc.gltf.get("meshes"), doc.warnings, [(a.array.dtype.str, a.array.tobytes()) for a in doc.accessors])

    uniform = []
    original = obj._Parser._uniform

    def counted(self: obj._Parser, chunk: bytes) -> object:
        uniform.append(True)  # stays True when the block is parsed (or refused) here
        out = original(self, chunk)
        uniform[-1] = out is not None
        return out

    for size in (17, 40, 1 << 20):  # the same blocks in each of the three parsers
        monkeypatch.setattr(obj, "CHUNK_BYTES", size)
        monkeypatch.setattr(obj._Parser, "_uniform", counted)
        results = [outcome()]
        monkeypatch.setattr(obj._Parser, "_uniform", lambda self, chunk: None)
        results.append(outcome())
        monkeypatch.setattr(obj._Parser, "_fast", lambda self, chunk: None)
        results.append(outcome())
        monkeypatch.undo()
        assert results[1] == results[0] and results[2] == results[0], (size, results)
    assert any(uniform)  # small blocks of v lines alone or f lines alone were parsed (or refused) in one go


def test_scan_export_blocks_are_parsed_in_one_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every block of a scan-like export but the one where v lines give way to f lines is parsed in one go."""
    from assets_pipeline.io import obj

    path = _scan_like_obj(tmp_path / "scan.obj", 120)
    expected = read(path)
    calls: list[bool] = []
    original = obj._Parser._uniform

    def counted(self: obj._Parser, chunk: bytes) -> object:
        out = original(self, chunk)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(obj, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(obj._Parser, "_uniform", counted)
    doc = read(path)
    assert calls.count(False) <= 2 and len(calls) > 50, calls
    assert [a.array.tobytes() for a in doc.accessors] == [a.array.tobytes() for a in expected.accessors]
