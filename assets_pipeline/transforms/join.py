"""Join: merge materials that differ only in name, then join the primitives of a mesh that share a
material, mode and vertex layout into one (fewer draw calls, better compression), as gltfpack does."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..document import TRIANGLES, AssetDocument
from ..refs import remap
from .base import Transform

NAME = "join"


def _merge_materials(doc: AssetDocument) -> None:
    mats = doc.gltf.get("materials", [])
    seen: dict[str, int] = {}
    mapping = {}
    for i, m in enumerate(mats):
        key = json.dumps({k: v for k, v in m.items() if k != "name"}, sort_keys=True)
        mapping[i] = seen.setdefault(key, i)
    if any(k != v for k, v in mapping.items()):
        remap(doc.gltf, "materials", mapping)


def _layout(doc: AssetDocument, prim: dict[str, Any]) -> tuple[Any, ...] | None:
    if (prim.get("mode", TRIANGLES) != TRIANGLES or prim.get("targets") or prim.get("extensions")
            or "indices" not in prim or "POSITION" not in prim.get("attributes", {})):
        return None
    attrs = prim["attributes"]
    return (prim.get("material"), tuple(sorted((n, doc.accessors[a].array.dtype.str, doc.accessors[a].type,
                                                doc.accessors[a].normalized) for n, a in attrs.items())))


def _join(doc: AssetDocument) -> None:
    _merge_materials(doc)
    for mesh in doc.gltf.get("meshes", []):
        prims = mesh.get("primitives", [])
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, p in enumerate(prims):
            key = _layout(doc, p)
            if key is not None:
                groups.setdefault(key, []).append(i)
        drop: set[int] = set()
        for members in groups.values():
            if len(members) < 2:
                continue
            first = prims[members[0]]
            if all(prims[i]["attributes"] == first["attributes"] for i in members):
                # the members already share their vertices: only their triangles need joining
                first["indices"] = doc.add_accessor(np.concatenate(
                    [doc.accessors[prims[i]["indices"]].array.reshape(-1).astype(np.uint32) for i in members]))
                drop.update(members[1:])
                continue
            names = list(first["attributes"])
            arrays: dict[str, list[np.ndarray]] = {n: [] for n in names}
            indices, base = [], 0
            for i in members:
                p = prims[i]
                for n in names:
                    arrays[n].append(doc.accessors[p["attributes"][n]].array)
                indices.append(doc.accessors[p["indices"]].array.reshape(-1).astype(np.uint32) + base)
                base += doc.accessors[p["attributes"]["POSITION"]].count
            for n in names:
                acc = doc.accessors[first["attributes"][n]]
                doc.accessors.append(acc.copy_with(np.concatenate(arrays[n])))
                first["attributes"][n] = len(doc.accessors) - 1
            first["indices"] = doc.add_accessor(np.concatenate(indices))
            drop.update(members[1:])
        if drop:
            mesh["primitives"] = [p for i, p in enumerate(prims) if i not in drop]


def join() -> Transform:
    """Return the transform that merges materials differing only in name and joins primitives sharing one."""
    return Transform(NAME, _join)
