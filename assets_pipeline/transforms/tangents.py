"""Generate tangents (per-vertex, from UV derivatives, w = handedness) where a material's normal map
needs them and the primitive has normals and texture coordinates but no tangents."""

from __future__ import annotations

import numpy as np

from ..document import TRIANGLES, AssetDocument
from .base import Transform

NAME = "tangents"


def vertex_tangents(pos: np.ndarray, nrm: np.ndarray, uv: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(n, 4) float32 tangents; xyz orthogonal to the normal, w = +-1."""
    p = pos.astype(np.float64)
    t = uv.astype(np.float64)
    e1, e2 = p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]]
    d1, d2 = t[tri[:, 1]] - t[tri[:, 0]], t[tri[:, 2]] - t[tri[:, 0]]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    r = np.where(np.abs(det) > 1e-20, 1.0 / np.where(det == 0, 1, det), 0.0)[:, None]
    sdir = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * r
    tdir = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * r
    tan, bit = np.zeros_like(p), np.zeros_like(p)
    for k in range(3):
        np.add.at(tan, tri[:, k], sdir)
        np.add.at(bit, tri[:, k], tdir)
    n = nrm.astype(np.float64)
    tan -= n * (n * tan).sum(axis=1, keepdims=True)
    length = np.linalg.norm(tan, axis=1, keepdims=True)
    fallback = np.cross(n, [0.0, 0.0, 1.0])
    fallback = np.where(np.linalg.norm(fallback, axis=1, keepdims=True) < 1e-6, np.cross(n, [0.0, 1.0, 0.0]), fallback)
    tan = np.where(length > 1e-12, tan / np.maximum(length, 1e-30), fallback / np.linalg.norm(fallback, axis=1,
                                                                                              keepdims=True))
    w = np.where((np.cross(n, tan) * bit).sum(axis=1) < 0, -1.0, 1.0)
    return np.concatenate([tan, w[:, None]], axis=1).astype(np.float32)


def _tangents(doc: AssetDocument) -> None:
    materials = doc.gltf.get("materials", [])
    for _, _, prim in doc.primitives():
        attrs = prim.get("attributes", {})
        mat = materials[prim["material"]] if "material" in prim else {}
        if ("normalTexture" not in mat or "TANGENT" in attrs or prim.get("mode", TRIANGLES) != TRIANGLES
                or not {"POSITION", "NORMAL"} <= attrs.keys()):
            continue
        uv_set = f"TEXCOORD_{mat['normalTexture'].get('texCoord', 0)}"
        if uv_set not in attrs:
            continue
        pos = doc.accessors[attrs["POSITION"]].as_float()
        tri = (doc.accessors[prim["indices"]].array if "indices" in prim else np.arange(len(pos))).reshape(-1, 3)
        attrs["TANGENT"] = doc.add_accessor(vertex_tangents(
            pos, doc.accessors[attrs["NORMAL"]].as_float(), doc.accessors[attrs[uv_set]].as_float(),
            tri.astype(np.int64)))


def tangents() -> Transform:
    """Return the transform that adds tangents to normal-mapped primitives without them."""
    return Transform(NAME, _tangents)
