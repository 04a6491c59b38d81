"""Point clouds from files: PLY, PCD and XYZ (with or without normals and colors), validated.

``.xyz`` text files hold one point per line: ``x y z``, ``x y z nx ny nz``, ``x y z r g b`` (colors 0..1 or
0..255, told apart from normals by their length) or ``x y z nx ny nz r g b``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scanning.errors import CloudError

logger = logging.getLogger(__name__)

MIN_POINTS = 100
SUFFIXES = (".ply", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".txt")


@dataclass(frozen=True, slots=True)
class PointCloud:
    """points : (n, 3) float64; normals : (n, 3) float64 unit or None; colors : (n, 3) float64 0..1 or None."""

    points: np.ndarray
    normals: np.ndarray | None = None
    colors: np.ndarray | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.points)

    def to_open3d(self) -> object:
        """Return this cloud as an ``open3d.geometry.PointCloud`` (points, and normals and colors when present)."""
        import open3d as o3d

        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(self.points))
        if self.normals is not None:
            pc.normals = o3d.utility.Vector3dVector(self.normals)
        if self.colors is not None:
            pc.colors = o3d.utility.Vector3dVector(self.colors)
        return pc


def read_cloud(path: str | Path, max_points: int = 5_000_000) -> PointCloud:
    """Read and validate a point cloud; raises CloudError naming the file and the problem."""
    p = Path(path)
    if not p.is_file():
        raise CloudError("file not found", file=p)
    if p.stat().st_size == 0:
        raise CloudError("file is empty", file=p)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise CloudError(f"unsupported point cloud format {suffix!r} (use .ply, .pcd or .xyz)", file=p)
    if suffix in (".ply", ".pcd"):
        points, normals, colors = _read_open3d(p)
    else:
        points, normals, colors = _read_xyz(p)
    return validate_cloud(points, normals, colors, source=str(p), max_points=max_points)


def validate_cloud(
    points: np.ndarray,
    normals: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    source: str = "<array>",
    max_points: int = 5_000_000,
) -> PointCloud:
    """Drop non-finite rows (with a warning), check size and extent, normalise normals and colors."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise CloudError(f"points must be (n, 3), got {pts.shape}", file=source)
    if len(pts) > max_points:
        raise CloudError(f"{len(pts)} points exceeds the limit of {max_points}", file=source)
    ok = np.all(np.isfinite(pts), axis=1)
    nrm = None if normals is None else np.asarray(normals, dtype=np.float64)
    col = None if colors is None else np.asarray(colors, dtype=np.float64)
    if nrm is not None:
        ok &= np.all(np.isfinite(nrm), axis=1)
    if col is not None:
        ok &= np.all(np.isfinite(col), axis=1)
    if not ok.all():
        logger.warning("%s: %d points with NaN or infinite values dropped", source, int((~ok).sum()))
        pts = pts[ok]
        nrm = None if nrm is None else nrm[ok]
        col = None if col is None else col[ok]
    if len(pts) < MIN_POINTS:
        raise CloudError(f"has {len(pts)} usable points; at least {MIN_POINTS} are needed for a surface",
                         file=source)
    extent = pts.max(axis=0) - pts.min(axis=0)
    if np.sort(extent)[1] <= 1e-9 * max(1.0, float(np.abs(pts).max())):
        raise CloudError("points are all on a line or a single spot; no surface can be built", file=source)
    if nrm is not None:
        length = np.linalg.norm(nrm, axis=1)
        if np.mean(length > 1e-9) < 0.99:
            logger.warning("%s: normals are mostly zero; they will be estimated", source)
            nrm = None
        else:
            nrm = nrm / np.maximum(length, 1e-12)[:, None]
    if col is not None and col.max() > 1.0:
        col = col / 255.0
    if col is not None:
        col = np.clip(col, 0.0, 1.0)
    return PointCloud(pts, nrm, col, source)


def _read_open3d(p: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    import open3d as o3d

    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        pc = o3d.io.read_point_cloud(str(p), format="auto", remove_nan_points=False, remove_infinite_points=False)
    points = np.asarray(pc.points)
    if len(points) == 0:
        raise CloudError("no points could be read (empty or malformed file)", file=p)
    normals = np.asarray(pc.normals) if pc.has_normals() else None
    colors = np.asarray(pc.colors) if pc.has_colors() else None
    return points, normals, colors


def _read_xyz(p: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    rows: list[list[float]] = []
    width = None
    with p.open("r", encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            text = line.strip().replace(",", " ")
            if not text or text.startswith(("#", "//")):
                continue
            try:
                values = [float(v) for v in text.split()]
            except ValueError:
                raise CloudError(f"line {n}: not numbers: {text[:40]!r}", file=p) from None
            if width is None:
                width = len(values)
                if width not in (3, 6, 9):
                    raise CloudError(f"line {n}: expected 3, 6 or 9 numbers per point, got {width}", file=p)
            elif len(values) != width:
                raise CloudError(f"line {n}: expected {width} numbers like the first line, got {len(values)}",
                                 file=p)
            rows.append(values)
    if not rows:
        raise CloudError("no points in file", file=p)
    arr = np.array(rows)
    points = arr[:, :3]
    if width == 3:
        return points, None, None
    if width == 9:
        return points, arr[:, 3:6], arr[:, 6:9]
    rest = arr[:, 3:6]
    lengths = np.linalg.norm(rest, axis=1)
    if np.median(np.abs(lengths - 1.0)) < 1e-3:
        return points, rest, None
    return points, None, rest
