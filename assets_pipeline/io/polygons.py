"""Triangulate polygon faces: fans for convex ones, ear clipping for concave ones."""

from __future__ import annotations

import numpy as np


def triangulate(poly: list[int], positions: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles (as positions into ``poly``) covering the polygon whose corner i is vertex ``poly[i]``."""
    n = len(poly)
    if n == 3:
        return [(0, 1, 2)]
    pts = positions[poly].astype(np.float64)
    normal = np.zeros(3)
    for i in range(n):  # Newell's method
        a, b = pts[i], pts[(i + 1) % n]
        normal += np.array([(a[1] - b[1]) * (a[2] + b[2]), (a[2] - b[2]) * (a[0] + b[0]),
                            (a[0] - b[0]) * (a[1] + b[1])])
    if not np.any(normal):
        return [(0, i, i + 1) for i in range(1, n - 1)]
    axis = int(np.argmax(np.abs(normal)))
    keep = [k for k in range(3) if k != axis]
    p2 = pts[:, keep]
    if normal[axis] < 0:
        p2 = p2[:, ::-1]

    def cross(o: int, a: int, b: int) -> float:
        return float((p2[a, 0] - p2[o, 0]) * (p2[b, 1] - p2[o, 1]) - (p2[a, 1] - p2[o, 1]) * (p2[b, 0] - p2[o, 0]))

    if all(cross(i, (i + 1) % n, (i + 2) % n) >= 0 for i in range(n)):
        return [(0, i, i + 1) for i in range(1, n - 1)]
    remaining = list(range(n))
    tris: list[tuple[int, int, int]] = []
    guard = 0
    while len(remaining) > 3 and guard < n * n:
        guard += 1
        m = len(remaining)
        for j in range(m):
            a, b, c = remaining[j - 1], remaining[j], remaining[(j + 1) % m]
            if cross(a, b, c) <= 0:
                continue
            if any(_inside(p2[k], p2[a], p2[b], p2[c]) for k in remaining if k not in (a, b, c)):
                continue
            tris.append((a, b, c))
            remaining.pop(j)
            break
        else:
            break  # degenerate polygon: fan the rest
    tris.extend((remaining[0], remaining[i], remaining[i + 1]) for i in range(1, len(remaining) - 1))
    return tris


def _inside(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    def s(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> float:
        return float((p1[0] - p3[0]) * (p2[1] - p3[1]) - (p2[0] - p3[0]) * (p1[1] - p3[1]))

    d1, d2, d3 = s(p, a, b), s(p, b, c), s(p, c, a)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))
