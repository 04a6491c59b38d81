"""Flat-shaded normals (issue 15, Wuson.ply): a NORMAL that only repeats the face normals is dropped so the
vertices weld (and simplify); the USDZ writer and the renderer shade such a mesh flat themselves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.document import AssetDocument
from assets_pipeline.geometry import face_normals, normals_are_flat
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import WriteOptions, write_glb
from assets_pipeline.pipeline import DEFAULTS, optimize_file
from assets_pipeline.render import mesh_items, shade

from .conftest import validate_ok

CORNERS = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float64)
QUADS = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]  # outward, CCW


def flat_cube(normals: bool = True) -> AssetDocument:
    """A unit cube as a flat-shaded export writes it: four vertices of its own per face, each with the face's
    normal (24 vertices, 12 triangles, no vertex shared between faces)."""
    points, tris, norms = [], [], []
    for quad in QUADS:
        base = len(points)
        points += [CORNERS[i] for i in quad]
        tris += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
        n = np.cross(CORNERS[quad[1]] - CORNERS[quad[0]], CORNERS[quad[2]] - CORNERS[quad[0]])
        norms += [n / np.linalg.norm(n)] * 4
    return AssetDocument.from_mesh_arrays(np.array(points), np.array(tris, np.uint32),
                                          normals=np.array(norms) if normals else None)


def _attributes(path: Path) -> tuple[set[str], int]:
    doc = read(path)
    (prim,) = [p for _, _, p in doc.primitives()]
    return set(prim["attributes"]), doc.accessors[prim["attributes"]["POSITION"]].count


def test_flat_normals_are_recognised_and_smooth_ones_are_not(corpus: Path) -> None:
    cube = flat_cube()
    prim = next(cube.primitives())[2]
    pos = cube.accessors[prim["attributes"]["POSITION"]].as_float()
    tri = cube.accessors[prim["indices"]].array.reshape(-1, 3)
    flat = cube.accessors[prim["attributes"]["NORMAL"]].as_float()
    assert normals_are_flat(flat, pos, tri)
    rotated = flat @ np.array([[1, 0, 0], [0, np.cos(0.05), -np.sin(0.05)], [0, np.sin(0.05), np.cos(0.05)]])
    assert not normals_are_flat(rotated, pos, tri)  # 2.9 degrees off: not flat shading
    np.testing.assert_allclose(face_normals(pos, tri), flat[tri[:, 0]], atol=1e-6)


def test_flat_cube_loses_normal_welds_and_validates(tmp_path: Path) -> None:
    src = tmp_path / "cube.glb"
    write_glb(flat_cube(), src, WriteOptions(compression="none"))
    out = tmp_path / "out.glb"
    report = optimize_file(src, out, validate=True)
    validate_ok([out])
    attrs, vertices = _attributes(out)
    assert "NORMAL" not in attrs and vertices == 8  # welded by position: every corner shared by three faces
    assert report.flat_normals_dropped == 1
    assert any(s.name == "flat normals" for s in report.steps)


def test_normals_kept_when_asked_for_or_smooth(corpus: Path, tmp_path: Path) -> None:
    src = tmp_path / "cube.glb"
    write_glb(flat_cube(), src, WriteOptions(compression="none"))
    for i, options in enumerate([replace(DEFAULTS, generate_normals=True), replace(DEFAULTS, keep_attributes=True),
                                 replace(DEFAULTS, generate_tangents=True)]):
        out = tmp_path / f"kept{i}.glb"
        assert optimize_file(src, out, options).flat_normals_dropped == 0
        assert "NORMAL" in _attributes(out)[0]
    smooth = tmp_path / "suzanne.glb"
    report = optimize_file(corpus / "models" / "suzanne.obj", smooth)
    assert report.flat_normals_dropped == 0 and "NORMAL" in _attributes(smooth)[0]


def test_morph_target_normals_and_tangents_keep_the_normals(tmp_path: Path) -> None:
    doc = flat_cube()
    prim = next(doc.primitives())[2]
    n = doc.accessors[prim["attributes"]["POSITION"]].count
    prim["targets"] = [{"POSITION": doc.add_accessor(np.full((n, 3), 0.1, np.float32)),
                        "NORMAL": doc.add_accessor(np.full((n, 3), 0.1, np.float32))}]
    doc.gltf["meshes"][0]["weights"] = [0.0]
    src = tmp_path / "morphed.glb"
    write_glb(doc, src, WriteOptions(compression="none"))
    assert optimize_file(src, tmp_path / "morphed_out.glb").flat_normals_dropped == 0
    assert "NORMAL" in _attributes(tmp_path / "morphed_out.glb")[0]


def test_usdz_of_a_mesh_without_normals_has_face_normals(tmp_path: Path) -> None:
    pytest.importorskip("pxr", reason="usd-core is a dependency of the USDZ writer")
    from pxr import Usd, UsdGeom, UsdValidation

    from assets_pipeline.io.usdz import write_usdz

    src = tmp_path / "cube.glb"
    write_glb(flat_cube(), src, WriteOptions(compression="none"))
    optimize_file(src, tmp_path / "out.glb")
    write_usdz(read(tmp_path / "out.glb"), tmp_path / "out.usdz")
    stage = Usd.Stage.Open(str(tmp_path / "out.usdz"))
    (mesh,) = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    pv = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("normals")
    assert pv and pv.GetInterpolation() == UsdGeom.Tokens.uniform
    normals = np.array(pv.Get())
    points = np.array(mesh.GetPointsAttr().Get(), np.float64)
    faces = np.array(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)
    assert len(normals) == len(faces) == 12
    np.testing.assert_allclose(normals, face_normals(points, faces), atol=1e-5)
    centre = points.mean(axis=0)
    assert (np.einsum("ij,ij->i", normals, points[faces].mean(axis=1) - centre) > 0).all()  # outwards
    validators = list(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    assert [e.GetMessage() for e in errors if e.GetType() == UsdValidation.ValidationErrorType.Error] == []


def test_render_shades_a_mesh_without_normals_as_its_flat_normals() -> None:
    flat, = mesh_items(flat_cube())
    bare, = mesh_items(flat_cube(normals=False))
    assert flat.normals is not None and bare.normals is None
    tris = np.arange(12)
    bary = np.full((12, 3), 1 / 3)
    basis = np.eye(3)[[0, 1, 2]] @ np.array([[1, 0, 0], [0, 0.8, 0.6], [0, -0.6, 0.8]])  # looking down a little
    owner = np.zeros(12, np.int32)
    a = shade([flat], flat.triangles, owner, tris, bary, flat.points[:, :2], basis)
    b = shade([bare], bare.triangles, owner, tris, bary, bare.points[:, :2], basis)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert len(np.unique(np.round(a[:, 0], 4))) >= 3  # the faces are shaded differently (flat, not one colour)
