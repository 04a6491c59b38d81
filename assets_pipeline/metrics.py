"""Geometric error between two documents: symmetric Hausdorff distance between their surfaces.

Both surfaces are sampled (all vertices plus area-weighted random points) and each sample's exact
distance to the other surface is found with Open3D's ray-casting scene (point-to-triangle, BVH).
"""

from __future__ import annotations

import contextlib

import numpy as np

from .document import AssetDocument
from .geometry import random_surface_points
from .scene import world_triangles


def preload() -> None:
    """Start importing Open3D (1.5-6 s) in a background thread, so that it overlaps with the work before the first
    measurement (the import lock makes the first user wait for what is left of it)."""
    import threading

    def _load() -> None:
        with contextlib.suppress(ImportError):
            import open3d  # noqa: F401

    threading.Thread(target=_load, name="open3d-import", daemon=True).start()


def sample_surface(v: np.ndarray, f: np.ndarray, count: int, rng: np.random.Generator,
                   midpoints: bool = True) -> np.ndarray:
    """Points for measuring a surface: its vertices, edge midpoints (unless not ``midpoints``) and centroids, then
    ``count`` random points spread by area (:func:`.geometry.random_surface_points`); the vertices alone when it has
    no area."""
    if len(f) == 0:
        return v
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    if np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() <= 0:
        return v
    pts = random_surface_points(v, f, count, rng)
    # vertices, edge midpoints and centroids always count: the largest deviations of a simplified surface
    # sit there or near them, and random points alone make the maximum noisy from seed to seed
    mids = np.concatenate([(a + b) / 2, (b + c) / 2, (c + a) / 2, (a + b + c) / 3] if midpoints else [(a + b + c) / 3])
    return np.concatenate([v[np.unique(f)], mids, pts])


def split_long_edges(v: np.ndarray, f: np.ndarray, max_edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Bisect every triangle's longest edge until no edge is longer than ``max_edge``; the surface is
    unchanged. Open3D 0.19's closest-point query (Embree) returns wrong answers near long, thin
    triangles (measured: 0.02 % of the diagonal on a self-comparison of samples/models/display-stand.obj,
    whose column sides are 88 x 0.8 cm); after splitting the same query agrees to 1e-7."""
    for _ in range(64):
        e = np.stack([np.linalg.norm(v[f[:, (k + 1) % 3]] - v[f[:, (k + 2) % 3]], axis=1) for k in range(3)], 1)
        longest = e.argmax(axis=1)
        long = e.max(axis=1) > max_edge
        if not long.any():
            break
        fl, kl = f[long], longest[long]
        rows = np.arange(len(fl))
        a, b, c = fl[rows, kl], fl[rows, (kl + 1) % 3], fl[rows, (kl + 2) % 3]
        mid = np.arange(len(v), len(v) + len(fl))
        v = np.concatenate([v, (v[b] + v[c]) / 2])
        f = np.concatenate([f[~long], np.stack([a, b, mid], 1), np.stack([a, mid, c], 1)])
    return v, f


def _scene(v: np.ndarray, f: np.ndarray) -> object:
    import open3d as o3d

    v, f = split_long_edges(v, f, 0.02 * float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(f.astype(np.uint32)))
    return scene


def _distances(points: np.ndarray, scene: object) -> np.ndarray:
    import open3d as o3d

    return scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()  # type: ignore[attr-defined]


class SurfaceReference:
    """One surface measured against many others (the simplifier's candidates): its samples and its
    distance scene are built once. Results are the same as :func:`surface_hausdorff` for each pair."""

    def __init__(self, v: np.ndarray, f: np.ndarray, samples: int = 200_000, seed: int = 0) -> None:
        self.v, self.f, self.samples = v, f, samples
        rng = np.random.default_rng(seed)
        self.diag = (float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if len(v) else 0.0) or 1.0
        self.points = sample_surface(v, f, samples, rng) if len(f) else v
        self._rng_state = rng.bit_generator.state  # the other surface's samples continue this stream
        self._scene: object | None = None

    def hausdorff(self, vb: np.ndarray, fb: np.ndarray) -> float:
        """Symmetric Hausdorff distance to (vb, fb), as a fraction of this surface's bounding-box diagonal."""
        return self.distance(vb, fb) / self.diag

    def distance(self, vb: np.ndarray, fb: np.ndarray) -> float:
        """Symmetric Hausdorff distance to (vb, fb), in the surfaces' units."""
        if len(self.f) == 0 or len(fb) == 0:
            return 0.0 if len(self.f) == len(fb) else float("inf")
        rng = np.random.default_rng()
        rng.bit_generator.state = self._rng_state
        if self._scene is None:
            self._scene = _scene(self.v, self.f)
        d_ab = _distances(self.points, _scene(vb, fb)).max()
        d_ba = _distances(sample_surface(vb, fb, self.samples, rng), self._scene).max()
        return float(max(d_ab, d_ba))


class PartsReference:
    """A surface made of parts (a model's primitives) measured against simplified versions of the same parts: each
    part's error is the largest distance from its samples to the other union (the union's symmetric Hausdorff
    distance is the largest part's). Samples and the distance scene of the reference are built once."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray]], samples: int = 20_000, seed: int = 0) -> None:
        self.parts = parts
        self.rng = np.random.default_rng(seed)
        # the reference: vertices, centroids and as many random points as triangles (the simplifier's choices are
        # measured often; the output is measured once with the full sampling); the simplified side has fewer,
        # larger triangles, whose edge midpoints are where they leave the reference most
        pts = [sample_surface(v, f, min(samples, max(500, len(f))), self.rng, False) for v, f in parts]
        self.points = np.concatenate(pts) if pts else np.zeros((0, 3))
        self.labels = np.repeat(np.arange(len(parts)), [len(p) for p in pts])
        self._scene: object | None = None

    def same(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> bool:
        """True when ``parts`` are this reference's parts (same vertices and triangles)."""
        return len(parts) == len(self.parts) and all(
            (v is rv and f is rf) or (v.shape == rv.shape and f.shape == rf.shape and np.array_equal(f, rf)
                                      and np.array_equal(v, rv))
            for (v, f), (rv, rf) in zip(parts, self.parts, strict=True))

    def distances(self, simplified: list[np.ndarray]) -> np.ndarray:
        """Each part's symmetric Hausdorff distance to the union when the parts' triangles are ``simplified`` (one
        (m, 3) array per part, on the same vertices), in the parts' units."""
        out = np.zeros(len(self.parts))
        if not self.parts:
            return out
        if self._scene is None:
            self._scene = _scene(*_union(self.parts))
        kept = [(v, f) for (v, _), f in zip(self.parts, simplified, strict=True)]
        if sum(len(f) for _, f in kept) == 0:
            return np.full(len(self.parts), np.inf)
        np.maximum.at(out, self.labels, _distances(self.points, _scene(*_union(kept))))
        pts = [sample_surface(v, f, min(4 * len(f), 20_000), self.rng) if len(f) else np.zeros((0, 3))
               for v, f in kept]
        labels = np.repeat(np.arange(len(kept)), [len(p) for p in pts])
        np.maximum.at(out, labels, _distances(np.concatenate(pts), self._scene))
        return out


def _union(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One (vertices, triangles) of several parts."""
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return (np.concatenate([v for v, _ in parts]),
            np.concatenate([f.astype(np.int64) + o for (_, f), o in zip(parts, offsets, strict=True)]))


def hausdorff(reference: AssetDocument, other: AssetDocument, samples: int = 200_000, seed: int = 0) -> float:
    """Symmetric Hausdorff distance between the two documents' triangle surfaces, as a fraction of the
    reference's bounding-box diagonal."""
    va, fa = world_triangles(reference)
    vb, fb = world_triangles(other)
    return surface_hausdorff(va, fa, vb, fb, samples, seed)


def surface_hausdorff(va: np.ndarray, fa: np.ndarray, vb: np.ndarray, fb: np.ndarray, samples: int = 200_000,
                      seed: int = 0) -> float:
    """Symmetric Hausdorff distance between two triangle surfaces (vertices (n, 3), triangles (m, 3)), as a
    fraction of the first one's bounding-box diagonal."""
    return SurfaceReference(va, fa, samples, seed).hausdorff(vb, fb)
