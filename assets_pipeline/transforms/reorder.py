"""Reorder triangles for the GPU's vertex cache and vertices for fetch locality (meshoptimizer), which
also makes the compressed streams smaller; vertices no triangle uses are dropped."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..document import TRIANGLES, AssetDocument
from .base import Transform, attribute_key, remap_vertices

NAME = "reorder"


def reorder(cache_optimizer: Callable[[np.ndarray, int], np.ndarray],
            fetch_remap: Callable[[np.ndarray, int], tuple[np.ndarray, int]]) -> Transform:
    """Return the transform that reorders triangles for the vertex cache and vertices for fetch, with the given
    functions."""
    def _apply(doc: AssetDocument) -> None:
        owners: dict[tuple[object, ...], int] = {}
        for _, _, prim in doc.primitives():
            owners[attribute_key(prim)] = owners.get(attribute_key(prim), 0) + 1
        for _, _, prim in doc.primitives():
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "indices" not in prim or "POSITION" not in attrs:
                continue
            n = doc.accessors[attrs["POSITION"]].count
            idx = doc.accessors[prim["indices"]].array.reshape(-1)
            if len(idx) % 3:
                continue
            idx = cache_optimizer(idx, n)
            if owners[attribute_key(prim)] == 1:  # vertices not shared with another primitive
                remap, used = fetch_remap(idx, n)
                keep = np.empty(used, np.int64)
                valid = remap != 0xFFFFFFFF
                keep[remap[valid]] = np.flatnonzero(valid)
                remap_vertices(doc, prim, keep)
                idx = remap[idx]
            prim["indices"] = doc.add_accessor(idx.astype(np.uint32))

    return Transform(NAME, _apply)
