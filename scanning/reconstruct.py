"""Library API: the stages strung together, each timed, for a capture folder or a point cloud.

::

    from scanning import reconstruct_capture, reconstruct_cloud, write_product
    mesh, report = reconstruct_capture("capture/")          # frames -> poses -> fusion -> cleanup
    write_product(mesh, "product.glb")                       # -> assets_pipeline optimize -> GLB

Meshes come out Y-up, in meters, standing on y = 0 with the origin under the object's middle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from scanning.cleanup import CleanupOptions, boundary_loops, clean, remove_outliers, remove_table
from scanning.clouds import read_cloud
from scanning.errors import PoseError, ReconstructionError
from scanning.frames import Frame, read_sequence
from scanning.fusion import FusionOptions, fuse
from scanning.mesh import Mesh
from scanning.poses import PoseOptions, estimate_poses
from scanning.region import RegionOptions, find_region
from scanning.surface import SurfaceOptions, poisson

logger = logging.getLogger(__name__)

PoseMode = Literal["auto", "given", "estimate"]
UpAxis = Literal["x", "y", "z", "-x", "-y", "-z"]


class Progress(Protocol):
    """Receives progress: ``start(stage, total)`` then ``advance(amount)`` per unit of work."""

    def start(self, stage: str, total: int | None) -> None:
        """Begin a stage named ``stage`` of ``total`` units (None: unknown)."""

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` more units of the current stage as done."""


class _NoProgress:
    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """Options for reconstructing an RGB-D capture: pose mode and each stage's options."""

    poses: PoseMode = "auto"
    region: RegionOptions = field(default_factory=RegionOptions)
    pose: PoseOptions = field(default_factory=PoseOptions)
    fusion: FusionOptions = field(default_factory=FusionOptions)
    cleanup: CleanupOptions = field(default_factory=CleanupOptions)
    max_frames: int = 2000


@dataclass(frozen=True, slots=True)
class CloudOptions:
    """Options for surfacing a point cloud: surface and cleanup options, up axis, scale, point cap."""

    surface: SurfaceOptions = field(default_factory=SurfaceOptions)
    cleanup: CleanupOptions = field(default_factory=CleanupOptions)
    up: UpAxis = "y"  # the cloud's up axis when no table plane is found
    scale: float = 1.0  # multiply coordinates by this to get meters (0.001 for millimetres)
    max_points: int = 5_000_000


@dataclass
class ScanReport:
    """What a reconstruction did (input, frames, poses, voxel, mesh, seconds per stage, output); written as JSON."""

    input: str
    kind: str
    frames_total: int = 0
    frames_used: int = 0
    poses: str = ""
    voxel_mm: float = 0.0
    triangles: int = 0
    watertight: bool = False
    dimensions_m: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    world_to_model: list[list[float]] = field(default_factory=list)  # (4, 4) capture world -> output frame
    # which object was reconstructed: chosen (its number, 0 for a --region box), reason, candidates (number,
    # size_m, centre_m in the capture frame, look_distance_m, seen, flat)
    object: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)


@contextmanager
def _timed(report: ScanReport, stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    report.seconds[stage] = round(time.perf_counter() - t0, 3)


def reconstruct_frames(
    frames: list[Frame],
    intr: Any,
    options: CaptureOptions = CaptureOptions(),
    progress: Progress | None = None,
    report: ScanReport | None = None,
) -> tuple[Mesh, ScanReport]:
    """Posed or unposed frames -> cleaned mesh (Y-up, meters) and a report."""
    prog = progress or _NoProgress()
    rep = report or ScanReport("<frames>", "frames", len(frames), len(frames))
    given = all(f.pose is not None for f in frames)
    if options.poses == "given" and not given:
        raise ReconstructionError("the capture has no poses (poses.json) but --poses given was asked for")
    if options.poses == "estimate" or not given:
        prog.start("poses", len(frames))
        with _timed(rep, "poses"):
            frames = estimate_poses(
                [replace(f, pose=None) for f in frames], intr, options.pose, lambda n: prog.advance(n)
            )
        rep.poses = "estimated"
    else:
        rep.poses = "given"
    prog.start("region", None)
    with _timed(rep, "region"):
        region = find_region(frames, intr, options.region)
    rep.object = {
        "chosen": region.chosen,
        "reason": region.reason,
        "candidates": [asdict(c) for c in region.candidates],
    }
    prog.start("fusion", len(frames))
    with _timed(rep, "fusion"):
        raw = fuse(frames, intr, region, options.fusion, lambda n: prog.advance(n))
    rep.voxel_mm = round(raw.voxel * 1000, 3)
    rep.world_to_model = (Y_UP @ region.to_object).tolist() if options.cleanup.y_up else region.to_object.tolist()
    prog.start("cleanup", None)
    with _timed(rep, "cleanup"):
        mesh, crep = clean(raw, options.cleanup)
    rep.triangles, rep.watertight = crep.triangles_after, crep.watertight
    rep.dimensions_m = [round(d, 5) for d in crep.dimensions]
    return mesh, rep


def reconstruct_capture(
    folder: str | Path,
    options: CaptureOptions = CaptureOptions(),
    progress: Progress | None = None,
) -> tuple[Mesh, ScanReport]:
    """Read a capture folder (see :mod:`scanning.frames`) and reconstruct it."""
    prog = progress or _NoProgress()
    t0 = time.perf_counter()
    seq = read_sequence(folder, options.max_frames)
    prog.start("frames", len(seq))
    frames = seq.load_all(lambda n: prog.advance(n))
    rep = ScanReport(str(folder), f"capture ({seq.layout})", len(seq), len(frames))
    rep.seconds["frames"] = round(time.perf_counter() - t0, 3)
    if options.poses == "given" and seq.poses is None:
        raise ReconstructionError("has no poses but given poses were asked for", file=folder)
    try:
        mesh, rep = reconstruct_frames(frames, seq.intrinsics, options, progress, rep)
    except PoseError as exc:  # about the capture as a whole: name it
        if exc.file is not None:
            raise
        raise PoseError(exc.problem, file=folder, field=exc.field) from None
    rep.seconds["total"] = round(time.perf_counter() - t0, 3)
    return mesh, rep


Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])  # object frame (z up) -> glTF (y up)
_AXES = {"x": [1, 0, 0], "y": [0, 1, 0], "z": [0, 0, 1], "-x": [-1, 0, 0], "-y": [0, -1, 0], "-z": [0, 0, -1]}


def _frame_from_up(up: np.ndarray) -> np.ndarray:
    """(3, 3) rotation whose rows are x, y, z of a frame with z = ``up``."""
    up = up / np.linalg.norm(up)
    ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - (ref @ up) * up  # keep the input's x axis where possible
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(up, x), up])


def reconstruct_cloud(
    path: str | Path,
    options: CloudOptions = CloudOptions(),
    progress: Progress | None = None,
) -> tuple[Mesh, ScanReport]:
    """Point cloud file -> cleaned mesh (Y-up, meters) and a report.

    With a table plane under the object, the untrimmed (closed) Poisson surface is cut at the table and capped:
    a watertight mesh. Without one, low-density surface is trimmed and only small holes are closed.
    """
    prog = progress or _NoProgress()
    t0 = time.perf_counter()
    cloud = read_cloud(path, options.max_points)
    if options.scale != 1.0:
        cloud = replace(cloud, points=cloud.points * options.scale)
    rep = ScanReport(str(path), "cloud")
    rep.seconds["read"] = round(time.perf_counter() - t0, 3)
    prog.start("cleanup", None)
    with _timed(rep, "outliers"):
        cloud, plane = remove_table(cloud)
        cloud = remove_outliers(cloud)
    up = plane.normal if plane is not None else np.asarray(_AXES[options.up], dtype=np.float64)
    rot = _frame_from_up(up)
    prog.start("surface", None)
    with _timed(rep, "surface"):
        raw = poisson(cloud, options.surface, trim=plane is None)
    v = raw.vertices @ rot.T
    local_pts = cloud.points @ rot.T
    floor = -plane.offset if plane is not None else float(local_pts[:, 2].min())
    lo, hi = local_pts.min(axis=0), local_pts.max(axis=0)
    v = v - [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, floor]
    mesh = raw.with_(vertices=v)
    with _timed(rep, "cleanup"):
        mesh = _cut_and_cap(mesh)
        mesh, crep = clean(mesh, options.cleanup)
    rep.voxel_mm = round(raw.voxel * 1000, 3)
    rep.triangles, rep.watertight = crep.triangles_after, crep.watertight
    rep.dimensions_m = [round(d, 5) for d in crep.dimensions]
    rep.seconds["total"] = round(time.perf_counter() - t0, 3)
    return mesh, rep


def _cut_and_cap(mesh: Mesh) -> Mesh:
    """Remove what lies below the floor (z < 0) and close the cut with a flat cap on the floor."""
    below = mesh.vertices[:, 2] < 0
    if below.any():
        keep = ~below[mesh.triangles].any(axis=1)
        mesh = mesh.with_(triangles=mesh.triangles[keep]).compact()
    if len(mesh.triangles) == 0:
        raise ReconstructionError("nothing of the surface stands above the floor")
    scale = float(np.max(mesh.extent))
    verts = mesh.vertices.copy()
    tris = [mesh.triangles]
    cols = None if mesh.colors is None else [mesh.colors]
    for loop in boundary_loops(mesh.triangles):
        idx = np.array(loop)
        if np.max(verts[idx, 2]) > 0.05 * scale:
            continue
        verts[idx, 2] = 0.0
        centre = verts[idx].mean(axis=0)
        verts = np.vstack([verts, centre])
        if cols is not None and mesh.colors is not None:
            cols.append(mesh.colors[idx].mean(axis=0, keepdims=True))
        tris.append(np.stack([np.roll(idx, -1), idx, np.full(len(idx), len(verts) - 1)], 1))
    return Mesh(verts, np.concatenate(tris), None if cols is None else np.concatenate(cols), mesh.voxel)


def write_report(report: ScanReport, path: str | Path) -> None:
    """Write the report as JSON atomically."""
    import json

    from assets_pipeline import write_bytes_atomic

    write_bytes_atomic(Path(path), json.dumps(report.to_dict(), indent=2, default=float).encode())
