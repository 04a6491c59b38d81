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
        indices = [doc.accessors[p["indices"]].array.reshape(-1) if "indices" in p else np.arange(n, dtype=np.uint32)
                   for p in prims]
        used = np.zeros(n, bool)
        for idx in indices:
            used[idx] = True
        first_of, inverse = _groups(rows)
        del rows
        # keep unique vertices that are used, in order of first appearance
        keep_mask = np.zeros(len(first_of), bool)
        keep_mask[inverse[used]] = True
        order = np.argsort(first_of[keep_mask], kind="stable")
        kept = np.flatnonzero(keep_mask)[order]
        new_id = np.full(len(first_of), -1, np.int32 if n < 2**31 else np.int64)
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


def _groups(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group bit-identical rows of a (n, bytes) uint8 array: each group's first row, and each row's group.

    Rows are read as 64-bit (or 32-bit) words. Rows of one word are sorted by it; wider rows by a 64-bit mix of
    their words, and rows next to each other in that order with the same mix are compared word by word (on a
    collision, where two different rows share a mix, the rows are sorted by all their words instead). The sort
    need not be stable (each group's first row is its smallest index); group numbers follow the sort, which the
    caller does not depend on. ``np.unique`` on a void dtype compared records byte by byte and took most of
    the step's time on large meshes, and a stable multi-key sort most of the rest.
    """
    n, width = rows.shape
    if width % 4:
        rows = np.concatenate([rows, np.zeros((n, 4 - width % 4), np.uint8)], axis=1)
    words = np.ascontiguousarray(rows).view(np.uint64 if rows.shape[1] % 8 == 0 else np.uint32)  # a view: no copy
    del rows
    if words.shape[1] == 1:
        key = words[:, 0]
    else:
        key = np.zeros(n, np.uint64)
        with np.errstate(over="ignore"):
            for c in range(words.shape[1]):
                key ^= words[:, c].astype(np.uint64) * _MIX[c % len(_MIX)]
                key = (key << np.uint64(29)) | (key >> np.uint64(35))
    order = np.argsort(key)
    sorted_key = key[order]
    del key
    differs = sorted_key[1:] != sorted_key[:-1]
    del sorted_key
    if words.shape[1] > 1:
        rows_differ = np.zeros(max(n - 1, 0), bool)
        for c in range(words.shape[1]):
            column = words[order, c]
            rows_differ |= column[1:] != column[:-1]
        if (rows_differ & ~differs).any():  # two different rows with the same mix: sort by every word
            order = np.lexsort(words.T[::-1])
            rows_differ[:] = False
            for c in range(words.shape[1]):
                column = words[order, c]
                rows_differ |= column[1:] != column[:-1]
        differs = rows_differ
    del words
    starts = np.concatenate([[True], differs])
    inverse = np.empty(n, np.int32 if n < 2**31 else np.int64)
    inverse[order] = np.cumsum(starts, dtype=inverse.dtype) - 1
    first = np.minimum.reduceat(order, np.flatnonzero(starts)) if n else order
    return first, inverse


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], np.uint64)


def weld() -> Transform:
    """Return the transform that merges bit-identical vertices and drops unused ones."""
    return Transform(NAME, _weld)
