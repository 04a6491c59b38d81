"""Generate smooth, area-weighted normals for triangle primitives that have none.

Vertices that share a position (UV seams) share a normal, so seams do not show in the shading.
"""

from __future__ import annotations

import numpy as np

from ..document import TRIANGLES, AssetDocument
from ..geometry import vertex_normals
from .base import Transform

NAME = "normals"


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
