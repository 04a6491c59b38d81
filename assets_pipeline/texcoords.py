"""Texture coordinates as a texture reads them: the primitive's TEXCOORD_n with KHR_texture_transform applied.

Writers and renderers that cannot express ``KHR_texture_transform`` (USDZ for AR Quick Look, the thumbnail
rasterizer) bake it into the coordinates with :func:`texture_uv`. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .document import AssetDocument

TRANSFORM = "KHR_texture_transform"


def uv_key(texture_info: dict[str, Any]) -> tuple[Any, ...]:
    """What decides the coordinates a texture reads: the set index and the transform (hashable)."""
    tt = texture_info.get("extensions", {}).get(TRANSFORM)
    tex_coord = int(texture_info.get("texCoord", 0))
    if not tt:
        return (tex_coord,)
    tex_coord = int(tt.get("texCoord", tex_coord))
    return (tex_coord, tuple(tt.get("offset", (0.0, 0.0))), float(tt.get("rotation", 0.0)),
            tuple(tt.get("scale", (1.0, 1.0))))


def transform_matrix(texture_info: dict[str, Any]) -> np.ndarray:
    """The 3x3 KHR_texture_transform matrix T * R * S (identity when the extension is absent)."""
    tt = texture_info.get("extensions", {}).get(TRANSFORM) or {}
    ox, oy = (float(v) for v in tt.get("offset", (0.0, 0.0)))
    sx, sy = (float(v) for v in tt.get("scale", (1.0, 1.0)))
    r = float(tt.get("rotation", 0.0))
    c, s = math.cos(r), math.sin(r)
    t = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], np.float64)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)  # GLSL columns (c, s), (-s, c)
    scale = np.diag([sx, sy, 1.0])
    return t @ rot @ scale


def texture_uv(doc: AssetDocument, prim: dict[str, Any], texture_info: dict[str, Any]) -> np.ndarray | None:
    """(n, 2) float64 glTF UVs (origin top-left) that ``texture_info`` samples, or None without that set."""
    key = uv_key(texture_info)
    ref = prim.get("attributes", {}).get(f"TEXCOORD_{key[0]}")
    if ref is None:
        return None
    uv = doc.accessors[ref].as_float().astype(np.float64)
    if len(key) == 1:
        return uv
    m = transform_matrix(texture_info)
    return uv @ m[:2, :2].T + m[:2, 2]
