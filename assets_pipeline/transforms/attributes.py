"""Drop vertex attributes nothing reads: texture coordinate sets that no texture of the primitive's
materials (including its KHR_materials_variants materials) samples, directly or through
KHR_texture_transform's ``texCoord``, above the highest set one does (sets stay numbered 0..n-1 without
rewriting shared materials), and tangents without a normal map (with their morph target deltas).
Like gltfpack's default; turn off with ``keep_attributes`` to keep them for later re-texturing.

Also (always: it changes nothing drawn) morph target attributes whose deltas are all zero; a target keeps
at least one attribute."""

from __future__ import annotations

from typing import Any

import numpy as np

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
        for n in dropped:
            del attrs[n]
            for target in prim.get("targets", []):
                target.pop(n, None)


def _drop_zero_deltas(doc: AssetDocument) -> None:
    for _mi, _pi, prim in doc.primitives():
        for target in prim.get("targets", []):
            zero = [n for n, a in target.items() if isinstance(a, int) and 0 <= a < len(doc.accessors)
                    and not np.any(doc.accessors[a].array)]
            if len(zero) == len(target):  # a target keeps one attribute (POSITION when it has one)
                zero = [n for n in zero if n != ("POSITION" if "POSITION" in target else zero[0])]
            for n in zero:
                del target[n]


def _drop_all(doc: AssetDocument) -> None:
    _drop(doc)
    _drop_zero_deltas(doc)


def drop_unused_attributes() -> Transform:
    """Return the transform that drops texture coordinates no texture reads, tangents nothing uses and morph
    target attributes whose deltas are all zero."""
    return Transform(NAME, _drop_all)


def drop_zero_deltas() -> Transform:
    """Return the transform that drops morph target attributes whose deltas are all zero."""
    return Transform("zero deltas", _drop_zero_deltas)
