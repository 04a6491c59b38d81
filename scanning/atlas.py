"""Texture atlas baked from vertex colors, for viewers and formats that ignore vertex colors.

Open3D's UVAtlas charts the mesh into a ``size`` x ``size`` atlas (per-corner UVs), then the vertex colors are
rasterized into it (barycentric interpolation, a few texels of gutter). Vertices are split along chart seams,
so that every vertex has one UV as glTF wants; normals are computed on the unsplit mesh so shading stays smooth
across seams. The atlas holds exactly the vertex colors (no extra detail): it exists for compatibility.

Measured here (one thread): UVAtlas takes about 1 s for 3,500 triangles and 22-29 s for 8,000-60,000
triangles of a fused scan; baking takes about 1 s. Hence it is opt-in (``--texture-size``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scanning.errors import HandoffError
from scanning.mesh import Mesh

if TYPE_CHECKING:
    from scanning.reconstruct import Progress

MIN_SIZE, MAX_SIZE = 64, 4096


@dataclass(frozen=True, slots=True)
class TexturedMesh:
    """vertices (v, 3), triangles (t, 3), normals (v, 3), uvs (v, 2) in glTF's convention (origin at the
    image's top-left), image (size, size, 3) uint8 with row 0 at the top."""

    vertices: np.ndarray
    triangles: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    image: np.ndarray


def bake_atlas(mesh: Mesh, normals: np.ndarray, size: int = 1024, progress: Progress | None = None) -> TexturedMesh:
    """Chart ``mesh`` into a ``size`` x ``size`` atlas and bake its vertex colors into it.

    ``normals`` are the mesh's (v, 3) vertex normals, carried over to the split vertices. ``progress`` gets two
    stages, ``UV charting`` (one call into UVAtlas, seconds to tens of seconds) and ``texture baking``.
    """
    import open3d as o3d

    if not MIN_SIZE <= size <= MAX_SIZE:
        raise HandoffError(f"must be between {MIN_SIZE} and {MAX_SIZE}, got {size}", field="texture size")
    if mesh.colors is None:
        raise HandoffError("the mesh has no vertex colors to bake", field="texture")
    legacy = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.triangles.astype(np.int32))
    )
    if not (legacy.is_edge_manifold(allow_boundary_edges=True) and legacy.is_vertex_manifold()):
        # checked first: Open3D's UVAtlas raises on some non-manifold meshes and crashes the process on others
        raise HandoffError(
            "UV charting failed: the mesh is not manifold; run without --texture-size to keep vertex colors",
            field="texture",
        )
    t = o3d.t.geometry.TriangleMesh()
    t.vertex.positions = o3d.core.Tensor(mesh.vertices.astype(np.float32))
    t.triangle.indices = o3d.core.Tensor(mesh.triangles.astype(np.int32))
    t.vertex.colors = o3d.core.Tensor(np.clip(mesh.colors, 0, 1).astype(np.float32))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Warning):
        if progress is not None:
            progress.start(f"UV charting ({len(mesh.triangles):,} triangles)", None)
        try:
            t.compute_uvatlas(size=size, gutter=2.0, max_stretch=1 / 6, parallel_partitions=1, nthreads=1)
        except RuntimeError as exc:  # UVAtlas refuses non-manifold meshes (Poisson surfaces of open clouds)
            reason = "the mesh is not manifold" if "manifold" in str(exc).lower() else str(exc).strip()
            raise HandoffError(
                f"UV charting failed: {reason}; run without --texture-size to keep vertex colors", field="texture"
            ) from None
        if progress is not None:
            progress.start("texture baking", None)
        baked = t.bake_vertex_attr_textures(size, {"colors"}, margin=2.0, fill=0.0, update_material=False)
    corner_uv = t.triangle.texture_uvs.numpy().reshape(-1, 2).astype(np.float64)  # (3t, 2), origin bottom-left
    if not np.all(np.isfinite(corner_uv)):
        raise HandoffError("UV charting failed on this mesh", field="texture")
    corner_vertex = mesh.triangles.reshape(-1)
    # one output vertex per distinct (vertex, uv) pair
    keys = np.concatenate([corner_vertex[:, None].astype(np.float64), np.round(corner_uv * size * 16)], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    source = corner_vertex[first]
    uvs = corner_uv[first]
    uvs[:, 1] = 1.0 - uvs[:, 1]
    image = np.clip(np.rint(baked["colors"].numpy() * 255), 0, 255).astype(np.uint8)
    return TexturedMesh(
        vertices=mesh.vertices[source],
        triangles=inverse.reshape(-1).reshape(-1, 3).astype(np.int64),
        normals=normals[source],
        uvs=uvs,
        image=image,
    )
