"""Drop vertex attributes nothing reads: texture coordinate sets that no texture of the primitive's
materials (including its KHR_materials_variants materials) samples, directly or through
KHR_texture_transform's ``texCoord``, above the highest set one does (sets stay numbered 0..n-1 without
rewriting shared materials), and tangents without a normal map.
Like gltfpack's default; turn off with ``keep_attributes`` to keep them for later re-texturing."""

from __future__ import annotations

from typing import Any

from ..document import AssetDocument
from ..refs import _texture_infos
from .base import Transform

NAME = "attributes"


def _sets_read(material: dict[str, Any]) -> set[int]:
    sets = set()
    for info in _texture_infos(material):
        tt = info.get("extensions", {}).get("KHR_texture_transform", {})
        sets.add(int(tt.get("texCoord", info.get("texCoord", 0))))
    return sets


def _drop(doc: AssetDocument) -> None:
    materials = doc.gltf.get("materials", [])
    for _mi, _pi, prim in doc.primitives():
        mats = ([prim["material"]] if "material" in prim else []) + [
            m["material"] for m in prim.get("extensions", {}).get("KHR_materials_variants", {}).get("mappings", [])]
        used: set[int] = set()
        normal_map = False
        for m in mats:
            used |= _sets_read(materials[m])
            normal_map |= "normalTexture" in materials[m]
        attrs = prim.get("attributes", {})
        sets = sorted(int(n.split("_")[1]) for n in attrs if n.startswith("TEXCOORD_"))
        # only sets above the highest one read go: renumbering the rest would have to rewrite texCoord (and
        # KHR_texture_transform's texCoord) in materials that other primitives share
        top = max((s for s in sets if s in used), default=-1)
        dropped = [f"TEXCOORD_{s}" for s in sets if s > top]
        if "TANGENT" in attrs and not normal_map:
            dropped.append("TANGENT")
        if any(n == "TANGENT" for t in prim.get("targets", []) for n in t):
            dropped = [n for n in dropped if n != "TANGENT"]
        for n in dropped:
            del attrs[n]


def drop_unused_attributes() -> Transform:
    """Return the transform that drops texture coordinates no texture reads."""
    return Transform(NAME, _drop)
