"""Geometric error between two documents: symmetric Hausdorff distance between their surfaces.

Both surfaces are sampled (all vertices plus area-weighted random points) and the largest exact distance of
the samples to the other surface is found by :class:`TriangleDistance` (point-to-triangle, KD-tree of triangle
centroids; earlier Open3D's ray-casting scene, whose import alone took 1.5-6 s).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from .document import AssetDocument
from .geometry import random_surface_points
from .limits import processors
from .scene import world_triangles

QUICK = 16
"""A measurement that may stop early looks at every QUICK-th point first (a worse candidate shows there)."""
SPLIT = 20_000
"""A measurement without a stop searches the reference's moved points in two halves side by side from this many
points on (each half: on ToyCar.gltf the search of the simplified surface took twice the reference's)."""
QUICK_FORWARD = 4
"""... and at every QUICK_FORWARD-th of the reference's moved points, before all of them: on igea.ply at 50 % an
order 35 % worse than the kept one peaks at a reference point that every 16th missed (rejected after 0.67 s CPU
instead of 1.11 s)."""


def sample_surface(v: np.ndarray, f: np.ndarray, count: int, rng: np.random.Generator,
                   midpoints: bool = True, origin: list[np.ndarray] | None = None) -> np.ndarray:
    """Points for measuring a surface: its vertices, edge midpoints (unless not ``midpoints``) and centroids, then
    ``count`` random points spread by area
    (:func:`.geometry.random_surface_points`); the vertices alone when it has no area. ``origin``, when given,
    receives where each point comes from: a vertex (-1 - its index) or a triangle (its row of ``f``)."""
    if len(f) == 0:
        return v
    used = np.unique(f)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    if np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() <= 0:
        if origin is not None:
            origin.append(-1 - np.arange(len(v)))
        return v
    picks: list[np.ndarray] = []
    pts = random_surface_points(v, f, count, rng, picks)
    # vertices, edge midpoints and centroids always count: the largest deviations of a simplified surface
    # sit there or near them, and random points alone make the maximum noisy from seed to seed
    rows = np.arange(len(f))
    if midpoints:  # each edge once (a shared edge's midpoint is the same point for both triangles)
        edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1).astype(np.int64)
        _, first = np.unique(edges[:, 0] * len(v) + edges[:, 1], return_index=True)
        mids = np.concatenate([(v[edges[first, 0]] + v[edges[first, 1]]) / 2, (a + b + c) / 3])
        sources = [np.tile(rows, 3)[first], rows]
    else:
        mids, sources = (a + b + c) / 3, [rows]
    if origin is not None:
        origin.append(np.concatenate([-1 - used, *sources, picks[0]]))
    return np.concatenate([v[used], mids, pts])


def split_long_edges(v: np.ndarray, f: np.ndarray, max_edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Bisect every triangle's longest edge until no edge is longer than ``max_edge``; the surface is
    unchanged. It bounds the triangles' radius, which :class:`TriangleDistance` searches within (it was first
    written for Open3D 0.19's closest-point query, which returned wrong answers near long, thin triangles)."""
    done = []
    for _ in range(64):
        corner = [v[f[:, k]] for k in range(3)]
        e = np.empty((len(f), 3))
        for k in range(3):  # what np.linalg.norm(axis=1) computes, without its copies
            d = corner[(k + 1) % 3] - corner[(k + 2) % 3]
            e[:, k] = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])
        long = e.max(axis=1) > max_edge
        done.append(f[~long])
        if not long.any():
            break
        fl, kl = f[long], e[long].argmax(axis=1)
        rows = np.arange(len(fl))
        a, b, c = fl[rows, kl], fl[rows, (kl + 1) % 3], fl[rows, (kl + 2) % 3]
        mid = np.arange(len(v), len(v) + len(fl))
        v = np.concatenate([v, (v[b] + v[c]) / 2])
        f = np.concatenate([np.stack([a, b, mid], 1), np.stack([a, mid, c], 1)])
    else:
        done.append(f)
    f = np.concatenate(done) if done else f
    return v, f


class TriangleDistance:
    """Exact distances from points to one triangle surface, in NumPy and SciPy (no import of a 3D library).

    The triangles' centroids go into a KD-tree. A point's distance to the triangles of its nearest centroids is an
    upper bound of its distance to the surface; a triangle whose centroid is farther from the point than that
    bound plus the triangle's radius (centroid to farthest corner) cannot be nearer, so the triangles within the
    bound plus the largest radius hold the exact answer. Only the largest distances are asked for (Hausdorff),
    so only the points whose bound could still be the largest are made exact, in decreasing order of their bound.
    Long triangles are bisected first (:func:`split_long_edges`), which bounds the radius. Coordinates are taken
    relative to the bounding-box centre in float32 (as Open3D's query did), sums in float32."""

    CHUNK = 1 << 13
    """Point-triangle pairs computed at a time (the temporary arrays stay in the processor's cache: 1 << 13 took
    0.7x the time of 1 << 16 on a million of ToyCar's pairs)."""
    NEAR = 4
    """Nearest centroids whose triangles give each point's first bound."""
    SPLIT = 0.05
    """Longest edge kept, relative to the diagonal (longer ones are bisected: a point near the far end of a long
    triangle is otherwise far from its centroid and its first bound loose)."""
    CLASSES = 5
    """Size classes of triangles for the exact search (radius within a factor 2, the last one the smallest)."""
    GAPS = 1 << 15
    """Ball-search pairs whose centroid distances are computed at a time (the temporary arrays stay in cache)."""

    def __init__(self, v: np.ndarray, f: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        v = np.asarray(v, np.float64)
        self.origin = (v.max(axis=0) + v.min(axis=0)) / 2 if len(v) else np.zeros(3)
        v, f = split_long_edges(v - self.origin, np.asarray(f, np.int64),
                                self.SPLIT * float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if len(v) else 1.0)
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        ab, ac, bc = b - a, c - a, c - b
        n = np.cross(ab, ac)
        length = np.linalg.norm(n, axis=1)
        flat = length <= 0  # no interior: only its edges count (NaN edge normals fail the inside test)
        inward = [np.cross(n, ab), np.cross(n, bc), np.cross(ac, n)]
        for e in inward:
            e[flat] = np.nan
        inverse = [np.where(sq > 0, 1.0 / np.where(sq > 0, sq, 1.0), 0.0)[:, None]
                   for sq in (np.einsum("ij,ij->i", e, e) for e in (ab, ac, bc))]
        # one row per triangle, one column per number: a, ab, ac, bc, unit normal, inward edge normals (xyz each),
        # 1/|ab|^2, 1/|ac|^2, 1/|bc|^2 (a triangle's numbers side by side: gathering rows reads one or two cache lines
        # a triangle where gathering from one row per number read 27; filled column by column: one float64 copy of
        # the whole table took a third of the build)
        columns = [a, ab, ac, bc, n / np.where(flat, 1.0, length)[:, None], *inward, *inverse]
        self.table = np.empty((len(f), sum(x.shape[1] for x in columns)), np.float32)
        col = 0
        for x in columns:
            self.table[:, col:col + x.shape[1]] = x
            col += x.shape[1]
        centroid = (a + b + c) / 3
        self.radius = np.sqrt(np.max([np.einsum("ij,ij->i", x - centroid, x - centroid) for x in (a, b, c)], axis=0)) \
            if len(f) else np.zeros(0)
        self.centroid_xyz = centroid.T.copy()  # one row per coordinate, for the ball search's centroid distances
        self.tree = cKDTree(centroid) if len(f) else None
        # for the exact search, the triangles by size (radius halving from the largest): a ball around a point
        # reaches each class's centroids by that class's largest radius, not the whole surface's
        largest = float(self.radius.max()) if len(f) else 0.0
        rank = np.minimum(np.floor(np.log2(largest / np.maximum(self.radius, 1e-30 * largest))), self.CLASSES - 1) \
            if len(f) else np.zeros(0)
        self.classes = [(ids, float(self.radius[ids].max()), cKDTree(centroid[ids]))
                        for ids in (np.flatnonzero(rank == k) for k in range(self.CLASSES)) if len(ids)]

    def _pairs(self, p: np.ndarray, tri: np.ndarray) -> np.ndarray:
        """Distance of each point ``p[i]`` to triangle ``tri[i]``."""
        out = np.empty(len(p))
        for s in range(0, len(p), self.CHUNK):
            q = p[s:s + self.CHUNK].T.astype(np.float32)
            # the rows gathered, then one number a row for the arithmetic (NumPy's loops are fast on contiguous rows)
            out[s:s + self.CHUNK] = _point_triangle(q, self.table.take(tri[s:s + self.CHUNK], axis=0).T.copy())
        return out

    def _nearest(self, p: np.ndarray, k: int) -> np.ndarray:
        """Upper bounds: each point's distance to the nearest of the triangles of its ``k`` nearest centroids."""
        assert self.tree is not None
        k = min(k, self.tree.n)
        _, near = self.tree.query(p, k=k)
        if k == 1:
            return self._pairs(p, near)
        return self._pairs(np.repeat(p, k, axis=0), near.reshape(-1)).reshape(-1, k).min(axis=1)

    def _exact(self, p: np.ndarray, bound: np.ndarray) -> np.ndarray:
        """Exact distances of points whose distance is at most ``bound``: every triangle that could be nearer (each
        size class searched within the bound plus its largest radius, more neighbours for the points that fill
        the first answer)."""
        out = bound.copy()
        # the KD-tree takes one search radius per call: points in chunks of similar bounds
        order = np.argsort(bound)
        for chunk in range(0, len(p), 256):
            self._search(p, bound, out, order[chunk:chunk + 256])
        return out

    def _search(self, p: np.ndarray, bound: np.ndarray, out: np.ndarray, rows: np.ndarray) -> None:
        """:meth:`_exact` for the points ``rows``, written into ``out``: the 16 nearest centroids of each size
        class within reach, and for the points with 16 all of them (a ball search)."""
        start = rows
        for ids, reach, tree in self.classes[::-1]:  # small triangles first: what they find narrows the next search
            k = min(16, tree.n)
            dist, near = tree.query(p[start], k=k, distance_upper_bound=float(out[start].max()) + reach)
            dist, near = dist.reshape(len(start), k), near.reshape(len(start), k)
            found = near < tree.n
            who, col = np.nonzero(found)
            self._update(p, out, start[who], ids[near[who, col]], dist[who, col])
            full = found[:, -1] if k < tree.n else np.zeros(len(start), bool)
            if full.any():
                lists = tree.query_ball_point(p[start[full]], out[start[full]] + reach, return_sorted=False)
                sizes = np.fromiter(map(len, lists), np.int64, len(lists))
                tri = ids[np.fromiter(itertools.chain.from_iterable(lists), np.int64, int(sizes.sum()))]
                self._ball(p, out, np.repeat(start[full], sizes), tri, np.repeat(dist[full, -1], sizes))

    def _ball(self, p: np.ndarray, out: np.ndarray, at: np.ndarray, tri: np.ndarray, kth: np.ndarray) -> None:
        """:meth:`_update` for a ball search's pairs, whose points' 16 nearest centroids (the farthest at ``kth``) were
        measured before: a centroid clearly nearer than ``kth`` is one of them and is skipped. Centroid distances in
        pieces of ``GAPS`` pairs, all tested against ``out`` as it was before any of them."""
        keep = np.empty(len(at), bool)
        px, py, pz = p.T.copy()
        cx, cy, cz = self.centroid_xyz
        for s in range(0, len(at), self.GAPS):
            a, t = at[s:s + self.GAPS], tri[s:s + self.GAPS]
            # what np.linalg.norm(p[a] - centroids[t], axis=1) computes (the same numbers), one coordinate at a time
            d = px[a] - cx[t]
            gap = d * d
            d = py[a] - cy[t]
            gap += d * d
            d = pz[a] - cz[t]
            gap += d * d
            np.sqrt(gap, out=gap)  # the KD-tree's distance to within rounding
            keep[s:s + self.GAPS] = (gap >= kth[s:s + self.GAPS] * (1 - 1e-9)) & (gap - self.radius[t] < out[a])
        self._lower(p, out, at[keep], tri[keep])

    def _update(self, p: np.ndarray, out: np.ndarray, at: np.ndarray, tri: np.ndarray, gap: np.ndarray) -> None:
        """Lower ``out[at]`` to the distance to triangle ``tri`` (pairs grouped by point; ``gap``: centroid
        distance) where the triangle can be nearer."""
        keep = gap - self.radius[tri] < out[at]
        self._lower(p, out, at[keep], tri[keep])

    def _lower(self, p: np.ndarray, out: np.ndarray, at: np.ndarray, tri: np.ndarray) -> None:
        """Lower ``out[at]`` to the distance to triangle ``tri`` (pairs grouped by point)."""
        if len(at):
            first = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
            out[at[first]] = np.minimum(out[at[first]], np.minimum.reduceat(self._pairs(p[at], tri), first))

    def bounds(self, points: np.ndarray, cancel: threading.Event | None = None) -> np.ndarray:
        """Upper bounds of the points' distances, the first step of :meth:`largest` (each point's its own, so
        bounds computed once serve a later call on more points). Once ``cancel`` is set, the rest are inf."""
        p = np.asarray(points, np.float64) - self.origin
        bound = np.full(len(p), np.inf)
        if self.tree is None:
            return bound
        # each point's bound is its own: asked for in space-filling-curve order, neighbouring queries walk the same
        # branches of the KD-tree and read the same triangles (a fifth to a third less time than in sample order)
        order = spatial_order(p)
        for s in range(0, len(p), 1 << 15):  # in pieces, to notice ``cancel``
            if cancel is not None and cancel.is_set():
                break
            rows = order[s:s + (1 << 15)]
            bound[rows] = self._nearest(p[rows], self.NEAR)
        return bound

    def largest(self, points: np.ndarray, labels: np.ndarray | None = None, count: int = 1,
                stop: float = np.inf, cancel: threading.Event | None = None,
                bounds: np.ndarray | None = None, beside: list[np.ndarray] | None = None) -> np.ndarray:
        """(count,) the largest distance from the points of each label (0..count-1; default: all one label) to the
        surface, exact; 0 for a label without points, inf when the surface has no triangles. With ``stop``, the
        search ends as soon as one label's distance reaches it (that label's value is then at least ``stop``, the
        others' lower bounds). Once ``cancel`` is set, it ends soon with a meaningless result. ``bounds``: the
        points' :meth:`bounds`, when already known. ``beside``: the largest distances found so far by searches of
        other points running beside this one (each appends its own array, updated as it goes): a point below them
        is not searched (each value is a distance found, so the largest over every search stays exact)."""
        labels = np.zeros(len(points), np.int64) if labels is None else np.asarray(labels, np.int64)
        if self.tree is None:
            return np.where(np.bincount(labels, minlength=count) > 0, np.inf, 0.0)
        best = np.full(count, -np.inf)
        if beside is not None:
            beside.append(best)
        if not len(points):
            return np.zeros(count)
        p = np.asarray(points, np.float64) - self.origin
        bound = self.bounds(points, cancel) if bounds is None else np.array(bounds, np.float64)
        if cancel is not None and cancel.is_set():
            return np.zeros(count)
        exact = np.zeros(len(p), bool)
        refined = np.zeros(len(p), bool)
        # first the points with the largest bounds of each label and overall: the largest distance is most likely
        # among them, and every point whose bound is below it is done
        order = np.lexsort((-bound, labels))
        starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        todo, batch = np.union1d(order[rank < 8], np.argpartition(-bound, min(512, len(p) - 1))[:512]), 1024
        while len(todo):
            if cancel is not None and cancel.is_set():
                break
            bound[todo] = self._exact(p[todo], bound[todo])
            exact[todo] = True
            np.maximum.at(best, labels[todo], bound[todo])
            if best.max() >= stop:
                break
            found = best if beside is None else np.max(beside, axis=0)  # found here or beside
            open_ = np.flatnonzero(~exact & (bound > found[labels]))
            fresh = open_[~refined[open_]]
            if len(fresh) > 2 * batch:  # many loose bounds: tighten them with more neighbours before going exact
                rows = fresh[spatial_order(p[fresh])]  # in space-filling-curve order, as in :meth:`bounds`
                bound[rows] = np.minimum(bound[rows], self._nearest(p[rows], 4 * self.NEAR))
                refined[fresh] = True
                open_ = open_[bound[open_] > found[labels[open_]]]
            todo = open_[np.argsort(-bound[open_])[:batch]]
            batch = min(2 * batch, 1 << 14)
        return np.where(np.isfinite(best), best, 0.0)


_SPREAD = np.zeros(1024, np.int64)
for _bit in range(10):
    _SPREAD |= ((np.arange(1024) >> _bit) & 1) << (3 * _bit)


def spatial_order(points: np.ndarray) -> np.ndarray:
    """Indices that put 3D points (n, 3) in Morton (Z-curve) order on a 1024^3 grid over their bounding box: points
    near each other in space come near each other in the order."""
    if len(points) < 2:
        return np.arange(len(points))
    lo, hi = points.min(axis=0), points.max(axis=0)
    cell = np.clip(((points - lo) * (1023.0 / max(float((hi - lo).max()), 1e-300))).astype(np.int64), 0, 1023)
    return np.argsort(_SPREAD[cell[:, 0]] | (_SPREAD[cell[:, 1]] << 1) | (_SPREAD[cell[:, 2]] << 2), kind="stable")


def _point_triangle(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Exact distance of points p (3, n) to triangles t (27, n), one row per number (the transpose of rows of
    :class:`TriangleDistance`'s table): the distance to the plane when the point projects inside, else to the
    nearest edge."""
    def dot(u: np.ndarray, w: np.ndarray) -> np.ndarray:
        return u[0] * w[0] + u[1] * w[1] + u[2] * w[2]

    ap = p - t[0:3]
    bp = ap - t[3:6]
    cp = ap - t[6:9]
    inside = (dot(t[15:18], ap) >= 0) & (dot(t[18:21], bp) >= 0) & (dot(t[21:24], cp) >= 0)
    nearest = None
    for q, e, inv in ((ap, t[3:6], t[24]), (ap, t[6:9], t[25]), (bp, t[9:12], t[26])):
        r = q - np.clip(dot(q, e) * inv, 0.0, 1.0) * e
        sq = dot(r, r)
        nearest = sq if nearest is None else np.minimum(nearest, sq, out=nearest)
    return np.where(inside, np.abs(dot(t[12:15], ap)), np.sqrt(nearest))


class SurfaceReference:
    """One surface measured against many others (the simplifier's candidates): its samples and its
    distance index are built once. Results are the same as :func:`surface_hausdorff` for each pair."""

    def __init__(self, v: np.ndarray, f: np.ndarray, samples: int = 200_000, seed: int = 0) -> None:
        self.v, self.f, self.samples = v, f, samples
        rng = np.random.default_rng(seed)
        self.diag = (float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if len(v) else 0.0) or 1.0
        self.points = sample_surface(v, f, samples, rng) if len(f) else v
        self._rng_state = rng.bit_generator.state  # the other surface's samples continue this stream
        self._index: TriangleDistance | None = None

    def hausdorff(self, vb: np.ndarray, fb: np.ndarray) -> float:
        """Symmetric Hausdorff distance to (vb, fb), as a fraction of this surface's bounding-box diagonal."""
        return self.distance(vb, fb) / self.diag

    def distance(self, vb: np.ndarray, fb: np.ndarray) -> float:
        """Symmetric Hausdorff distance to (vb, fb), in the surfaces' units."""
        if len(self.f) == 0 or len(fb) == 0:
            return 0.0 if len(self.f) == len(fb) else float("inf")
        # the two directions are independent: the other surface's samples measured against this one's index in a
        # worker, this one's samples against the other's index here (the same numbers as one after the other)
        backward = _background(self._backward, vb, fb)
        try:
            d_ab = TriangleDistance(vb, fb).largest(self.points)[0]
        finally:
            d_ba = backward.result()
        return float(max(d_ab, d_ba))

    def _backward(self, vb: np.ndarray, fb: np.ndarray) -> float:
        """The largest distance from samples of (vb, fb) to this surface (its index made the first time)."""
        rng = np.random.default_rng()
        rng.bit_generator.state = self._rng_state
        if self._index is None:
            self._index = TriangleDistance(self.v, self.f)
        return float(self._index.largest(sample_surface(vb, fb, self.samples, rng))[0])


class PartsReference:
    """A surface made of parts (a model's primitives) measured against simplified versions of the same parts: each
    part's error is the largest distance from its samples to the other union (the union's symmetric Hausdorff
    distance is the largest part's). Samples and the distance index of the reference are built once."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray]], samples: int = 20_000, seed: int = 0,
                 background: bool = False) -> None:
        """With ``background``, the samples and the index are made in two worker threads (while the caller waits for
        something else, such as the simplifier's process); the first measurement waits for the samples, and for the
        index only where it needs it (it makes the simplified surface's samples and index meanwhile)."""
        self.parts = parts
        self.rng = np.random.default_rng(seed)
        self._index: TriangleDistance | None = None
        self._building: Future[TriangleDistance] | _Later | None = None
        self._last: tuple[list[np.ndarray], np.ndarray] | None = None
        self._ready = _background(self._prepare, samples) if background else None
        if self._ready is None:
            self._prepare(samples)
        elif parts:
            self._building = _background(lambda: TriangleDistance(*_union(parts)))

    def _reference_index(self) -> TriangleDistance:
        """The reference's distance index (made in the background, or now)."""
        if self._index is None:
            self._index = self._building.result() if self._building is not None else \
                TriangleDistance(*_union(self.parts))
        return self._index

    def _prepare(self, samples: int) -> None:
        # the reference: vertices, centroids and as many random points as triangles (the simplifier's choices are
        # measured often; the output is measured once with the full sampling); the simplified side has fewer,
        # larger triangles, whose edge midpoints are where they leave the reference most
        origin: list[np.ndarray] = []
        pts = [sample_surface(v, f, min(samples, max(500, len(f))), self.rng, False, origin=origin)
               for v, f in self.parts]
        self.points = np.concatenate(pts) if pts else np.zeros((0, 3))
        self.labels = np.repeat(np.arange(len(self.parts)), [len(p) for p in pts])
        self.origin = origin
        self.keys = [_triangle_keys(f, len(v)) for v, f in self.parts]

    def same(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> bool:
        """True when ``parts`` are this reference's parts (same vertices and triangles)."""
        return len(parts) == len(self.parts) and all(
            (v is rv and f is rf) or (v.shape == rv.shape and f.shape == rf.shape and np.array_equal(f, rf)
                                      and np.array_equal(v, rv))
            for (v, f), (rv, rf) in zip(parts, self.parts, strict=True))

    def distances(self, simplified: list[np.ndarray], stop: float = np.inf) -> np.ndarray:
        """Each part's symmetric Hausdorff distance to the union when the parts' triangles are ``simplified`` (one
        (m, 3) array per part, on the same vertices), in the parts' units. With ``stop``, measuring ends as soon as
        one part's distance reaches it (only a result below ``stop`` everywhere is exact)."""
        out = np.zeros(len(self.parts))
        if not self.parts:
            return out
        if self._ready is not None:
            self._ready.result()
        if self._last is not None and len(self._last[0]) == len(simplified) and all(
                a.shape == b.shape and np.array_equal(a, b) for a, b in zip(self._last[0], simplified, strict=True)):
            return self._last[1].copy()  # the same triangles again (a fit kept after it was measured)
        out = self._distances(simplified, stop)
        if out.max() < stop:
            self._last = ([np.array(f) for f in simplified], out.copy())
        return out

    def _distances(self, simplified: list[np.ndarray], stop: float) -> np.ndarray:
        out = np.zeros(len(self.parts))
        kept = [(v, f) for (v, _), f in zip(self.parts, simplified, strict=True)]
        if sum(len(f) for _, f in kept) == 0:
            return np.full(len(self.parts), np.inf)
        # what the simplifier left as it was lies on both surfaces (distance 0): a reference vertex still used, a
        # triangle with the same three vertices; only the rest is measured (same result, far fewer loose bounds)
        keys = [_triangle_keys(f, len(v)) for v, f in kept]
        # the simplified side's samples are drawn in a worker while this thread picks the reference's moved points and
        # makes the simplified surface's index; without a stop, the worker goes on to the reference's direction
        cancel = threading.Event()
        early: Future[tuple[np.ndarray, np.ndarray]] | _Later | None = None
        backward: Future[np.ndarray] | _Later | None = None
        other: Future[np.ndarray] | _Later | None = None
        if np.isfinite(stop):
            early = _background(self._back_points, kept, keys)
        else:
            backward = _background(self._backward, kept, keys, cancel)
        try:
            moved = []
            for (v, f), ref_keys, new_keys, origin in zip(kept, self.keys, keys, self.origin, strict=True):
                on_vertex = origin < 0
                same = np.zeros(len(origin), bool)
                if ref_keys is not None and new_keys is not None:
                    same[~on_vertex] = np.isin(ref_keys[origin[~on_vertex]], new_keys)
                used = np.zeros(len(v), bool)
                used[f.reshape(-1)] = True
                same[on_vertex] = used[-1 - origin[on_vertex]]
                moved.append(~same)
            if len(moved) == len(self.origin) and len(self.points) == sum(len(m) for m in moved):
                mask = np.concatenate(moved) if moved else np.zeros(0, bool)
                forward, forward_labels = self.points[mask], self.labels[mask]
            else:  # no provenance (parts without area): measure every point
                forward, forward_labels = self.points, self.labels
            # with a stop, the simplified surface's index is made after the quick pass of the reference's direction,
            # which may end the measurement without it; unless the reference's index is still being made (the
            # first measurement): then meanwhile
            simplified_index = None
            if backward is not None or (isinstance(self._building, Future) and not self._building.done()):
                simplified_index = TriangleDistance(*_union(kept))
            back_bounds = None
            if early is not None:  # a result worse than ``stop`` shows on a sixteenth of the points most of the time
                back, back_labels = early.result()
                index = self._reference_index()
                back_bounds = index.bounds(back[::QUICK])
                out = index.largest(back[::QUICK], back_labels[::QUICK], len(kept), stop, bounds=back_bounds)
                if out.max() >= stop:
                    return out
                # the two directions are independent: the reference's (its index is built) runs beside the
                # simplified surface's; what is returned is what measuring them one after the other returns. A
                # full pass after a quick one takes the bounds the quick one computed
                backward = _background(_largest_after, index, back, back_labels, len(kept), stop, cancel, QUICK,
                                       back_bounds)
            assert backward is not None
            if simplified_index is None:
                simplified_index = TriangleDistance(*_union(kept))
            forward_bounds = None
            if np.isfinite(stop):
                forward_bounds = simplified_index.bounds(forward[::QUICK_FORWARD])
                out = simplified_index.largest(forward[::QUICK_FORWARD], forward_labels[::QUICK_FORWARD],
                                               len(kept), stop, bounds=forward_bounds)
                if out.max() >= stop:
                    return out
            if np.isfinite(stop) or len(forward) < 2 * SPLIT:
                out = _largest_after(simplified_index, forward, forward_labels, len(kept), stop, None, QUICK_FORWARD,
                                     forward_bounds)
                if out.max() >= stop:
                    return out
            else:  # without a stop (exact): half the points in the other worker, each half's finds pruning the other's
                half = len(forward) // 2
                beside: list[np.ndarray] = []
                other = _background(simplified_index.largest, forward[half:], forward_labels[half:], len(kept), stop,
                                    cancel, None, beside)
                out = simplified_index.largest(forward[:half], forward_labels[:half], len(kept), beside=beside)
                if isinstance(other, Future) and other.cancel():  # not started (the worker was busy): here
                    other = _Later(simplified_index.largest, (forward[half:], forward_labels[half:], len(kept), stop,
                                                               None, None, beside))
                out = np.maximum(out, other.result())
            return np.maximum(out, backward.result())
        finally:
            cancel.set()
            for job in (early, backward, other):
                if isinstance(job, Future) and not job.cancelled():
                    job.result()  # nothing keeps running after a return (or an error) here

    def _back_points(self, kept: list[tuple[np.ndarray, np.ndarray]],
                     keys: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        """Samples of the simplified parts ``kept`` (its triangles' ``keys``) but for the reference's own vertices and
        triangles (distance 0), and their parts; the simplified side's random points continue ``rng``'s stream."""
        pts = []
        for (v, f), ref_keys, new_keys in zip(kept, self.keys, keys, strict=True):
            if not len(f):
                pts.append(np.zeros((0, 3)))
                continue
            origin: list[np.ndarray] = []
            sampled = sample_surface(v, f, min(4 * len(f), 20_000), self.rng, origin=origin)
            if origin and ref_keys is not None and new_keys is not None:  # the reference's vertices and triangles
                rows = np.maximum(origin[0], 0)
                sampled = sampled[(origin[0] >= 0) & ~np.isin(new_keys[rows], ref_keys)]
            pts.append(sampled)
        return np.concatenate(pts), np.repeat(np.arange(len(kept)), [len(p) for p in pts])

    def _backward(self, kept: list[tuple[np.ndarray, np.ndarray]], keys: list[np.ndarray | None],
                  cancel: threading.Event) -> np.ndarray:
        """The reference's direction without a stop: the simplified side's samples, then their largest distances."""
        back, labels = self._back_points(kept, keys)
        return _largest_after(self._reference_index(), back, labels, len(kept), np.inf, cancel, QUICK, None)


def _largest_after(index: TriangleDistance, points: np.ndarray, labels: np.ndarray, count: int, stop: float,
                   cancel: threading.Event | None, step: int, known: np.ndarray | None) -> np.ndarray:
    """``index.largest`` of all the points, ``known`` being the bounds of every ``step``-th (None: none known)."""
    bounds = None
    if known is not None:
        bounds = np.empty(len(points))
        bounds[::step] = known
        rest = np.ones(len(points), bool)
        rest[::step] = False
        bounds[rest] = index.bounds(points[rest], cancel)
    return index.largest(points, labels, count, stop, cancel, bounds)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class _Later:
    """A call made when its result is first asked for (one processor: nothing runs beside the caller)."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args

    def result(self) -> Any:
        """The call's result (computed now, the first time)."""
        if self.fn is not None:
            self.value, self.fn = self.fn(*self.args), None
        return self.value


def _background(fn: Callable[..., Any], *args: Any) -> Future[Any] | _Later:
    """``fn(*args)`` in a worker thread when there is a second processor (NumPy and SciPy's KD-tree release the
    GIL), else when its result is asked for."""
    global _pool
    if processors() < 2:
        return _Later(fn, args)
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="measure")
    return _pool.submit(fn, *args)


def _triangle_keys(f: np.ndarray, vertices: int) -> np.ndarray | None:
    """One integer per triangle naming its three vertices in any order (None past 2 million vertices)."""
    if vertices >= 1 << 21:
        return None
    s = np.sort(np.asarray(f, np.int64).reshape(-1, 3), axis=1)
    return (s[:, 0] << 42) | (s[:, 1] << 21) | s[:, 2]


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
