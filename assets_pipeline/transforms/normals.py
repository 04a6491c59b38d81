"""Generate smooth, area-weighted normals for triangle primitives that have none; drop normals that only repeat
the faces' own (flat shading).

Vertices that share a position (UV seams) share a normal, so seams do not show in the shading.

Flat-shaded normals split every vertex by the faces around it, so no two triangles share a vertex and the
simplifier sees each triangle as an island. The glTF specification has clients compute flat normals when NORMAL
is absent, so such a NORMAL is dropped (before the weld) unless something else reads it: tangents, morph target
normals, or a skin (a USDZ skins vertex normals, not per-face ones).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..document import TRIANGLES, AssetDocument
from ..geometry import normals_are_flat, vertex_normals
from .base import Transform, attribute_key

NAME = "normals"
FLAT_NAME = "flat normals"
FLAT_ANGLE_DEG = 1.0
"""A NORMAL within this angle of the face normal of every triangle using it counts as flat shading."""


def _normals(doc: AssetDocument) -> None:
    for _, _, prim in doc.primitives():
        attrs = prim.get("attributes", {})
        if prim.get("mode", TRIANGLES) != TRIANGLES or "NORMAL" in attrs or "POSITION" not in attrs:
            continue
        pos = doc.accessors[attrs["POSITION"]].as_float()
        tri = (doc.accessors[prim["indices"]].array if "indices" in prim else np.arange(len(pos))).reshape(-1, 3)
        attrs["NORMAL"] = doc.add_accessor(vertex_normals(pos, tri))


def normals() -> Transform:
    """Return the transform that adds smooth normals to primitives without them."""
    return Transform(NAME, _normals)


def _drop_flat(doc: AssetDocument) -> int:
    groups: dict[tuple[object, ...], list[dict[str, object]]] = {}
    for _, _, prim in doc.primitives():
        groups.setdefault(attribute_key(prim), []).append(prim)
    dropped = 0
    for prims in groups.values():  # primitives sharing vertex streams are decided together
        attrs = prims[0].get("attributes", {})
        assert isinstance(attrs, dict)
        if ("NORMAL" not in attrs or "POSITION" not in attrs or "TANGENT" in attrs or "JOINTS_0" in attrs
                or any(p.get("mode", TRIANGLES) != TRIANGLES for p in prims)
                or any("NORMAL" in t for t in prims[0].get("targets", []))):  # type: ignore[union-attr]
            continue
        pos = doc.accessors[attrs["POSITION"]].as_float()
        lists = [doc.accessors[p["indices"]].array.reshape(-1) if "indices" in p else np.arange(len(pos))
                 for p in prims]
        tri = np.concatenate([idx[: len(idx) // 3 * 3] for idx in lists]).reshape(-1, 3)
        if not len(tri) or not normals_are_flat(doc.accessors[attrs["NORMAL"]].as_float(), pos, tri, FLAT_ANGLE_DEG):
            continue
        for p in prims:
            del p["attributes"]["NORMAL"]  # type: ignore[index]
        dropped += len(prims)
    return dropped


def drop_flat_normals(done: Callable[[int], None] | None = None) -> Transform:
    """Return the transform that drops NORMAL from primitives whose normals are their face normals (flat shading)
    and nothing else needs them; ``done`` receives how many primitives lost NORMAL."""
    def apply(doc: AssetDocument) -> None:
        count = _drop_flat(doc)
        if done is not None:
            done(count)

    return Transform(FLAT_NAME, apply)
