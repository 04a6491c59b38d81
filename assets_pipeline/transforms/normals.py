"""Generate smooth, area-weighted normals for triangle primitives that have none.

Vertices that share a position (UV seams) share a normal, so seams do not show in the shading.
"""

from __future__ import annotations

import numpy as np

from ..document import TRIANGLES, AssetDocument
from .base import Transform

NAME = "normals"


def vertex_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """positions : (n, 3) float; triangles : (m, 3) int -> (n, 3) float32 unit normals."""
    pos = positions.astype(np.float64)
    _, pos_id = np.unique(pos, axis=0, return_inverse=True)
    pos_id = pos_id.reshape(-1)
    tri = triangles.astype(np.int64)
    face = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])  # length = 2 * area
    acc = np.zeros((int(pos_id.max()) + 1 if pos_id.size else 0, 3))
    for k in range(3):
        np.add.at(acc, pos_id[tri[:, k]], face)
    n = acc[pos_id]
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.maximum(length, 1e-30), [0.0, 1.0, 0.0]).astype(np.float32)


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
