"""AssetDocument -> USDZ for iOS AR Quick Look, written with Pixar's usd-core.

Layout of the stage (metersPerUnit 1, upAxis Y, default prim ``/Root``)::

    /Root                       Xform, kind component
    /Root/Geom/<mesh>_<n>       one UsdGeomMesh per drawn primitive, world transform baked into the points
    /Root/Materials/<material>  UsdPreviewSurface + UsdUVTexture readers, one per glTF material

glTF PBR values map onto UsdPreviewSurface inputs (baseColor -> diffuseColor/opacity, metallicRoughness ->
metallic (B) / roughness (G), emissive, normal (scale 2, bias -1), occlusion (R)). KHR_texture_transform is baked
into the texture coordinates (one ``st`` primvar per distinct transform); V is flipped because USD's texture origin
is bottom-left. Images that USDZ cannot carry (WebP, GIF, BMP) are converted to PNG (with alpha) or JPEG; KTX2
textures are left out with a warning. The package is written in a temporary folder next to the target and renamed
over it, so a failure leaves nothing behind.

usd-core is imported on first use only.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..document import TRIANGLES, AssetDocument
from ..errors import AssetError, MissingEncoder, PipelineFailure
from ..scene import mesh_instances
from ..texcoords import texture_uv, uv_key

logger = logging.getLogger(__name__)

WRAP = {10497: "repeat", 33071: "clamp", 33648: "mirror"}
TEXTURE_DIR = "textures"
USDZ_MIMES = {"image/png": ".png", "image/jpeg": ".jpg"}


def write_usdz(doc: AssetDocument, path: Path) -> int:
    """Write ``doc`` as a USDZ package at ``path``; returns the bytes written.

    Raises :class:`PipelineFailure` (naming ``path``) when usd-core fails, :class:`MissingEncoder` when it is
    not installed, and nothing is left at ``path`` (or next to it) in either case.
    """
    path = Path(path)
    try:
        from pxr import Usd  # noqa: F401
    except ImportError:
        raise MissingEncoder("writing USDZ needs the usd-core package (pip install usd-core)", path=path) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        layer = work / "model.usdc"
        _build_stage(doc, layer, work)
        packaged = work / "package.usdz"
        _package(layer, packaged, path)
        size = packaged.stat().st_size
        with open(packaged, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(packaged, path)
        logger.debug("wrote %s (%d bytes)", path, size)
        return size
    except AssetError as exc:
        raise exc.at(path) from None
    except Exception as exc:
        logger.debug("USDZ export failed", exc_info=True)
        raise PipelineFailure(f"USDZ export failed ({type(exc).__name__}: {exc})", path=path) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _package(layer: Path, packaged: Path, target: Path) -> None:
    """Zip the layer (first, as USDZ requires) and its textures, uncompressed and 64-byte aligned (Sdf's writer)."""
    from pxr import Sdf

    writer = Sdf.ZipFileWriter.CreateNew(str(packaged))
    writer.AddFile(str(layer), layer.name)
    textures = layer.parent / TEXTURE_DIR
    if textures.is_dir():
        for file in sorted(textures.iterdir()):
            writer.AddFile(str(file), f"{TEXTURE_DIR}/{file.name}")
    if not writer.Save() or not packaged.exists():
        raise PipelineFailure("usd-core could not create the USDZ package", path=target)


def _identifier(name: str | None, fallback: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", name or "") or fallback
    if base[0].isdigit():
        base = f"_{base}"
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}_{n}"
    used.add(candidate)
    return candidate


class _Textures:
    """Image index -> file inside the package folder (converted to PNG/JPEG once, on first use)."""

    def __init__(self, doc: AssetDocument, folder: Path) -> None:
        self.doc = doc
        self.folder = folder
        self.files: dict[int, str | None] = {}

    def source(self, texture_index: int) -> int | None:
        """The image a texture shows: its PNG/JPEG ``source`` when it has one, else an extension's source."""
        textures = self.doc.gltf.get("textures", [])
        if not 0 <= texture_index < len(textures):
            return None
        tex = textures[texture_index]
        candidates = [tex.get("source")] + [tex.get("extensions", {}).get(ext, {}).get("source")
                                            for ext in ("EXT_texture_webp", "EXT_texture_avif", "KHR_texture_basisu")]
        found = [int(c) for c in candidates if c is not None and 0 <= int(c) < len(self.doc.images)]
        for src in found:
            if self.doc.images[src].mime_type in USDZ_MIMES:
                return src
        return found[0] if found else None

    def file(self, texture_index: int) -> str | None:
        src = self.source(texture_index)
        if src is None or not 0 <= src < len(self.doc.images):
            return None
        if src not in self.files:
            self.files[src] = self._write(src)
        return self.files[src]

    def _write(self, src: int) -> str | None:
        image = self.doc.images[src]
        suffix = USDZ_MIMES.get(image.mime_type)
        if suffix is not None:
            data = image.data
        else:
            from PIL import Image as PILImage

            try:
                im = PILImage.open(io.BytesIO(image.data))
                im.load()
            except Exception:
                self.doc.warn(f"USDZ: images[{src}] ({image.mime_type}) cannot be converted; texture left out")
                return None
            buf = io.BytesIO()
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                im.convert("RGBA").save(buf, "PNG", optimize=True)
                suffix = ".png"
            else:
                im.convert("RGB").save(buf, "JPEG", quality=90)
                suffix = ".jpg"
            data = buf.getvalue()
        name = f"{TEXTURE_DIR}/image_{src}{suffix}"
        (self.folder / TEXTURE_DIR).mkdir(exist_ok=True)
        (self.folder / name).write_bytes(data)
        return name


def _build_stage(doc: AssetDocument, layer: Path, work: Path) -> None:
    from pxr import Kind, Usd, UsdGeom, UsdShade

    stage = Usd.Stage.CreateNew(str(layer))
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    root = UsdGeom.Xform.Define(stage, "/Root")
    stage.SetDefaultPrim(root.GetPrim())
    Usd.ModelAPI(root.GetPrim()).SetKind(Kind.Tokens.component)
    stage.SetMetadata("customLayerData", {"creator": "phygital assets_pipeline"})
    UsdGeom.Scope.Define(stage, "/Root/Geom")

    textures = _Textures(doc, work)
    materials: dict[int | None, tuple[Any, dict[tuple[Any, ...], str]]] = {}
    material_names: set[str] = set()
    mesh_names: set[str] = set()
    gltf_materials = doc.gltf.get("materials", [])

    def material_for(index: int | None) -> tuple[Any, dict[tuple[Any, ...], str]]:
        if index not in materials:
            mat = gltf_materials[index] if index is not None and 0 <= index < len(gltf_materials) else {}
            name = _identifier(mat.get("name"), f"material_{index if index is not None else 'default'}",
                               material_names)
            if len(material_names) == 1:
                UsdGeom.Scope.Define(stage, "/Root/Materials")
            materials[index] = _define_material(stage, f"/Root/Materials/{name}", mat, textures)
        return materials[index]

    meshes = doc.gltf.get("meshes", [])
    for mesh_index, world in mesh_instances(doc):
        if not 0 <= mesh_index < len(meshes):
            continue
        mesh = meshes[mesh_index]
        for prim_index, prim in enumerate(mesh.get("primitives", [])):
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "POSITION" not in attrs:
                if prim.get("mode", TRIANGLES) != TRIANGLES:
                    doc.warn("USDZ: non-triangle primitives (points, lines, strips) are left out")
                continue
            name = _identifier(mesh.get("name"), f"mesh_{mesh_index}", mesh_names)
            if len(mesh.get("primitives", [])) > 1:
                name = _identifier(f"{name}_{prim_index}", name, mesh_names)
            material, st_names = material_for(prim.get("material"))
            usd_mesh = _define_mesh(stage, f"/Root/Geom/{name}", doc, prim, world, st_names, gltf_materials)
            if material is not None:
                UsdShade.MaterialBindingAPI.Apply(usd_mesh.GetPrim()).Bind(material)

    stage.GetRootLayer().Save()


def _define_mesh(stage: Any, prim_path: str, doc: AssetDocument, prim: dict[str, Any], world: np.ndarray,
                 st_names: dict[tuple[Any, ...], str], gltf_materials: list[dict[str, Any]]) -> Any:
    from pxr import Sdf, UsdGeom, Vt

    attrs = prim["attributes"]
    points = doc.accessors[attrs["POSITION"]].as_float().astype(np.float64)
    points = points @ world[:3, :3].T + world[:3, 3]
    if "indices" in prim:
        idx = doc.accessors[prim["indices"]].array.astype(np.int64).reshape(-1)
    else:
        idx = np.arange(len(points), dtype=np.int64)
    tris = idx[: len(idx) // 3 * 3].reshape(-1, 3)
    if np.linalg.det(world[:3, :3]) < 0:  # a mirroring transform flips the winding
        tris = tris[:, ::-1]

    mesh = UsdGeom.Mesh.Define(stage, prim_path)
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(tris), 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(tris.reshape(-1).astype(np.int32)))
    lo, hi = (points.min(axis=0), points.max(axis=0)) if len(points) else (np.zeros(3), np.zeros(3))
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.array([lo, hi], np.float32)))
    material = gltf_materials[prim["material"]] if 0 <= prim.get("material", -1) < len(gltf_materials) else {}
    mesh.CreateDoubleSidedAttr(bool(material.get("doubleSided", False)))

    primvars = UsdGeom.PrimvarsAPI(mesh)
    if "NORMAL" in attrs:
        normal_matrix = np.linalg.inv(world[:3, :3]).T
        normals = doc.accessors[attrs["NORMAL"]].as_float().astype(np.float64) @ normal_matrix.T
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        pv = primvars.CreatePrimvar("normals", Sdf.ValueTypeNames.Normal3fArray, UsdGeom.Tokens.vertex)
        pv.Set(Vt.Vec3fArray.FromNumpy(normals.astype(np.float32)))
    for key, name in st_names.items():
        info = {"texCoord": key[0]}
        if len(key) > 1:
            info["extensions"] = {"KHR_texture_transform": {"offset": list(key[1]), "rotation": key[2],
                                                            "scale": list(key[3])}}
        uv = texture_uv(doc, prim, info)
        if uv is None:
            continue
        st = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]).astype(np.float32)
        pv = primvars.CreatePrimvar(name, Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
        pv.Set(Vt.Vec2fArray.FromNumpy(st))
    if "COLOR_0" in attrs:
        colors = doc.accessors[attrs["COLOR_0"]].as_float()
        pv = primvars.CreatePrimvar("displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex)
        pv.Set(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(colors[:, :3], np.float32)))
        if colors.shape[1] == 4 and float(colors[:, 3].min()) < 1.0:
            pv = primvars.CreatePrimvar("displayOpacity", Sdf.ValueTypeNames.FloatArray, UsdGeom.Tokens.vertex)
            pv.Set(Vt.FloatArray.FromNumpy(np.ascontiguousarray(colors[:, 3], np.float32)))
    elif not material:
        base = [0.8, 0.8, 0.8]
        mesh.CreateDisplayColorPrimvar(UsdGeom.Tokens.constant).Set([tuple(base)])
    return mesh


def _define_material(stage: Any, path: str, mat: dict[str, Any],
                     textures: _Textures) -> tuple[Any, dict[tuple[Any, ...], str]]:
    """The UsdShade.Material and the st primvar name per (texCoord, transform) key its textures read."""
    from pxr import Gf, Sdf, UsdShade

    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/PreviewSurface")
    shader.CreateIdAttr("UsdPreviewSurface")
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    st_names: dict[tuple[Any, ...], str] = {}
    readers: dict[str, Any] = {}

    def st_reader(info: dict[str, Any]) -> Any:
        key = uv_key(info)
        if key not in st_names:
            st_names[key] = "st" if not st_names else f"st{len(st_names)}"
        name = st_names[key]
        if name not in readers:
            reader = UsdShade.Shader.Define(stage, f"{path}/uv_{name}")
            reader.CreateIdAttr("UsdPrimvarReader_float2")
            reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set(name)
            readers[name] = reader
        return readers[name]

    def texture(slot: str, info: dict[str, Any] | None, raw: bool, scale: tuple[float, ...],
                bias: tuple[float, ...] | None = None) -> Any:
        if not info or "index" not in info:
            return None
        file = textures.file(int(info["index"]))
        if file is None:
            return None
        tex = UsdShade.Shader.Define(stage, f"{path}/{slot}Texture")
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(file))
        tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("raw" if raw else "sRGB")
        sampler = {}
        samplers = textures.doc.gltf.get("samplers", [])
        tex_json = textures.doc.gltf.get("textures", [])[int(info["index"])]
        if 0 <= tex_json.get("sampler", -1) < len(samplers):
            sampler = samplers[tex_json["sampler"]]
        tex.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set(WRAP.get(sampler.get("wrapS", 10497), "repeat"))
        tex.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set(WRAP.get(sampler.get("wrapT", 10497), "repeat"))
        if any(v != 1.0 for v in scale):
            tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*scale))
        if bias is not None:
            tex.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*bias))
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(st_reader(info).ConnectableAPI(), "result")
        return tex

    def out(tex: Any, name: str, kind: Any) -> Any:
        return tex.ConnectableAPI(), tex.CreateOutput(name, kind).GetBaseName()

    pbr = mat.get("pbrMetallicRoughness", {})
    base = [float(v) for v in pbr.get("baseColorFactor", [1.0, 1.0, 1.0, 1.0])]
    alpha_mode = mat.get("alphaMode", "OPAQUE")
    inp = shader.CreateInput
    f3, f1 = Sdf.ValueTypeNames.Color3f, Sdf.ValueTypeNames.Float
    tex = texture("baseColor", pbr.get("baseColorTexture"), False, tuple(base))
    if tex is not None:
        inp("diffuseColor", f3).ConnectToSource(*out(tex, "rgb", Sdf.ValueTypeNames.Float3))
        if alpha_mode != "OPAQUE":
            inp("opacity", f1).ConnectToSource(*out(tex, "a", f1))
    else:
        inp("diffuseColor", f3).Set(Gf.Vec3f(*base[:3]))
        if alpha_mode != "OPAQUE":
            inp("opacity", f1).Set(base[3])
    if alpha_mode == "MASK":
        inp("opacityThreshold", f1).Set(float(mat.get("alphaCutoff", 0.5)))

    metallic, roughness = float(pbr.get("metallicFactor", 1.0)), float(pbr.get("roughnessFactor", 1.0))
    tex = texture("metallicRoughness", pbr.get("metallicRoughnessTexture"), True, (1.0, roughness, metallic, 1.0))
    if tex is not None:
        inp("metallic", f1).ConnectToSource(*out(tex, "b", f1))
        inp("roughness", f1).ConnectToSource(*out(tex, "g", f1))
    else:
        inp("metallic", f1).Set(metallic)
        inp("roughness", f1).Set(roughness)

    emissive = [float(v) for v in mat.get("emissiveFactor", [0.0, 0.0, 0.0])]
    strength = float(mat.get("extensions", {}).get("KHR_materials_emissive_strength", {}).get("emissiveStrength", 1.0))
    emissive = [v * strength for v in emissive]
    tex = texture("emissive", mat.get("emissiveTexture"), False, (*emissive, 1.0)) if any(emissive) else None
    if tex is not None:
        inp("emissiveColor", f3).ConnectToSource(*out(tex, "rgb", Sdf.ValueTypeNames.Float3))
    elif any(emissive):
        inp("emissiveColor", f3).Set(Gf.Vec3f(*emissive))

    normal_info = mat.get("normalTexture")
    k = float(normal_info.get("scale", 1.0)) if normal_info else 1.0
    tex = texture("normal", normal_info, True, (2.0 * k, 2.0 * k, 2.0, 1.0), (-k, -k, -1.0, 0.0))
    if tex is not None:
        inp("normal", Sdf.ValueTypeNames.Normal3f).ConnectToSource(*out(tex, "rgb", Sdf.ValueTypeNames.Float3))

    occlusion_info = mat.get("occlusionTexture")
    s = float(occlusion_info.get("strength", 1.0)) if occlusion_info else 1.0
    bias = (1.0 - s, 1.0 - s, 1.0 - s, 0.0) if s != 1.0 else None
    tex = texture("occlusion", occlusion_info, True, (s, s, s, 1.0), bias)
    if tex is not None:
        inp("occlusion", f1).ConnectToSource(*out(tex, "r", f1))
    return material, st_names
