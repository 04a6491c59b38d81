"""Where the object is: the table plane (RANSAC) and the object's bounds, found from posed RGB-D frames.

The result, :class:`ObjectRegion`, defines the *object frame* every later stage works in: meters, z up along
the table normal, the origin on the table under the middle of the object. Fusion builds its grid in it, so
the reconstruction comes out standing up and cut at the table without a separate orientation step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scanning.errors import ReconstructionError
from scanning.frames import Frame, Intrinsics

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RegionOptions:
    """How the object region is found: frames sampled, pixel stride, table plane fraction, RANSAC tries."""
    sample_frames: int = 8
    stride: int = 4
    min_table_fraction: float = 0.15
    ransac_iterations: int = 600


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


def _view_center(frames: Sequence[Frame]) -> np.ndarray:
    """Least-squares point nearest to every camera's optical axis."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for f in frames:
        assert f.pose is not None
        d = f.pose[:3, 2]
        p = f.pose[:3, 3]
        m = np.eye(3) - np.outer(d, d)
        a += m
        b += m @ p
    return np.linalg.lstsq(a, b, rcond=None)[0]


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
    o3d.utility.random.seed(0)
    plane, inliers = pc.segment_plane(thr, 3, options.ransac_iterations)
    n = np.asarray(plane[:3], dtype=np.float64)
    off = float(plane[3])
    has_table = len(inliers) >= options.min_table_fraction * len(down)
    if has_table:
        scale = np.linalg.norm(n)
        n, off = n / scale, off / scale
        if np.mean(cams @ n + off) < 0:
            n, off = -n, -off
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
    cluster = _main_cluster(above, center, max(3.0 * cell, 3.0 * pixel))
    ref = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - (ref @ n) * n  # keep the world's x axis where possible
    x /= np.linalg.norm(x)
    y = np.cross(n, x)
    rot = np.stack([x, y, n])
    local = cluster @ rot.T
    lo, hi = np.percentile(local, 0.2, axis=0), np.percentile(local, 99.8, axis=0)
    origin_local = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, -off if has_table else lo[2]])
    to_object = np.eye(4)
    to_object[:3, :3] = rot
    to_object[:3, 3] = -origin_local
    lo, hi = lo - origin_local, hi - origin_local
    if has_table:
        lo[2] = 0.0
    logger.info("object region %.3f x %.3f x %.3f m, table=%s, noise %.2f mm",
                *(hi - lo), has_table, noise * 1000)
    return ObjectRegion(to_object, lo, hi, has_table, max(noise, 1e-4))


def _main_cluster(points: np.ndarray, center: np.ndarray, eps: float) -> np.ndarray:
    import open3d as o3d

    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        labels = np.asarray(pc.cluster_dbscan(eps, 8))
    best, best_score = -1, np.inf
    for lab in range(labels.max() + 1):
        member = points[labels == lab]
        if len(member) < 0.02 * len(points):
            continue
        score = float(np.min(np.linalg.norm(member - center, axis=1))) - 1e-9 * len(member)
        if score < best_score:
            best, best_score = lab, score
    if best < 0:
        raise ReconstructionError("no object found near the middle of the views")
    return points[labels == best]
