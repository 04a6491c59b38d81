"""Accuracy of a reconstruction against the truth: Chamfer distance, F-score, dimension error, watertightness.

Both meshes must be in the same frame and units. Points sampled uniformly by area on each mesh (``samples``,
fixed seed) are measured to the other mesh's triangles (exact point-to-triangle distance);
thresholds are fractions of the truth's bounding-box diagonal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Reconstruction accuracy against the truth: Chamfer distance, F-scores, precision and recall."""
    chamfer: float  # meters, mean of the two directed mean distances
    fscore_05: float  # F-score at 0.5 % of the truth's bbox diagonal
    fscore_1: float  # F-score at 1 %
    precision_1: float
    recall_1: float
    dimension_error: float  # largest relative error of the axis-aligned extents
    diagonal: float  # truth bbox diagonal (meters)

    def to_dict(self) -> dict[str, float]:
        """Return the metrics as a JSON-ready dict."""
        return asdict(self)


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """(count, 3) points uniformly distributed over the triangles' area."""
    from assets_pipeline.geometry import random_surface_points

    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(triangles, dtype=np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    if len(f) == 0 or np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() <= 0:
        raise ValueError("mesh has no area to sample")
    return random_surface_points(v, f, count, np.random.default_rng(seed))


def fscore(dist_pred: np.ndarray, dist_truth: np.ndarray, tau: float) -> tuple[float, float, float]:
    """(F, precision, recall) at threshold ``tau`` from directed nearest-neighbour distances."""
    p = float(np.mean(dist_pred < tau))
    r = float(np.mean(dist_truth < tau))
    return (2 * p * r / (p + r) if p + r > 0 else 0.0), p, r


def distance_to_mesh(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(n,) float64 exact distance from each point to the nearest triangle (Open3D raycasting scene)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(triangles, np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(np.asarray(points, np.float32))).numpy().astype(np.float64)


def visible(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray, cameras: np.ndarray,
            table_z: float | None = None, tol: float = 1e-3) -> np.ndarray:
    """(n,) bool: points on the mesh that at least one camera centre (c, 3) sees, the mesh itself (and the
    table plane z = ``table_z`` when given) being the occluders. ``tol`` is in meters."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(triangles, np.uint32)))
    if table_z is not None:
        r = 100.0
        tv = np.array([[-r, -r, table_z], [r, -r, table_z], [r, r, table_z], [-r, r, table_z]], np.float32)
        scene.add_triangles(o3d.core.Tensor(tv), o3d.core.Tensor(np.array([[0, 1, 2], [0, 2, 3]], np.uint32)))
    seen = np.zeros(len(points), bool)
    for c in cameras:
        d = points - c
        dist = np.linalg.norm(d, axis=1)
        rays = np.concatenate([np.broadcast_to(c, d.shape), d / dist[:, None]], 1).astype(np.float32)
        t = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
        seen |= t >= dist - tol
    return seen


def compare(
    pred_vertices: np.ndarray, pred_triangles: np.ndarray,
    truth_vertices: np.ndarray, truth_triangles: np.ndarray,
    samples: int = 100_000, seed: int = 0, cameras: np.ndarray | None = None, table_z: float | None = None,
) -> Accuracy:
    """Accuracy of the predicted mesh against the truth (same frame, same units).

    With ``cameras`` (c, 3) only the surface some camera can see counts, on both meshes: a surface no camera
    sees (the hollow under the bunny's base, the cap fusion puts on the table) cannot be measured by a scan.
    """
    pred = sample_surface(pred_vertices, pred_triangles, samples, seed)
    truth = sample_surface(truth_vertices, truth_triangles, samples, seed + 1)
    if cameras is not None:
        tol = 0.002 * float(np.linalg.norm(np.ptp(truth_vertices, axis=0)))
        pred = pred[visible(pred, pred_vertices, pred_triangles, cameras, table_z, tol)]
        truth = truth[visible(truth, truth_vertices, truth_triangles, cameras, table_z, tol)]
        if len(pred) == 0 or len(truth) == 0:
            raise ValueError("no visible surface to compare")
    d_pred = distance_to_mesh(pred, truth_vertices, truth_triangles)
    d_truth = distance_to_mesh(truth, pred_vertices, pred_triangles)
    t_ext = np.ptp(truth_vertices, axis=0)
    p_ext = np.ptp(np.asarray(pred_vertices)[np.unique(pred_triangles)], axis=0)
    diag = float(np.linalg.norm(t_ext))
    f05, _, _ = fscore(d_pred, d_truth, 0.005 * diag)
    f1, p1, r1 = fscore(d_pred, d_truth, 0.01 * diag)
    return Accuracy(
        chamfer=float(0.5 * (d_pred.mean() + d_truth.mean())),
        fscore_05=f05, fscore_1=f1, precision_1=p1, recall_1=r1,
        dimension_error=float(np.max(np.abs(p_ext - t_ext) / t_ext)),
        diagonal=diag,
    )


def is_watertight(triangles: np.ndarray) -> bool:
    """Every edge is shared by exactly two triangles with opposite directions (closed, oriented, manifold)."""
    f = np.asarray(triangles, dtype=np.int64)
    if len(f) == 0:
        return False
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    base = int(f.max()) + 1
    key = edges[:, 0] * base + edges[:, 1]
    if len(np.unique(key)) != len(key):
        return False
    return bool(np.all(np.isin(edges[:, 1] * base + edges[:, 0], key)))
