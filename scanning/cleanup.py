"""From a raw reconstruction to a product model: table removal, outliers, fragments, holes, size, orientation.

Point-cloud steps (before surfacing): :func:`remove_table` (RANSAC plane, oriented toward the viewer side) and
:func:`remove_outliers` (statistical). Mesh steps (after fusion or surfacing): :func:`keep_main_component`,
:func:`fill_small_holes` (our own fan filling of short boundary loops: Open3D's ``fill_holes`` was seen to
return garbage coordinates, so we do not rely on it), :func:`simplify` (quadric decimation to a triangle budget,
checked to keep a watertight mesh watertight) and :func:`to_y_up` (glTF's Y-up, origin on the floor under the
object's middle). Every mesh step keeps vertex colors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from scanning.clouds import PointCloud
from scanning.mesh import Mesh
from scanning.metrics import is_watertight
from scanning.parallel import open3d_random

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CleanupOptions:
    """How a reconstructed mesh is cleaned: triangle target, small components, hole size, standing it Y-up."""
    target_triangles: int = 60_000
    min_component_fraction: float = 0.0
    max_hole_edges: int = 60
    y_up: bool = True


DEFAULTS = CleanupOptions()


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """What cleanup did: components removed, holes filled, triangles before and after, watertightness."""
    components_removed: int
    holes_filled: int
    triangles_before: int
    triangles_after: int
    watertight: bool
    dimensions: tuple[float, float, float]  # meters, x y z of the output frame


@dataclass(frozen=True, slots=True)
class Plane:
    """n . p + d = 0 with unit normal n pointing to the side the object (and the cameras) are on."""

    normal: np.ndarray
    offset: float


# ------------------------------------------------------------------------------------------------ clouds


def remove_table(cloud: PointCloud, min_fraction: float = 0.2, seed: int = 0) -> tuple[PointCloud, Plane | None]:
    """Remove the dominant plane when it holds at least ``min_fraction`` of the points and everything else is
    on one side of it; returns the remaining cloud (above the plane) and the plane (or None)."""
    import open3d as o3d

    pts = cloud.points
    size = float(np.linalg.norm(np.ptp(pts, axis=0)))
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    with open3d_random(seed):
        model, inliers = pc.segment_plane(0.004 * size, 3, 800)
    if len(inliers) < min_fraction * len(pts):
        return cloud, None
    n = np.asarray(model[:3], dtype=np.float64)
    d = float(model[3]) / np.linalg.norm(n)
    n = n / np.linalg.norm(n)
    h = pts @ n + d
    off = np.ones(len(pts), bool)
    off[inliers] = False
    if np.median(h[off]) < 0:
        n, d, h = -n, -d, -h
    keep = h > 0.008 * size
    if keep.sum() < 0.05 * len(pts) or np.mean(h[off] < -0.02 * size) > 0.2:
        return cloud, None  # not a table under an object (e.g. a flat side of the object itself)
    return _subset(cloud, keep), Plane(n, d)


def remove_outliers(cloud: PointCloud, neighbours: int = 20, std_ratio: float = 2.5) -> PointCloud:
    """Statistical outlier removal followed by keeping the largest spatial cluster."""
    import open3d as o3d

    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points))
    _, index = pc.remove_statistical_outlier(neighbours, std_ratio)
    mask = np.zeros(len(cloud.points), bool)
    mask[np.asarray(index, dtype=np.int64)] = True
    cloud = _subset(cloud, mask)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points))
    spacing = float(np.mean(pc.compute_nearest_neighbor_distance()))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        labels = np.asarray(pc.cluster_dbscan(6 * spacing, 4))
    if labels.max() < 0:
        return cloud
    main = np.bincount(labels[labels >= 0]).argmax()
    return _subset(cloud, labels == main)


def _subset(cloud: PointCloud, mask: np.ndarray) -> PointCloud:
    return PointCloud(cloud.points[mask], None if cloud.normals is None else cloud.normals[mask],
                      None if cloud.colors is None else cloud.colors[mask], cloud.source)


# ------------------------------------------------------------------------------------------------ meshes


def keep_main_component(mesh: Mesh, min_fraction: float = 0.0) -> tuple[Mesh, int]:
    """Keep the largest connected piece (and any piece with at least ``min_fraction`` of the triangles)."""
    import open3d as o3d

    m = mesh.to_open3d()
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        labels, counts, _ = m.cluster_connected_triangles()
    labels = np.asarray(labels)
    counts = np.asarray(counts)
    if len(counts) <= 1:
        return mesh, 0
    keep_labels = (counts == counts.max()) | (counts >= min_fraction * counts.sum() if min_fraction > 0 else False)
    keep = keep_labels[labels]
    removed = int(len(counts) - keep_labels.sum())
    return mesh.with_(triangles=mesh.triangles[keep]).compact(), removed


def boundary_loops(triangles: np.ndarray) -> list[list[int]]:
    """Closed loops of boundary edges, each as vertex indices in the direction of its triangle's edge."""
    f = np.asarray(triangles, dtype=np.int64)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = edges[:, 0] * (int(f.max()) + 1) + edges[:, 1] if len(f) else np.zeros(0, np.int64)
    rev = edges[:, 1] * (int(f.max()) + 1) + edges[:, 0] if len(f) else np.zeros(0, np.int64)
    open_edges = edges[~np.isin(key, rev)]
    nxt: dict[int, int] = {}
    for a, b in open_edges:
        if int(a) in nxt:  # non-manifold boundary vertex: leave this hole alone
            nxt[int(a)] = -1
        else:
            nxt[int(a)] = int(b)
    loops, seen = [], set()
    for start in list(nxt):
        if start in seen or nxt[start] < 0:
            continue
        loop, v = [], start
        while v not in seen and v in nxt and nxt[v] >= 0:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        if v == start and len(loop) >= 3:
            loops.append(loop)
    return loops


def fill_small_holes(mesh: Mesh, max_edges: int = 60) -> tuple[Mesh, int]:
    """Close boundary loops of at most ``max_edges`` edges with a fan around their centroid."""
    loops = [lp for lp in boundary_loops(mesh.triangles) if len(lp) <= max_edges]
    if not loops:
        return mesh, 0
    verts = [mesh.vertices]
    cols = [mesh.colors] if mesh.colors is not None else None
    tris = [mesh.triangles]
    nv = len(mesh.vertices)
    for lp in loops:
        idx = np.array(lp)
        verts.append(mesh.vertices[idx].mean(axis=0, keepdims=True))
        if cols is not None and mesh.colors is not None:
            cols.append(mesh.colors[idx].mean(axis=0, keepdims=True))
        # boundary edge (a, b) belongs to a triangle; the patch must use it as (b, a)
        nxt = np.roll(idx, -1)
        tris.append(np.stack([nxt, idx, np.full(len(idx), nv)], 1))
        nv += 1
    out = Mesh(np.concatenate(verts), np.concatenate(tris),
               None if cols is None else np.concatenate(cols), mesh.voxel)
    return out, len(loops)


def simplify(mesh: Mesh, target_triangles: int, max_error: float = 0.02) -> Mesh:
    """Simplify to about ``target_triangles`` with meshoptimizer, stopping earlier when the error would pass
    ``max_error`` (relative to the mesh's extent). A watertight input stays watertight: when a target breaks
    it, gentler targets are tried, then the input is kept.

    Open3D's quadric decimation took 4.8 s for 110k -> 60k triangles here; meshoptimizer takes 0.03 s.
    """
    import meshoptimizer

    if len(mesh.triangles) <= target_triangles:
        return mesh
    closed = is_watertight(mesh.triangles)
    idx = mesh.triangles.astype(np.uint32).ravel()
    pos = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
    target = int(target_triangles)
    while target < len(mesh.triangles):
        dest = np.zeros_like(idx)
        count = meshoptimizer.simplify(dest, idx, pos, target_index_count=3 * target, target_error=max_error)
        tris = dest[:count].reshape(-1, 3).astype(np.int64)
        out = mesh.with_(triangles=tris)
        if closed and len(tris) and not is_watertight(tris):
            out = _repair_pinches(out)
        if len(out.triangles) and (not closed or is_watertight(out.triangles)):
            return out.compact()
        target = int(target * 1.5)
    logger.warning("simplification would break watertightness; keeping %d triangles", len(mesh.triangles))
    return mesh


def _repair_pinches(mesh: Mesh) -> Mesh:
    """meshoptimizer may collapse two close sheets onto one edge (4 triangles on an edge) or leave back-to-back
    twin triangles; drop the triangles around such edges and close the small holes left behind."""
    for _ in range(3):
        f = mesh.triangles
        base = int(f.max()) + 1
        srt = np.sort(f, axis=1)
        _, inv, cnt = np.unique(srt[:, 0] * base * base + srt[:, 1] * base + srt[:, 2], return_inverse=True,
                                return_counts=True)
        f = f[cnt[inv] == 1]
        e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
        key = e[:, 0] * base + e[:, 1]
        _, einv, ecnt = np.unique(key, return_inverse=True, return_counts=True)
        bad_face = (ecnt[einv] != 2).reshape(3, -1).any(axis=0)
        mesh = mesh.with_(triangles=f[~bad_face])
        if is_watertight(mesh.triangles):
            return mesh
        mesh, _ = fill_small_holes(mesh, 64)
        if is_watertight(mesh.triangles):
            return mesh
    return mesh


def to_y_up(mesh: Mesh) -> Mesh:
    """Object frame (z up, floor z = 0) -> glTF frame (y up, floor y = 0, facing +z)."""
    v = mesh.vertices
    return mesh.with_(vertices=np.stack([v[:, 0], v[:, 2], -v[:, 1]], 1))


def clean(mesh: Mesh, options: CleanupOptions = DEFAULTS) -> tuple[Mesh, CleanupReport]:
    """Main component, small holes, triangle budget and (optionally) Y-up, on a mesh in the object frame."""
    before = len(mesh.triangles)
    mesh, removed = keep_main_component(mesh, options.min_component_fraction)
    filled = 0
    if not is_watertight(mesh.triangles):
        # marching cubes on a very noisy volume can leave a few edges shared by 4 triangles: repair those first
        repaired = _repair_pinches(mesh)
        mesh = repaired.compact() if is_watertight(repaired.triangles) else mesh
    if not is_watertight(mesh.triangles):
        mesh, filled = fill_small_holes(mesh, options.max_hole_edges)
    mesh = simplify(mesh, options.target_triangles)
    if options.y_up:
        mesh = to_y_up(mesh)
    ext = mesh.extent
    report = CleanupReport(removed, filled, before, len(mesh.triangles), is_watertight(mesh.triangles),
                           (float(ext[0]), float(ext[1]), float(ext[2])))
    return mesh, report
