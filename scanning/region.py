"""Where the object is: the table plane (RANSAC), the objects standing on it, and the chosen one's bounds.

Every cluster of depth points above the table is a candidate (:class:`Candidate`, the one with the most points
first). Unless the caller says which (``RegionOptions.select``: a number from that list, or ``box``: a bounding
box in the capture's frame), the object is, of the candidates whose centre is in view in at least 90 % as many
frames as the most seen one's, the one nearest to where the cameras look (the point closest to every optical
axis; for a still camera, whose axes cross nowhere, what the middle of its images sees), skipping flat ones (a
magazine or a sheet of paper on the table: less tall than a fifth of their width) when anything else stands
there. :attr:`ObjectRegion.reason` says which rule chose it.

The result, :class:`ObjectRegion`, defines the *object frame* every later stage works in: meters, z up along
the table normal, the origin on the table under the middle of the object. Fusion builds its grid in it, so
the reconstruction comes out standing up and cut at the table without a separate orientation step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scanning.errors import ReconstructionError
from scanning.frames import Frame, Intrinsics
from scanning.parallel import open3d_random

logger = logging.getLogger(__name__)


Box = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class RegionOptions:
    """How the object region is found: frames sampled, pixel stride, table plane fraction, RANSAC tries, and
    the user's choice of object (``select``: 1-based number in the candidate list; ``box``: x0, y0, z0, x1, y1,
    z1 in the capture's frame, meters)."""

    sample_frames: int = 8
    stride: int = 4
    min_table_fraction: float = 0.15
    ransac_iterations: int = 600
    select: int | None = None
    box: Box | None = None
    flat_ratio: float = 0.2


@dataclass(frozen=True, slots=True)
class Candidate:
    """One object found above the table: number (1 = the most depth points), size (x, y, z meters, z up from the table),
    centre (capture frame, meters), distance from where the cameras look (meters), frames that see its centre,
    whether it is flat."""

    number: int
    size: tuple[float, float, float]
    centre: tuple[float, float, float]
    look_distance: float
    seen: int
    flat: bool

    def describe(self) -> str:
        """One line: number, size in cm along the capture's x, y, z, centre in m, frames that see it, flat."""
        dims = " x ".join(f"{d * 100:.1f}" for d in self.size)
        centre = ", ".join(f"{c:.2f}" for c in self.centre)
        return (
            f"{self.number}: {dims} cm (capture x, y, z) at ({centre}) m, "
            f"{self.look_distance:.2f} m from where the cameras look, "
            f"seen in {self.seen} frames{', flat' if self.flat else ''}"
        )


DEFAULTS = RegionOptions()


@dataclass(frozen=True, slots=True)
class ObjectRegion:
    """to_object : (4, 4) world -> object frame; lo, hi : (3,) object bounds in the object frame (meters).

    has_table tells whether a supporting plane was found (then z = 0 is the table).
    noise : estimated depth noise (meters, one sigma) at the object's distance.
    """

    to_object: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    has_table: bool
    noise: float
    candidates: tuple[Candidate, ...] = ()
    chosen: int = 0  # number of the chosen candidate (0: not from a candidate list)
    reason: str = ""

    @property
    def size(self) -> float:
        """Return the length of the region's diagonal in meters."""
        return float(np.linalg.norm(self.hi - self.lo))

    @property
    def to_world(self) -> np.ndarray:
        """Return the 4x4 matrix from the object frame back to the world frame."""
        return np.linalg.inv(self.to_object)


def backproject(depth: np.ndarray, intr: Intrinsics, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame points (n, 3) float64 of valid pixels, and their flat pixel indices (n,)."""
    d = depth[::stride, ::stride]
    vv, uu = np.nonzero(d > 0)
    z = d[vv, uu].astype(np.float64)
    u, v = uu * stride, vv * stride
    pts = np.stack([(u - intr.cx) / intr.fx * z, (v - intr.cy) / intr.fy * z, z], 1)
    return pts, v * depth.shape[1] + u


def world_points(frames: Sequence[Frame], intr: Intrinsics, count: int, stride: int) -> np.ndarray:
    """Back-project up to ``count`` posed frames (every ``stride``-th pixel) into one (n, 3) world-point array."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    chunks = []
    for i in picks:
        f = frames[i]
        assert f.pose is not None
        pts, _ = backproject(f.depth, intr, stride)
        chunks.append(pts @ f.pose[:3, :3].T + f.pose[:3, 3])
    return np.concatenate(chunks) if chunks else np.zeros((0, 3))


# Smallest eigenvalue of the mean of (I - d d^T) over the optical axes d: about the mean squared sine of the
# axes' angle from their mean direction. Below this (axes within about 4 degrees of one another: a camera on a
# tripod, the object turned by hand) the axes do not cross at any one point.
MIN_AXIS_SPREAD = 0.005


def _view_center(frames: Sequence[Frame]) -> np.ndarray:
    """Where the cameras look: the point nearest to every optical axis, or for a still camera (axes nearly
    parallel, crossing nowhere) the median of what the middle of its images sees."""
    posed = [f for f in frames if f.pose is not None]
    cams = np.array([f.pose[:3, 3] for f in posed])
    dirs = np.array([f.pose[:3, 2] for f in posed])
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for d, p in zip(dirs, cams, strict=True):
        m = np.eye(3) - np.outer(d, d)
        a += m
        b += m @ p
    if np.linalg.eigvalsh(a / len(posed))[0] >= MIN_AXIS_SPREAD:
        return np.linalg.lstsq(a, b, rcond=None)[0]
    hits = [c + d * _centre_depth(f.depth) for c, d, f in zip(cams, dirs, posed, strict=True)]
    return np.median(hits, axis=0)


def _centre_depth(depth: np.ndarray) -> float:
    """Median depth (meters) in the middle fifth of the image, or of the whole image when that holds none."""
    h, w = depth.shape
    mid = depth[2 * h // 5 : 3 * h // 5 + 1, 2 * w // 5 : 3 * w // 5 + 1]
    valid = mid[mid > 0]
    if len(valid) == 0:
        valid = depth[depth > 0]
    return float(np.median(valid)) if len(valid) else 0.0


def find_region(frames: Sequence[Frame], intr: Intrinsics, options: RegionOptions = DEFAULTS) -> ObjectRegion:
    """Find the table plane and the object standing on it (the cluster nearest to where the cameras look)."""
    import open3d as o3d

    stride = max(1, round(options.stride * intr.width / 640))  # same sampling density at any resolution
    pts = world_points(frames, intr, options.sample_frames, stride)
    if len(pts) < 100:
        raise ReconstructionError("too few depth measurements to find the object")
    cams = np.array([f.pose[:3, 3] for f in frames if f.pose is not None])
    center = _view_center(frames)
    dist = float(np.median(np.linalg.norm(cams - center, axis=1)))
    cell = 0.006 * dist
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts)).voxel_down_sample(cell)
    down = np.asarray(pc.points)
    thr = max(1.5 * cell, 0.006 * dist)
    n, off, inliers = _table_plane(pc, cams, thr, options)
    has_table = len(inliers) > 0
    if has_table:
        resid = down[inliers] @ n + off
        noise = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
        height = down @ n + off
        above = down[height > max(2.5 * noise, 0.5 * thr)]
    else:
        logger.info("no table plane found; the cameras' average up direction is used")
        n = -np.mean([f.pose[:3, 1] for f in frames if f.pose is not None], axis=0)
        n /= np.linalg.norm(n)
        noise = 0.001 * dist
        above = down
    if len(above) < 30:
        raise ReconstructionError("no object found above the table in the depth frames")
    pixel = stride * dist / intr.fx  # spacing of the sampled points on the object
    ref = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - (ref @ n) * n  # keep the world's x axis where possible
    x /= np.linalg.norm(x)
    y = np.cross(n, x)
    rot = np.stack([x, y, n])
    floor = -off if has_table else None
    eps = max(3.0 * cell, 3.0 * pixel)
    clusters = _clusters(above, eps)
    candidates = _describe([above[g] for g in clusters], rot, floor, center, frames, intr, options.flat_ratio)
    cluster, chosen, reason = _choose(above, clusters, candidates, eps, options)
    local = cluster @ rot.T
    lo, hi = np.percentile(local, 0.2, axis=0), np.percentile(local, 99.8, axis=0)
    origin_local = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, -off if has_table else lo[2]])
    to_object = np.eye(4)
    to_object[:3, :3] = rot
    to_object[:3, 3] = -origin_local
    lo, hi = lo - origin_local, hi - origin_local
    if has_table:
        lo[2] = 0.0
    logger.info(
        "object region %.3f x %.3f x %.3f m, table=%s, noise %.2f mm; %s", *(hi - lo), has_table, noise * 1000, reason
    )
    return ObjectRegion(to_object, lo, hi, has_table, max(noise, 1e-4), tuple(candidates), chosen, reason)


TABLE_TRIES = 3  # planes tried in turn for the table (the largest first)
MAX_CAMERAS_BELOW = 0.1  # a plane with more of the cameras on its far side is a face of the object, not a table


def _table_plane(pc: Any, cams: np.ndarray, thr: float, options: RegionOptions) -> tuple[np.ndarray, float, np.ndarray]:
    """The largest plane that every camera (all but ``MAX_CAMERAS_BELOW``) sees from the same side, oriented
    towards them: (unit normal, offset, inlier indices into ``pc``); no inliers when none holds enough points.

    Cameras orbiting an object (or an object turned on a turntable, registered on itself) see its large flat
    faces from both sides in turn; such a plane (a cereal box's front, measured on the Washington RGB-D
    turntable capture: 14 of 31 cameras on each side) is set aside and the next largest plane is tried."""

    rest = np.arange(len(pc.points))
    for _ in range(TABLE_TRIES):
        need = options.min_table_fraction * len(rest)  # of what is left when the object's faces are set aside
        if len(rest) < max(3, need):
            break
        with open3d_random(0):
            plane, found = pc.select_by_index(rest).segment_plane(thr, 3, options.ransac_iterations)
        found = rest[np.asarray(found, dtype=np.int64)]
        if len(found) < need:
            break
        n = np.asarray(plane[:3], dtype=np.float64)
        scale = float(np.linalg.norm(n))
        n, off = n / scale, float(plane[3]) / scale
        side = cams @ n + off
        if np.mean(side) < 0:
            n, off, side = -n, -off, -side
        if np.mean(side <= 0) <= MAX_CAMERAS_BELOW:
            return n, off, found
        below = int(np.sum(side <= 0))
        logger.info("plane with cameras on both sides (%d of %d) skipped: a face of the object", below, len(side))
        rest = np.setdiff1d(rest, found)
    return np.array([0.0, 0.0, 1.0]), 0.0, np.zeros(0, dtype=np.int64)


def _clusters(points: np.ndarray, eps: float) -> list[np.ndarray]:
    """DBSCAN clusters holding at least 2 % of the points, the most points first (each an index array)."""
    import open3d as o3d

    if len(points) == 0:
        return []
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        labels = np.asarray(pc.cluster_dbscan(eps, 8))
    groups = [np.nonzero(labels == lab)[0] for lab in range(labels.max() + 1)]
    groups = [g for g in groups if len(g) >= max(8, 0.02 * len(points))]
    return sorted(groups, key=lambda g: -len(g))


def _extent(local: np.ndarray, floor: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Robust bounds (0.2 and 99.8 percentiles) of points in the table frame; the bottom is the table."""
    lo, hi = np.percentile(local, 0.2, axis=0), np.percentile(local, 99.8, axis=0)
    if floor is not None:
        lo[2] = floor
    return lo, hi


def _describe(
    clusters: list[np.ndarray],
    rot: np.ndarray,
    floor: float | None,
    center: np.ndarray,
    frames: Sequence[Frame],
    intr: Intrinsics,
    flat_ratio: float,
) -> list[Candidate]:
    """Size, centre, distance from the look-at point, frames seeing it, flatness of each cluster."""
    out = []
    cams = [np.linalg.inv(f.pose) for f in frames if f.pose is not None]
    for k, pts in enumerate(clusters):
        lo, hi = _extent(pts @ rot.T, floor)
        size = hi - lo
        middle = rot.T @ ((lo + hi) / 2)
        seen = 0
        for m in cams:
            c = m[:3, :3] @ middle + m[:3, 3]
            if (
                c[2] > 1e-3
                and 0 <= c[0] / c[2] * intr.fx + intr.cx < intr.width
                and 0 <= c[1] / c[2] * intr.fy + intr.cy < intr.height
            ):
                seen += 1
        out.append(
            Candidate(
                k + 1,
                (float(size[0]), float(size[1]), float(size[2])),
                (float(middle[0]), float(middle[1]), float(middle[2])),
                float(np.min(np.linalg.norm(pts - center, axis=1))),
                seen,
                bool(size[2] < flat_ratio * max(size[0], size[1])),
            )
        )
    return out


def _choose(
    above: np.ndarray,
    clusters: list[np.ndarray],
    candidates: list[Candidate],
    eps: float,
    options: RegionOptions,
) -> tuple[np.ndarray, int, str]:
    """The chosen cluster's points, its number in the candidate list (0 for a box) and the rule that chose it."""
    if options.box is not None:
        box = np.asarray(options.box, dtype=np.float64)
        lo, hi = np.minimum(box[:3], box[3:]), np.maximum(box[:3], box[3:])
        inside = above[np.all((above >= lo) & (above <= hi), axis=1)]
        groups = _clusters(inside, eps) if len(inside) >= 30 else []
        if not groups:
            found = "; ".join(f"{c.number} at ({', '.join(f'{v:.2f}' for v in c.centre)})" for c in candidates)
            raise ReconstructionError(
                f"nothing stands above the table inside this box (objects found: {found or 'none'})", field="--region"
            )
        return inside[groups[0]], 0, "the largest object inside --region"
    if not candidates:
        raise ReconstructionError("no object found near the middle of the views")
    if options.select is not None:
        if not 1 <= options.select <= len(candidates):
            raise ReconstructionError(
                f"there are {len(candidates)} objects: choose 1 to {len(candidates)}", field="--object"
            )
        return above[clusters[options.select - 1]], options.select, "chosen with --object"
    standing = [c for c in candidates if not c.flat]
    pool = standing or candidates
    most = max(c.seen for c in pool)
    pool = [c for c in pool if c.seen >= 0.9 * most]  # a capture panning across a room looks at no one point
    best = min(pool, key=lambda c: c.look_distance)
    reason = "nearest to where the cameras look, of those seen in the most frames"
    if len(standing) < len(candidates) and standing:
        reason += " (flat objects skipped)"
    return above[clusters[best.number - 1]], best.number, reason
