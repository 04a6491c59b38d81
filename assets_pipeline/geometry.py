"""Pure numpy geometry shared by the pipeline and the packages above it: vertex normals, area-weighted surface
points, quaternion rotations. No documents, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def face_normals(positions: np.ndarray, triangles: np.ndarray, unit: bool = True) -> np.ndarray:
    """(m, 3) float64 normals of ``triangles`` (m, 3) int of ``positions`` (n, 3), counter-clockwise winding:
    unit length (zero for degenerate triangles), or with ``unit=False`` of length twice the triangle's area."""
    pos = np.asarray(positions, np.float64)
    tri = np.asarray(triangles, np.int64)
    face = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
    if not unit:
        return face
    length = np.linalg.norm(face, axis=1, keepdims=True)
    return np.where(length > 0, face / np.maximum(length, 1e-300), 0.0)


def normals_are_flat(normals: np.ndarray, positions: np.ndarray, triangles: np.ndarray,
                     max_angle_deg: float = 1.0) -> bool:
    """True when every vertex normal (n, 3) of every non-degenerate triangle (m, 3) lies within ``max_angle_deg``
    of that triangle's face normal (flat shading, which a glTF client computes itself when NORMAL is absent)."""
    faces = face_normals(positions, triangles)
    solid = np.any(faces != 0, axis=1)
    if not solid.any():
        return False
    n = np.asarray(normals, np.float64)
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    cos = np.einsum("ij,ikj->ik", faces[solid], n[np.asarray(triangles, np.int64)[solid]])
    return bool(cos.min() >= np.cos(np.radians(max_angle_deg)))


def vertex_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """positions : (n, 3) float; triangles : (m, 3) int -> (n, 3) float32 unit normals."""
    pos = positions.astype(np.float64)
    _, pos_id = np.unique(pos, axis=0, return_inverse=True)
    pos_id = pos_id.reshape(-1)
    tri = triangles.astype(np.int64)
    face = face_normals(pos, tri, unit=False)  # length = 2 * area
    acc = np.zeros((int(pos_id.max()) + 1 if pos_id.size else 0, 3))
    for k in range(3):
        np.add.at(acc, pos_id[tri[:, k]], face)
    n = acc[pos_id]
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.maximum(length, 1e-30), [0.0, 1.0, 0.0]).astype(np.float32)


def random_surface_points(v: np.ndarray, f: np.ndarray, count: int, rng: np.random.Generator,
                          picks: list[np.ndarray] | None = None) -> np.ndarray:
    """(count, 3) points spread uniformly over the area of triangles ``f`` (m, 3) of vertices ``v`` (n, 3), drawn
    from ``rng`` (triangle by area, then two uniforms per point). The triangles must have some area. ``picks``, when
    given, receives each point's triangle (row of ``f``)."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    pick = rng.choice(len(f), size=count, p=area / area.sum())
    if picks is not None:
        picks.append(pick)
    s = np.sqrt(rng.random(count))
    r2 = rng.random(count)
    return (1 - s)[:, None] * a[pick] + (s * (1 - r2))[:, None] * b[pick] + (s * r2)[:, None] * c[pick]


def quat_to_matrix(q: Sequence[float], normalize: bool = False) -> np.ndarray:
    """(3, 3) rotation of the (x, y, z, w) quaternion ``q``; with ``normalize``, ``q`` is made unit first (a zero
    or non-finite one gives the identity), for quaternions read from text files."""
    x, y, z, w = q
    if normalize:
        n = np.sqrt(x * x + y * y + z * z + w * w)
        if n == 0 or not np.isfinite(n):
            return np.eye(3)
        x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
