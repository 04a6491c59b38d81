"""USDZ export: reopen every package with usd-core, check units, extent, counts, materials, and run UsdValidation."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from assets_pipeline import AssetDocument, Image, optimize_file
from assets_pipeline.errors import AssetError, PipelineFailure
from assets_pipeline.io.formats import read
from assets_pipeline.io.usdz import write_usdz
from assets_pipeline.scene import bounds, world_triangles

pxr = pytest.importorskip("pxr", reason="usd-core is a dependency of the USDZ writer")
from pxr import Usd, UsdGeom, UsdShade, UsdValidation  # noqa: E402

MODELS = ["DamagedHelmet.glb", "BoxTextured/BoxTextured.gltf", "stanford-bunny.obj", "ShapeCollection.glb",
          "chr_knight.glb", "pirate.obj"]
OPTIMIZED = ["DamagedHelmet.glb", "BoxTextured/BoxTextured.gltf", "stanford-bunny.obj", "ShapeCollection.glb"]


@pytest.fixture(scope="module")
def validators() -> list[Any]:
    return list(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())


@pytest.fixture(scope="module")
def optimized_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each model through the default optimize (quantized + meshopt + WebP), written once for the module."""
    out = tmp_path_factory.mktemp("optimized")
    for name in OPTIMIZED:
        optimize_file(corpus / "models" / name, out / f"{Path(name).stem}.glb")
    return out


def validation_errors(stage: Any, validators: list[Any]) -> list[tuple[str, str]]:
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    return [(e.GetName(), e.GetMessage()) for e in errors if e.GetType() == UsdValidation.ValidationErrorType.Error]


def meshes(stage: Any) -> list[Any]:
    return [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]


def check_package(doc: AssetDocument, path: Path, validators: list[Any]) -> Any:
    stage = Usd.Stage.Open(str(path))
    assert stage is not None
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.y
    assert stage.GetDefaultPrim().GetPath() == "/Root"
    cache = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_])
    box = cache.ComputeWorldBound(stage.GetPseudoRoot()).ComputeAlignedRange()
    lo, hi = bounds(doc)
    np.testing.assert_allclose(np.array(box.GetSize()), hi - lo, rtol=0.01, atol=1e-6)
    np.testing.assert_allclose(np.array(box.GetMin()), lo, atol=0.01 * float(np.max(hi - lo)))
    faces = sum(len(m.GetFaceVertexCountsAttr().Get()) for m in meshes(stage))
    assert faces == len(world_triangles(doc)[1])  # per drawn instance (ShapeCollection reuses meshes)
    assert all(set(m.GetFaceVertexCountsAttr().Get()) == {3} for m in meshes(stage))
    assert validation_errors(stage, validators) == []
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert names[0].endswith(".usdc")
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            assert Path(info.filename).suffix in {".usdc", ".png", ".jpg"}
    return stage


@pytest.mark.parametrize("name", MODELS)
def test_corpus_model_to_usdz(corpus: Path, tmp_path: Path, validators: list[Any], name: str) -> None:
    doc = read(corpus / "models" / name)
    out = tmp_path / f"{Path(name).stem}.usdz"
    size = write_usdz(doc, out)
    assert size == out.stat().st_size > 0
    check_package(doc, out, validators)
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "temporary files left behind"


@pytest.mark.parametrize("name", OPTIMIZED)
def test_optimized_glb_to_usdz(optimized_dir: Path, tmp_path: Path, validators: list[Any], name: str) -> None:
    glb = optimized_dir / f"{Path(name).stem}.glb"
    doc = read(glb)
    out = tmp_path / f"{glb.stem}.usdz"
    write_usdz(doc, out)
    check_package(doc, out, validators)


def texture_files(stage: Any) -> dict[str, Any]:
    """Material input name (diffuseColor, normal, ...) -> resolved asset path of the texture feeding it."""
    found: dict[str, Any] = {}
    for prim in stage.Traverse():
        if not prim.IsA(UsdShade.Material):
            continue
        surface = UsdShade.Material(prim).ComputeSurfaceSource()[0]
        for inp in surface.GetInputs():
            if not inp.HasConnectedSource():
                continue
            source = inp.GetConnectedSources()[0][0].source
            file = UsdShade.Shader(source.GetPrim()).GetInput("file")
            if file:
                found[inp.GetBaseName()] = file.Get()
    return found


@pytest.mark.parametrize("optimized", [False, True])
def test_damaged_helmet_materials_and_textures(corpus: Path, optimized_dir: Path, tmp_path: Path,
                                                optimized: bool) -> None:
    source = optimized_dir / "DamagedHelmet.glb" if optimized else corpus / "models" / "DamagedHelmet.glb"
    doc = read(source)
    out = tmp_path / "helmet.usdz"
    write_usdz(doc, out)
    stage = Usd.Stage.Open(str(out))
    (mesh,) = meshes(stage)
    material, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
    assert material, "mesh has no bound material"
    files = texture_files(stage)
    assert set(files) == {"diffuseColor", "metallic", "roughness", "emissiveColor", "normal", "occlusion"}
    with zipfile.ZipFile(out) as z:
        for asset in files.values():
            assert asset.resolvedPath, f"{asset.path} does not resolve inside the package"
            data = z.read(asset.path)
            im = PILImage.open(io.BytesIO(data))
            assert im.format in {"PNG", "JPEG"}  # WebP from the optimizer was converted
            assert im.size == (2048, 2048)
    surface = UsdShade.Material(material).ComputeSurfaceSource()[0]
    normal_tex = surface.GetInput("normal").GetConnectedSources()[0][0].source
    normal_shader = UsdShade.Shader(normal_tex.GetPrim())
    assert normal_shader.GetInput("sourceColorSpace").Get() == "raw"
    assert tuple(normal_shader.GetInput("bias").Get()) == (-1, -1, -1, 0)
    primvars = UsdGeom.PrimvarsAPI(mesh)
    st = np.array(primvars.GetPrimvar("st").Get())
    assert st.shape == (mesh.GetPointsAttr().Get().__len__(), 2)
    raw = read(corpus / "models" / "DamagedHelmet.glb")
    uv = raw.accessors[raw.gltf["meshes"][0]["primitives"][0]["attributes"]["TEXCOORD_0"]].as_float()
    np.testing.assert_allclose(st.min(axis=0), [uv[:, 0].min(), 1 - uv[:, 1].max()], atol=1e-3)
    np.testing.assert_allclose(st.max(axis=0), [uv[:, 0].max(), 1 - uv[:, 1].min()], atol=1e-3)
    normals = np.array(primvars.GetPrimvar("normals").Get())
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-3)


def test_st_flips_v_and_matches_after_quantization(corpus: Path, optimized_dir: Path, tmp_path: Path) -> None:
    """Raw BoxTextured: st == (u, 1 - v). The optimized GLB's quantized UVs + KHR_texture_transform bake to the same."""
    raw = read(corpus / "models" / "BoxTextured" / "BoxTextured.gltf")
    write_usdz(raw, tmp_path / "raw.usdz")
    write_usdz(read(optimized_dir / "BoxTextured.glb"), tmp_path / "opt.usdz")

    def st_by_corner(path: Path) -> dict[tuple[float, ...], set[tuple[float, ...]]]:
        stage = Usd.Stage.Open(str(path))
        (mesh,) = meshes(stage)
        pts = np.array(mesh.GetPointsAttr().Get())
        pts -= pts.min(axis=0)  # the optimizer moved the pivot to the bottom center
        st = np.array(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get())
        out: dict[tuple[float, ...], set[tuple[float, ...]]] = {}
        for p, uv in zip(np.round(pts, 3), np.round(st, 2), strict=True):
            out.setdefault(tuple(p), set()).add(tuple(uv))
        return out

    prim = raw.gltf["meshes"][0]["primitives"][0]
    uv = raw.accessors[prim["attributes"]["TEXCOORD_0"]].as_float()
    stage = Usd.Stage.Open(str(tmp_path / "raw.usdz"))
    (mesh,) = meshes(stage)
    st = np.array(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get())
    np.testing.assert_allclose(st, np.column_stack([uv[:, 0], 1 - uv[:, 1]]), atol=1e-6)
    assert st_by_corner(tmp_path / "raw.usdz") == st_by_corner(tmp_path / "opt.usdz")


def webp_bytes(color: tuple[int, int, int, int]) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGBA", (4, 4), color).save(buf, "WEBP")
    return buf.getvalue()


def textured_triangle() -> AssetDocument:
    doc = AssetDocument.from_mesh_arrays(
        np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32), np.array([0, 1, 2]),
        normals=np.array([[0, 0, 1]] * 3, np.float32), texcoords=np.array([[0, 0], [1, 0], [0, 1]], np.float32),
        material={"alphaMode": "BLEND", "pbrMetallicRoughness": {"baseColorTexture": {
            "index": 0, "extensions": {"KHR_texture_transform": {"offset": [0.5, 0.25], "scale": [0.5, 0.5]}}}}})
    doc.images.append(Image(webp_bytes((255, 0, 0, 128)), "image/webp"))
    doc.gltf["textures"] = [{"source": 0}]
    return doc


def test_texture_transform_baked_webp_converted_and_mirroring_fixed(tmp_path: Path, validators: list[Any]) -> None:
    doc = textured_triangle()
    doc.gltf["nodes"][0]["scale"] = [-2.0, 1.0, 1.0]  # mirrored: the winding must be flipped to keep the front
    out = tmp_path / "tri.usdz"
    write_usdz(doc, out)
    stage = Usd.Stage.Open(str(out))
    assert validation_errors(stage, validators) == []
    (mesh,) = meshes(stage)
    st = np.array(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get())
    np.testing.assert_allclose(st, [[0.5, 0.75], [1.0, 0.75], [0.5, 0.25]], atol=1e-6)
    pts = np.array(mesh.GetPointsAttr().Get())
    a, b, c = pts[np.array(mesh.GetFaceVertexIndicesAttr().Get())]
    face_normal = np.cross(b - a, c - a)
    normal = np.array(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("normals").Get())[0]
    assert float(face_normal @ normal) > 0
    np.testing.assert_allclose(normal, [0, 0, 1], atol=1e-6)
    (asset,) = {a.path: a for a in texture_files(stage).values()}.values()
    with zipfile.ZipFile(out) as z:
        im = PILImage.open(io.BytesIO(z.read(asset.path)))
    assert im.format == "PNG" and im.mode == "RGBA"  # alpha kept, so PNG and not JPEG
    material = UsdShade.Material(stage.GetPrimAtPath("/Root/Materials").GetChildren()[0])
    assert material.ComputeSurfaceSource()[0].GetInput("opacity").HasConnectedSource()


def test_failure_names_file_and_leaves_nothing(tmp_path: Path) -> None:
    doc = textured_triangle()
    doc.gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 99  # broken reference
    out = tmp_path / "broken.usdz"
    out.write_bytes(b"previous version")
    with pytest.raises(PipelineFailure) as info:
        write_usdz(doc, out)
    assert isinstance(info.value, AssetError)
    assert str(info.value).startswith("broken.usdz: USDZ export failed")
    assert out.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["broken.usdz"]


def test_png_fallback_preferred_over_webp_source(tmp_path: Path) -> None:
    """A texture with EXT_texture_webp and a PNG fallback ships the PNG bytes unchanged (no re-encoding)."""
    doc = textured_triangle()
    buf = io.BytesIO()
    PILImage.new("RGB", (8, 8), (0, 128, 255)).save(buf, "PNG")
    doc.images.append(Image(buf.getvalue(), "image/png"))
    doc.gltf["textures"] = [{"source": 1, "extensions": {"EXT_texture_webp": {"source": 0}}}]
    out = tmp_path / "fallback.usdz"
    write_usdz(doc, out)
    stage = Usd.Stage.Open(str(out))
    (asset,) = {a.path: a for a in texture_files(stage).values()}.values()
    with zipfile.ZipFile(out) as z:
        assert z.read(asset.path) == buf.getvalue()


def test_converted_images_are_shared_between_packages(tmp_path: Path) -> None:
    """A publish writes the same WebP texture into several packages (LODs, variants): it is converted once."""
    doc = textured_triangle()
    converted: dict[str, tuple[bytes, str]] = {}
    write_usdz(doc, tmp_path / "a.usdz", converted=converted)
    ((key, (data, suffix)),) = converted.items()
    assert suffix == ".png" and PILImage.open(io.BytesIO(data)).mode == "RGBA"
    marker = data + b"taken from the dict"
    converted[key] = (marker, ".png")
    write_usdz(doc, tmp_path / "b.usdz", converted=converted)
    with zipfile.ZipFile(tmp_path / "a.usdz") as a, zipfile.ZipFile(tmp_path / "b.usdz") as b:
        (png,) = [n for n in a.namelist() if n.endswith(".png")]
        assert a.read(png) == data and b.read(png) == marker
