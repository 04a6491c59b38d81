"""Benchmark generator: render RGB-D captures of a real mesh with known poses and a depth-camera noise model.

The mesh (any file trimesh reads, e.g. the corpus' stanford-bunny.obj, spot.obj, beast.obj) is turned Z-up
(the files are Y-up), scaled to ``object_size`` meters along its largest side and stood on a textured table
(the plane z = 0). Cameras look at it along a turntable circle or a wobbly handheld loop, and Open3D's
raycasting gives exact depth, the hit triangle's normal and which object was hit. The object gets a
procedural albedo (so that color-based registration has something to hold on to), lit by a fixed light.

Depth noise follows a Kinect-like model: Gaussian with sigma = base + quad * z^2 along the ray, dropouts that
rise from ``grazing_start_deg`` to ``grazing_full_deg`` of incidence, dropouts next to depth jumps (object
edges), and a small rate of random dropouts. Depth is rounded to millimetres when written as PNG.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scanning.errors import InputError
from scanning.frames import Intrinsics, write_sequence

logger = logging.getLogger(__name__)

PathKind = Literal["turntable", "handheld"]
LIGHT = np.array([0.35, -0.25, 1.0]) / np.linalg.norm([0.35, -0.25, 1.0])


@dataclass(frozen=True, slots=True)
class NoiseModel:
    """Depth-camera noise; ``NoiseModel.none()`` gives exact depth."""

    sigma_base: float = 0.0004
    sigma_quad: float = 0.0016
    grazing_start_deg: float = 72.0
    grazing_full_deg: float = 86.0
    edge_jump: float = 0.015
    edge_dropout: float = 0.6
    random_dropout: float = 0.01
    scale: float = 1.0

    @classmethod
    def none(cls) -> NoiseModel:
        """Return a noise model that adds no noise and drops no pixels."""
        return cls(0.0, 0.0, 89.9, 90.0, 1e9, 0.0, 0.0, 0.0)

    def sigma(self, z: np.ndarray) -> np.ndarray:
        """Return the depth noise standard deviation (meters) for depths ``z`` (meters)."""
        return self.scale * (self.sigma_base + self.sigma_quad * z * z)


DEFAULT_NOISE = NoiseModel()


@dataclass(frozen=True, slots=True)
class SynthOptions:
    """Synthetic capture settings: views, image size, field of view, camera path, noise, object size."""

    views: int = 36
    width: int = 640
    height: int = 480
    hfov_deg: float = 62.0
    path: PathKind = "turntable"
    object_size: float = 0.2
    distance: float | None = None
    elevation_deg: float = 28.0
    table_radius: float = 0.5
    noise: NoiseModel = field(default_factory=NoiseModel)
    seed: int = 0


DEFAULTS = SynthOptions()


@dataclass(frozen=True)
class SyntheticCapture:
    """Rendered capture plus the truth.

    colors : list of (h, w, 3) uint8; depths : list of (h, w) float32 meters (0 = dropout)
    poses : (n, 4, 4) float64 camera-to-world; truth_vertices : (v, 3) float64 meters, Z-up, standing on z = 0
    truth_triangles : (t, 3) int64
    """

    intrinsics: Intrinsics
    colors: list[np.ndarray]
    depths: list[np.ndarray]
    poses: np.ndarray
    truth_vertices: np.ndarray
    truth_triangles: np.ndarray
    name: str = "object"

    def write(self, folder: str | Path, with_poses: bool = True) -> Path:
        """Write in our capture layout (see :mod:`scanning.frames`), plus ``truth.ply`` for comparisons."""
        out = write_sequence(folder, self.intrinsics, self.colors, self.depths, self.poses if with_poses else None)
        import trimesh

        trimesh.Trimesh(self.truth_vertices, self.truth_triangles, process=False).export(out / "truth.ply")
        return out

    def truth_mesh(self) -> Any:
        """Return the true surface as an ``open3d.geometry.TriangleMesh``."""
        import open3d as o3d

        return o3d.geometry.TriangleMesh(
            o3d.utility.Vector3dVector(self.truth_vertices),
            o3d.utility.Vector3iVector(self.truth_triangles.astype(np.int32)),
        )


def load_truth(path: str | Path, object_size: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Read a mesh, turn it Z-up, scale its largest side to ``object_size`` m, stand it on z = 0 centred on xy.

    Returns (vertices (v, 3) float64, triangles (t, 3) int64).
    """
    import trimesh

    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=p)
    try:
        mesh = trimesh.load(str(p), force="mesh", process=True)
    except Exception as exc:  # trimesh raises many types for bad files
        raise InputError(f"cannot read mesh ({exc})", file=p) from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise InputError("contains no triangles", file=p)
    v = np.asarray(mesh.vertices, dtype=np.float64)
    v = np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1)  # Y-up -> Z-up
    lo, hi = v.min(axis=0), v.max(axis=0)
    v = (v - [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]) * (object_size / float(np.max(hi - lo)))
    return v, np.asarray(mesh.faces, dtype=np.int64)


def compose(parts: list[tuple[np.ndarray, np.ndarray, tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Several meshes standing on the table, each moved by an (x, y) offset in meters, as one mesh.

    parts : (vertices (v, 3), triangles (t, 3), offset) each, as :func:`load_truth` returns them.
    """
    verts, tris, base = [], [], 0
    for v, f, (dx, dy) in parts:
        verts.append(v + np.array([dx, dy, 0.0]))
        tris.append(f + base)
        base += len(v)
    return np.concatenate(verts), np.concatenate(tris)


def look_at(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """Camera-to-world (4, 4) for a camera at ``eye`` looking at ``target``; x right, y down, z forward."""
    f = target - eye
    f = f / np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r = r / np.linalg.norm(r)
    d = np.cross(f, r)
    if roll_deg:
        a = math.radians(roll_deg)
        r, d = math.cos(a) * r + math.sin(a) * d, -math.sin(a) * r + math.cos(a) * d
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = r, d, f, eye
    return m


def camera_path(options: SynthOptions, height: float, distance: float) -> np.ndarray:
    """(n, 4, 4) camera-to-world poses around an object of ``height`` standing at the origin."""
    n = options.views
    rng = np.random.default_rng(options.seed + 1)
    target = np.array([0.0, 0.0, 0.4 * height])
    poses = []
    for k in range(n):
        t = k / n
        az = 2 * math.pi * t
        elev = math.radians(options.elevation_deg)
        dist, roll, tgt = distance, 0.0, target
        if options.path == "handheld":
            az += 0.35 * (2 * math.pi / n) * math.sin(5 * az) + rng.normal(0, 0.01)
            elev = math.radians(options.elevation_deg + 12 * math.sin(2 * az + 0.5) + rng.normal(0, 1.0))
            dist = distance * (1 + 0.12 * math.sin(3 * az + 1.0) + rng.normal(0, 0.01))
            roll = 6 * math.sin(4 * az) + rng.normal(0, 1.0)
            tgt = target + rng.normal(0, 0.006, 3)
        eye = tgt + dist * np.array([math.cos(elev) * math.cos(az), math.cos(elev) * math.sin(az), math.sin(elev)])
        poses.append(look_at(eye, tgt, roll))
    return np.array(poses)


def _object_albedo(p: np.ndarray, size: float) -> np.ndarray:
    f = 2 * math.pi / (0.18 * size)
    a = 0.5 + 0.25 * np.sin(f * p[:, 0] + 1.3) * np.sin(f * 0.8 * p[:, 1]) + 0.25 * np.sin(f * 1.3 * p[:, 2] + 0.4)
    base = np.array([0.85, 0.62, 0.42])
    tint = np.stack([np.ones_like(a), 0.8 + 0.2 * np.sin(f * 0.5 * p[:, 2]), 0.7 + 0.3 * np.cos(f * p[:, 1])], 1)
    return np.clip(base * tint * (0.45 + 0.55 * a)[:, None], 0, 1)


def _table_albedo(p: np.ndarray) -> np.ndarray:
    sq = 0.03
    checker = (np.floor(p[:, 0] / sq) + np.floor(p[:, 1] / sq)) % 2
    grain = 0.5 + 0.5 * np.sin(p[:, 0] * 260 + 3 * np.sin(p[:, 1] * 40))
    v = 0.35 + 0.3 * checker + 0.15 * grain
    return np.clip(np.stack([v * 0.95, v * 0.85, v * 0.7], 1), 0, 1)


def render(
    vertices: np.ndarray,
    triangles: np.ndarray,
    options: SynthOptions = DEFAULTS,
    name: str = "object",
    progress: Any = None,
    poses: np.ndarray | None = None,
) -> SyntheticCapture:
    """Render ``options.views`` color + noisy depth frames of the mesh standing on a table (from ``poses``,
    (n, 4, 4) camera-to-world, instead of ``options.path`` when given)."""
    import open3d as o3d

    if options.views < 1 or options.width < 16 or options.height < 16:
        raise InputError("needs at least 1 view of at least 16x16 pixels", field="options")
    w, h = options.width, options.height
    fx = (w / 2) / math.tan(math.radians(options.hfov_deg) / 2)
    intr = Intrinsics(w, h, fx, fx, (w - 1) / 2, (h - 1) / 2)
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    size = float(np.linalg.norm(extent))
    distance = options.distance or max(0.35, 1.6 * size / (2 * math.tan(math.radians(options.hfov_deg) / 2)))
    if poses is None:
        poses = camera_path(options, float(extent[2]), distance)

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(triangles.astype(np.uint32)))
    r = options.table_radius
    table_v = np.array([[-r, -r, 0], [r, -r, 0], [r, r, 0], [-r, r, 0]], np.float32)
    scene.add_triangles(o3d.core.Tensor(table_v), o3d.core.Tensor(np.array([[0, 1, 2], [0, 2, 3]], np.uint32)))

    uu, vv = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    dirs_cam = np.stack([(uu - intr.cx) / fx, (vv - intr.cy) / fx, np.ones_like(uu)], -1).reshape(-1, 3)
    ray_len = np.linalg.norm(dirs_cam, axis=1)
    rng = np.random.default_rng(options.seed)
    noise = options.noise
    colors, depths = [], []
    for pose in poses:
        dirs = dirs_cam @ pose[:3, :3].T
        rays = np.concatenate([np.broadcast_to(pose[:3, 3], dirs.shape), dirs], 1).astype(np.float32)
        ans = scene.cast_rays(o3d.core.Tensor(rays))
        t = ans["t_hit"].numpy().astype(np.float64)
        hit = np.isfinite(t)
        gid = ans["geometry_ids"].numpy()
        nrm = ans["primitive_normals"].numpy().astype(np.float64)
        p = pose[:3, 3] + dirs * np.where(hit, t, 0)[:, None]
        albedo = np.where((gid == 0)[:, None], _object_albedo(p, float(extent.max())), _table_albedo(p))
        shade = 0.35 + 0.65 * np.abs(nrm @ LIGHT)
        rgb = np.where(hit[:, None], albedo * shade[:, None], 0.12)
        color = np.clip(rgb * 255 + rng.normal(0, 1.5, rgb.shape), 0, 255).astype(np.uint8).reshape(h, w, 3)

        depth = np.where(hit, t, 0.0)  # t is along a ray whose z component is 1: it is the depth
        cos_inc = np.abs(np.sum(nrm * dirs, axis=1)) / ray_len
        inc = np.degrees(np.arccos(np.clip(cos_inc, 0, 1)))
        p_drop = np.clip((inc - noise.grazing_start_deg) / (noise.grazing_full_deg - noise.grazing_start_deg), 0, 1)
        p_drop = np.maximum(p_drop, noise.random_dropout)
        depth = depth.reshape(h, w)
        edge = _depth_edges(depth, noise.edge_jump)
        p_drop = np.maximum(p_drop.reshape(h, w), edge * noise.edge_dropout)
        depth = depth + rng.normal(0, 1, depth.shape) * noise.sigma(depth)
        depth[(rng.random(depth.shape) < p_drop) | (depth <= 0)] = 0.0
        depth[~hit.reshape(h, w)] = 0.0
        colors.append(color)
        depths.append(depth.astype(np.float32))
        if progress is not None:
            progress(1)
    return SyntheticCapture(intr, colors, depths, poses, vertices, triangles, name)


def _depth_edges(depth: np.ndarray, jump: float) -> np.ndarray:
    """(h, w) bool: pixels next to a depth discontinuity larger than ``jump`` meters (or a miss)."""
    d = np.where(depth > 0, depth, 1e3)
    e = np.zeros(d.shape, bool)
    dx = np.abs(np.diff(d, axis=1)) > jump
    dy = np.abs(np.diff(d, axis=0)) > jump
    e[:, 1:] |= dx
    e[:, :-1] |= dx
    e[1:, :] |= dy
    e[:-1, :] |= dy
    return e & (depth > 0)


def synthesize(model: str | Path, options: SynthOptions = DEFAULTS, progress: Any = None) -> SyntheticCapture:
    """Load ``model`` with :func:`load_truth` and :func:`render` it."""
    v, f = load_truth(model, options.object_size)
    return render(v, f, options, Path(model).stem, progress)
