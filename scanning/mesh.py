"""The mesh value passed between stages, with conversions to and from Open3D."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Mesh:
    """A triangle mesh in meters.

    vertices : (v, 3) float64; triangles : (t, 3) int64 (counter-clockwise seen from outside)
    colors : (v, 3) float64 0..1 or None; voxel : the resolution it was built at (meters), 0 if unknown
    """

    vertices: np.ndarray
    triangles: np.ndarray
    colors: np.ndarray | None = None
    voxel: float = 0.0

    def with_(self, **changes: Any) -> Mesh:
        """Return a copy of this mesh with the given fields replaced."""
        return replace(self, **changes)

    @property
    def extent(self) -> np.ndarray:
        """Return the (3,) size of the vertices' bounding box (zeros for an empty mesh)."""
        return np.ptp(self.vertices, axis=0) if len(self.vertices) else np.zeros(3)

    def to_open3d(self) -> Any:
        """Return this mesh as an ``open3d.geometry.TriangleMesh`` (with vertex colors when present)."""
        import open3d as o3d

        m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(self.vertices),
                                      o3d.utility.Vector3iVector(self.triangles.astype(np.int32)))
        if self.colors is not None:
            m.vertex_colors = o3d.utility.Vector3dVector(self.colors)
        return m

    @classmethod
    def from_open3d(cls, m: Any, voxel: float = 0.0) -> Mesh:
        """Build a Mesh from an ``open3d.geometry.TriangleMesh`` (copying its arrays), with its voxel size."""
        colors = np.asarray(m.vertex_colors).copy() if m.has_vertex_colors() else None
        return cls(np.asarray(m.vertices).copy(), np.asarray(m.triangles).astype(np.int64), colors, voxel)

    def compact(self) -> Mesh:
        """Drop vertices no triangle uses."""
        used = np.unique(self.triangles)
        if len(used) == len(self.vertices):
            return self
        remap = np.full(len(self.vertices), -1, np.int64)
        remap[used] = np.arange(len(used))
        colors = None if self.colors is None else self.colors[used]
        return Mesh(self.vertices[used], remap[self.triangles], colors, self.voxel)
