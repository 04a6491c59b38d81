"""Weld: merge vertices whose every attribute is bit-identical, index non-indexed triangle lists, and
drop vertices no triangle uses. Geometry is unchanged (a property test checks it)."""

from __future__ import annotations

import numpy as np

from ..document import TRIANGLES, AssetDocument
from .base import Transform, attribute_key, remap_vertices

NAME = "weld"


def _weld(doc: AssetDocument) -> None:
    groups: dict[tuple[object, ...], list[dict[str, object]]] = {}
    for _, _, prim in doc.primitives():
        if prim.get("mode", TRIANGLES) != TRIANGLES or "POSITION" not in prim.get("attributes", {}):
            continue
        groups.setdefault(attribute_key(prim), []).append(prim)
    for prims in groups.values():
        first = prims[0]
        n = doc.accessors[first["attributes"]["POSITION"]].count  # type: ignore[index]
        streams = [doc.accessors[a].array.reshape(n, -1) for a in first["attributes"].values()]  # type: ignore[union-attr]
        for t in first.get("targets", []):  # type: ignore[union-attr]
            streams += [doc.accessors[a].array.reshape(n, -1) for a in t.values()]
        rows = np.concatenate([np.ascontiguousarray(s).view(np.uint8).reshape(n, -1) for s in streams], axis=1)
        rows = np.ascontiguousarray(rows)
        void = rows.view(np.dtype((np.void, rows.shape[1]))).reshape(n)
        indices = [doc.accessors[p["indices"]].array.reshape(-1) if "indices" in p else np.arange(n, dtype=np.uint32)
                   for p in prims]
        used = np.zeros(n, bool)
        for idx in indices:
            used[idx] = True
        _, first_of, inverse = np.unique(void, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        # keep unique vertices that are used, in order of first appearance
        keep_mask = np.zeros(len(first_of), bool)
        keep_mask[inverse[used]] = True
        order = np.argsort(first_of[keep_mask], kind="stable")
        kept = np.flatnonzero(keep_mask)[order]
        new_id = np.full(len(first_of), -1, np.int64)
        new_id[kept] = np.arange(len(kept))
        if len(kept) == n and all("indices" in p for p in prims) and (new_id[inverse] == np.arange(n)).all():
            continue
        keep = first_of[kept]
        remap_vertices(doc, first, keep)
        for p, idx in zip(prims, indices, strict=True):
            if p is not first:
                p["attributes"] = dict(first["attributes"])  # type: ignore[arg-type]
                if "targets" in first:
                    p["targets"] = [dict(t) for t in first["targets"]]  # type: ignore[union-attr]
            p["indices"] = doc.add_accessor(new_id[inverse[idx]].astype(np.uint32))


def weld() -> Transform:
    """Return the transform that merges bit-identical vertices and drops unused ones."""
    return Transform(NAME, _weld)
