"""Prune: drop primitives with nothing to draw (a simplifier can leave a tiny part with no triangle), then
nodes, meshes, skins, cameras, materials, textures, samplers, images and accessors that nothing uses, and
merge byte-identical images and accessors."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from ..document import AssetDocument
from ..refs import referenced, refs, remap
from .base import Transform

NAME = "prune"
ORDER = ("nodes", "meshes", "skins", "cameras", "materials", "textures", "samplers", "images", "accessors")


def _items(doc: AssetDocument, kind: str) -> list[object]:
    if kind == "accessors":
        return doc.accessors  # type: ignore[return-value]
    if kind == "images":
        return doc.images  # type: ignore[return-value]
    return doc.gltf.get(kind, [])  # type: ignore[no-any-return]


def _set(doc: AssetDocument, kind: str, items: list[object]) -> None:
    if kind == "accessors":
        doc.accessors = items  # type: ignore[assignment]
    elif kind == "images":
        doc.images = items  # type: ignore[assignment]
    elif items:
        doc.gltf[kind] = items
    else:
        doc.gltf.pop(kind, None)


def _reachable_nodes(doc: AssetDocument) -> set[int]:
    nodes = doc.gltf.get("nodes", [])
    seen: set[int] = set()
    stack = [n for s in doc.gltf.get("scenes", []) for n in s.get("nodes", [])]
    for skin in doc.gltf.get("skins", []):
        stack += skin.get("joints", []) + ([skin["skeleton"]] if "skeleton" in skin else [])
    for anim in doc.gltf.get("animations", []):
        stack += [c["target"]["node"] for c in anim.get("channels", []) if "node" in c.get("target", {})]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(nodes[n].get("children", []))
    return seen


def _prune_kind(doc: AssetDocument, kind: str) -> int:
    items = _items(doc, kind)
    used = _reachable_nodes(doc) if kind == "nodes" else referenced(doc.gltf, kind)
    if len(used) == len(items):
        return 0
    keep = [i for i in range(len(items)) if i in used]
    if kind == "nodes":  # drop references held by removed nodes first
        for i in range(len(items)):
            if i not in used:
                items[i] = {}
    mapping = {old: new for new, old in enumerate(keep)}
    remap(doc.gltf, kind, mapping)
    _set(doc, kind, [items[i] for i in keep])
    return len(items) - len(keep)


def _accessor_roles(doc: AssetDocument) -> dict[int, str]:
    """How each accessor is used (vertex data, indices, animation input or output, ...): accessors are
    only merged within one role, since the validator forbids one accessor serving two."""
    roles: dict[int, str] = {}
    for container, key in refs(doc.gltf, "accessors"):
        role = key if key in ("indices", "input", "output", "inverseBindMatrices") else "vertex"
        roles.setdefault(container[key], role)
    return roles


def _merge_duplicates(doc: AssetDocument, kind: str) -> None:
    items = _items(doc, kind)
    roles = _accessor_roles(doc) if kind == "accessors" else {}
    if kind == "images":
        metas = [str(len(item.data)) for item in items]  # type: ignore[attr-defined]
    else:
        metas = [str((item.array.dtype, item.array.shape, item.type, item.normalized, roles.get(i)))  # type: ignore[attr-defined]
                 for i, item in enumerate(items)]
    shared = {m for m, count in Counter(metas).items() if count > 1}  # only these can have a duplicate: hashed
    seen: dict[tuple[str, bytes], int] = {}
    mapping: dict[int, int] = {}
    for i, (item, meta) in enumerate(zip(items, metas, strict=True)):
        digest = b""
        if meta in shared:
            data = item.data if kind == "images" else np.ascontiguousarray(item.array).data  # type: ignore[attr-defined]
            digest = hashlib.sha256(data).digest()
        mapping[i] = seen.setdefault((meta, digest), i)
    if any(k != v for k, v in mapping.items()):
        remap(doc.gltf, kind, mapping)


def _is_empty(doc: AssetDocument, prim: dict[str, object]) -> bool:
    """True when a primitive draws nothing: no vertices, or an index list that is empty."""
    attributes = prim.get("attributes", {})
    position = attributes.get("POSITION") if isinstance(attributes, dict) else None
    if isinstance(position, int) and len(doc.accessors[position].array) == 0:
        return True
    indices = prim.get("indices")
    return isinstance(indices, int) and len(doc.accessors[indices].array) == 0


def _drop_empty_primitives(doc: AssetDocument) -> int:
    """Remove primitives that draw nothing; a node whose mesh is left with none loses its mesh (and the skin
    and morph weights that went with it). Returns how many primitives went."""
    dropped = 0
    emptied: set[int] = set()
    for i, mesh in enumerate(doc.gltf.get("meshes", [])):
        prims = mesh.get("primitives", [])
        keep = [p for p in prims if not _is_empty(doc, p)]
        dropped += len(prims) - len(keep)
        if keep:
            mesh["primitives"] = keep
        elif prims:
            emptied.add(i)
    for node in doc.gltf.get("nodes", []):
        if node.get("mesh") in emptied:
            for key in ("mesh", "skin", "weights"):
                node.pop(key, None)
            node.get("extensions", {}).pop("EXT_mesh_gpu_instancing", None)
    return dropped


def _prune(doc: AssetDocument) -> None:
    _drop_empty_primitives(doc)
    _merge_duplicates(doc, "images")
    _merge_duplicates(doc, "accessors")
    for kind in ORDER:
        _prune_kind(doc, kind)


def prune() -> Transform:
    """Return the transform that drops unused nodes, meshes, materials, textures, images and accessors."""
    return Transform(NAME, _prune)


