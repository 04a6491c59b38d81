"""AssetDocument -> USDZ for iOS AR Quick Look, written with Pixar's usd-core.

Layout of the stage (metersPerUnit 1, upAxis Y, default prim ``/Root``)::

    /Root                       Xform, kind component; variant set ``materialVariant`` (KHR_materials_variants)
    /Root/Geom/<mesh>_<n>       one UsdGeomMesh per drawn primitive, world transform baked into the points (or a
                                time-sampled xformOp:transform when the animation moves its node)
    /Root/Geom/<skin>           SkelRoot per glTF skin: Skeleton, SkelAnimation and the meshes it skins
    /Root/Materials/<material>  UsdPreviewSurface + UsdUVTexture readers, one per glTF material

Skins and animations (one after another on the timeline) are written by :mod:`.usdz_skel` (UsdSkel). Each variant
of KHR_materials_variants is a variant of ``materialVariant`` that rebinds the meshes its mappings name (first
variant selected); ``write_usdz(..., variant=i)`` writes one variant alone, as AR Quick Look (which shows no
variant sets) needs. Morph targets are UsdSkel blend shapes (with a one-joint skeleton when no skin deforms the
mesh) whose weights the SkelAnimation carries; not carried, each with a warning on the document: morph targets of a
mesh that the animation moves without a skin (default weights applied), cameras, lights, material extensions
UsdPreviewSurface lacks.

glTF PBR values map onto UsdPreviewSurface inputs (baseColor -> diffuseColor/opacity, metallicRoughness ->
metallic (B) / roughness (G), emissive, normal (scale 2, bias -1), occlusion (R)). KHR_texture_transform is baked
into the texture coordinates (one ``st`` primvar per distinct transform); V is flipped because USD's texture origin
is bottom-left. Images that USDZ cannot carry (WebP, GIF, BMP) are converted to PNG (with alpha) or JPEG; KTX2
textures are left out with a warning. The package is written in a temporary folder next to the target and renamed
over it, so a failure leaves nothing behind.

usd-core is imported on first use only.
"""

from __future__ import annotations

import hashlib
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
from ..errors import AssetError, InvalidAsset, MissingEncoder, PipelineFailure
from ..geometry import face_normals
from ..scene import mesh_instances, node_instances
from ..texcoords import texture_uv, uv_key

logger = logging.getLogger(__name__)

WRAP = {10497: "repeat", 33071: "clamp", 33648: "mirror"}
TEXTURE_DIR = "textures"
USDZ_MIMES = {"image/png": ".png", "image/jpeg": ".jpg"}
VARIANT_SET = "materialVariant"
USDZ_CARRIED = {"KHR_materials_variants", "KHR_texture_transform", "KHR_materials_emissive_strength",
                "KHR_mesh_quantization", "EXT_meshopt_compression", "KHR_draco_mesh_compression",
                "EXT_texture_webp", "EXT_texture_avif"}
"""glTF extensions whose content the USDZ keeps (decoded on read, baked, or mapped)."""
UNCARRIED_WHY = {"KHR_lights_punctual": "AR Quick Look lights the scene itself",
                 "KHR_texture_basisu": "KTX2 textures are left out"}


def write_usdz(doc: AssetDocument, path: Path, variant: int | None = None,
               converted: dict[str, tuple[bytes, str]] | None = None) -> int:
    """Write ``doc`` as a USDZ package at ``path``; returns the bytes written.

    ``variant``: write only that KHR_materials_variants variant (its materials bound, no variant set), the form
    AR Quick Look shows; None: every variant in a ``materialVariant`` variant set. What the package cannot carry
    is added to ``doc.warnings``. ``converted``: images converted to PNG/JPEG by sha256 of their bytes, kept
    between calls that write the same images (a publish's LODs and variants) so each converts once. Raises
    :class:`PipelineFailure` (naming ``path``) when usd-core fails, :class:`MissingEncoder` when it is not
    installed, and nothing is left at ``path`` (or next to it) in either case.
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
        if variant is not None:
            names = variant_names(doc)
            if not 0 <= variant < len(names):
                raise InvalidAsset(f"the model has no variant {variant} (it has {len(names)})", field="variant")
            shown = select_variant(doc, variant)
            _build_stage(shown, layer, work, converted)
            for w in shown.warnings:
                doc.warn(w)
        else:
            _build_stage(doc, layer, work, converted)
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

    def __init__(self, doc: AssetDocument, folder: Path, converted: dict[str, tuple[bytes, str]] | None) -> None:
        self.doc = doc
        self.folder = folder
        self.files: dict[int, str | None] = {}
        self.converted = converted if converted is not None else {}

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
        key = hashlib.sha256(image.data).hexdigest()
        if suffix is not None:
            data = image.data
        elif key in self.converted:
            data, suffix = self.converted[key]
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
            self.converted[key] = (data, suffix)
        name = f"{TEXTURE_DIR}/image_{src}{suffix}"
        (self.folder / TEXTURE_DIR).mkdir(exist_ok=True)
        (self.folder / name).write_bytes(data)
        return name


def _build_stage(doc: AssetDocument, layer: Path, work: Path,
                 converted: dict[str, tuple[bytes, str]] | None = None) -> None:
    from pxr import Kind, Usd, UsdGeom, UsdShade

    from . import usdz_skel as skel

    stage = Usd.Stage.CreateNew(str(layer))
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    root = UsdGeom.Xform.Define(stage, "/Root")
    stage.SetDefaultPrim(root.GetPrim())
    Usd.ModelAPI(root.GetPrim()).SetKind(Kind.Tokens.component)
    stage.SetMetadata("customLayerData", {"creator": "phygital assets_pipeline"})
    UsdGeom.Scope.Define(stage, "/Root/Geom")
    _warn_uncarried(doc)

    textures = _Textures(doc, work, converted)
    materials: dict[int | None, tuple[Any, set[str]]] = {}
    material_names: set[str] = set()
    mesh_names: set[str] = set()
    st_names: dict[tuple[Any, ...], str] = {}
    gltf_materials = doc.gltf.get("materials", [])

    def material_for(index: int | None) -> tuple[Any, set[str]]:
        if index not in materials:
            mat = gltf_materials[index] if index is not None and 0 <= index < len(gltf_materials) else {}
            name = _identifier(mat.get("name"), f"material_{index if index is not None else 'default'}",
                               material_names)
            if len(material_names) == 1:
                UsdGeom.Scope.Define(stage, "/Root/Materials")
            materials[index] = _define_material(stage, f"/Root/Materials/{name}", mat, textures, st_names)
        return materials[index]

    timeline = skel.timeline(doc)
    if timeline is not None and timeline.clips:
        spans = ", ".join(f"{name} {lo / skel.TIME_CODES_PER_SECOND:.2f}-{hi / skel.TIME_CODES_PER_SECOND:.2f} s"
                          for name, lo, hi in timeline.clips)
        doc.warn(f"USDZ: {len(timeline.clips)} animations play one after another on its one timeline ({spans}; "
                 "named in the layer's customLayerData phygitalAnimationClips)")
    up = skel.parents(doc)
    worlds: dict[int, np.ndarray] = {}
    skeletons: dict[int, skel.Skeleton] = {}
    variant_bindings: dict[int, list[tuple[Any, Any]]] = {}
    changes: set[int] = set()
    rigid_skeletons: list[skel.Skeleton] = []
    uncarried: set[int] = set()
    skinned = animated = 0
    meshes = doc.gltf.get("meshes", [])
    skins = doc.gltf.get("skins", [])
    for node_index, mesh_index, world, posable in node_instances(doc):
        if not 0 <= mesh_index < len(meshes):
            continue
        node = doc.gltf["nodes"][node_index]
        mesh = meshes[mesh_index]
        parent, placement, moving = "/Root/Geom", world, False
        skeleton = None
        if "skin" in node and posable:
            skin_index = int(node["skin"])
            if skin_index not in skeletons:
                skeletons[skin_index] = skel.define_skeleton(stage, "/Root/Geom", doc, skins[skin_index], timeline,
                                                             up, worlds, mesh_names)
            skeleton = skeletons[skin_index]
            parent, placement = str(skeleton.root.GetPath()), np.eye(4)
        elif "skin" in node:
            doc.warn("USDZ: a skin whose joints are not in the scene is left out (its mesh is drawn unposed)")
            placement = next((w for m, w in mesh_instances(doc) if m == mesh_index), world)
        elif skel.moves(timeline, node_index, up):
            placement, moving = np.eye(4), True
        weights = node.get("weights", mesh.get("weights"))
        morphed = any(any("POSITION" in t for t in p.get("targets", [])) for p in mesh.get("primitives", []))
        rigid = morphed and skeleton is None and not moving and "skin" not in node
        if rigid:
            skeleton = skel.define_rigid_skeleton(stage, "/Root/Geom", _identifier(mesh.get("name"), "mesh", set()),
                                                  mesh_names)
            rigid_skeletons.append(skeleton)
            parent = str(skeleton.root.GetPath())
        shapes = morphed and skeleton is not None
        if morphed and not shapes:
            uncarried.add(node_index)
            doc.warn("USDZ: morph targets of a mesh moved by the animation without a skin are left out (its default "
                     "weights are applied)")
        for prim_index, prim in enumerate(mesh.get("primitives", [])):
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "POSITION" not in attrs:
                if prim.get("mode", TRIANGLES) != TRIANGLES:
                    doc.warn("USDZ: non-triangle primitives (points, lines, strips) are left out")
                continue
            name = _identifier(mesh.get("name"), f"mesh_{mesh_index}", mesh_names)
            if len(mesh.get("primitives", [])) > 1:
                name = _identifier(f"{name}_{prim_index}", name, mesh_names)
            mapped = [int(m["material"]) for m in _variant_mappings(prim) if "material" in m]
            material, keys = material_for(prim.get("material"))
            for index in mapped:
                keys = keys | material_for(index)[1]
            usd_mesh = _define_mesh(stage, f"{parent}/{name}", doc, prim, placement, st_names, keys,
                                    gltf_materials, None if shapes else weights)
            if shapes and skeleton is not None:
                skel.add_blend_shapes(stage, usd_mesh, doc, prim, placement[:3, :3], skeleton, node_index, weights)
                if rigid:
                    skel.bind_rigid(usd_mesh, skeleton)
            binding = UsdShade.MaterialBindingAPI.Apply(usd_mesh.GetPrim())
            if not mapped:
                binding.Bind(material)
            else:  # bound in every variant only: a variant cannot override the mesh's own (stronger) binding
                chosen = {int(v): int(m["material"]) for m in _variant_mappings(prim) if "material" in m
                          for v in m.get("variants", [])}
                for v in range(len(variant_names(doc))):
                    index = chosen.get(v, prim.get("material"))
                    variant_bindings.setdefault(v, []).append((usd_mesh, material_for(index)[0]))
                    if index != prim.get("material"):
                        changes.add(v)
            if skeleton is not None and skel.bind_mesh(usd_mesh, doc, prim, skeleton):
                skinned += 1
            if moving and timeline is not None:
                skel.animate_xform(usd_mesh.GetPrim(), skel.world_matrices(doc, timeline, node_index, up, worlds),
                                   timeline)
                animated += 1
    timed = [skel.animate_blend_shapes(stage, s, timeline) for s in [*skeletons.values(), *rigid_skeletons]]
    if timeline is not None and (animated or any(timed) or any(
            s.skeleton.GetPrim().HasRelationship("skel:animationSource") for s in skeletons.values())):
        skel.set_time_range(stage, timeline)
    if timeline is not None and uncarried & set(timeline.weights):
        doc.warn("USDZ: morph weight animation of a mesh moved by the animation without a skin is left out")
    if variant_bindings:
        _define_variants(stage, root.GetPrim(), doc, variant_bindings, changes)
    stage.GetRootLayer().Save()


def _variant_mappings(prim: dict[str, Any]) -> list[dict[str, Any]]:
    return list(prim.get("extensions", {}).get("KHR_materials_variants", {}).get("mappings", []))


def variant_names(doc: AssetDocument) -> list[str]:
    """The names of the document's KHR_materials_variants, in order."""
    variants = doc.gltf.get("extensions", {}).get("KHR_materials_variants", {}).get("variants", [])
    return [str(v.get("name", f"variant{i}")) for i, v in enumerate(variants)]


def select_variant(doc: AssetDocument, variant: int) -> AssetDocument:
    """A copy of ``doc`` showing one KHR_materials_variants variant, with the extension removed."""
    out = doc.clone()
    for _, _, prim in out.primitives():
        ext = prim.get("extensions", {})
        for mapping in ext.pop("KHR_materials_variants", {}).get("mappings", []):
            if variant in mapping.get("variants", []) and "material" in mapping:
                prim["material"] = mapping["material"]
        if "extensions" in prim and not prim["extensions"]:
            del prim["extensions"]
    out.gltf.get("extensions", {}).pop("KHR_materials_variants", None)
    out.drop_extension("KHR_materials_variants")
    return out


def _define_variants(stage: Any, root: Any, doc: AssetDocument, bindings: dict[int, list[tuple[Any, Any]]],
                     changes: set[int]) -> None:
    """A ``materialVariant`` variant set on ``root``: each variant rebinds the meshes its mappings name. The
    variant that shows the glTF's default materials is selected (the first variant when none does)."""
    from pxr import UsdShade

    names = variant_names(doc)
    vset = root.GetVariantSets().AddVariantSet(VARIANT_SET)
    used: set[str] = set()
    usd_names = []
    for i, name in enumerate(names):
        usd_name = _identifier(name, f"variant{i}", used)
        usd_names.append(usd_name)
        vset.AddVariant(usd_name)
        vset.SetVariantSelection(usd_name)
        with vset.GetVariantEditContext():
            for mesh, material in bindings.get(i, []):
                UsdShade.MaterialBindingAPI(mesh.GetPrim()).Bind(material)
    if usd_names:
        vset.SetVariantSelection(next((n for i, n in enumerate(usd_names) if i not in changes), usd_names[0]))


def _warn_uncarried(doc: AssetDocument) -> None:
    """One warning per thing of the glTF a USDZ cannot carry."""
    g = doc.gltf
    if g.get("cameras"):
        doc.warn(f"USDZ: {len(g['cameras'])} camera(s) left out (AR Quick Look places its own)")
    dropped = sorted(set(g.get("extensionsUsed", [])) - USDZ_CARRIED)
    for ext in dropped:
        doc.warn(f"USDZ: {ext} is not carried ({UNCARRIED_WHY.get(ext, 'no USD Preview Surface equivalent')})")


def _define_mesh(stage: Any, prim_path: str, doc: AssetDocument, prim: dict[str, Any], world: np.ndarray,
                 st_names: dict[tuple[Any, ...], str], keys: set[str], gltf_materials: list[dict[str, Any]],
                 weights: list[float] | None = None) -> Any:
    from pxr import Sdf, UsdGeom, Vt

    attrs = prim["attributes"]
    points = doc.accessors[attrs["POSITION"]].as_float().astype(np.float64)
    for w, target in zip(weights or [], prim.get("targets", []), strict=False):
        if w and "POSITION" in target:
            points = points + float(w) * doc.accessors[target["POSITION"]].as_float().astype(np.float64)
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
    elif len(tris) and "JOINTS_0" not in attrs and not (prim.get("targets") and weights is None):
        # glTF shades a mesh without normals flat, USD would smooth it: one normal per face (not on a skinned or
        # blend-shaped mesh, whose faces turn: there USD's own normals follow the deformation)
        pv = primvars.CreatePrimvar("normals", Sdf.ValueTypeNames.Normal3fArray, UsdGeom.Tokens.uniform)
        pv.Set(Vt.Vec3fArray.FromNumpy(face_normals(points, tris).astype(np.float32)))
    for key, name in st_names.items():
        if name not in keys:
            continue
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


def _define_material(stage: Any, path: str, mat: dict[str, Any], textures: _Textures,
                     st_names: dict[tuple[Any, ...], str]) -> tuple[Any, set[str]]:
    """The UsdShade.Material and the st primvar names it reads; ``st_names`` (shared by all materials) gets the
    name of each (texCoord, transform) key its textures read."""
    from pxr import Gf, Sdf, UsdShade

    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/PreviewSurface")
    shader.CreateIdAttr("UsdPreviewSurface")
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
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
    return material, set(readers)
