"""Hand-off to the asset pipeline: a cleaned mesh (Y-up, meters) becomes an optimized GLB with vertex colors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scanning.errors import HandoffError
from scanning.mesh import Mesh

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HandoffReport:
    output: str
    bytes: int
    triangles: int
    dimensions_m: list[float]
    optimize: dict[str, Any] = field(default_factory=dict)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(v, 3) float32 area-weighted unit vertex normals."""
    a, b, c = vertices[triangles[:, 0]], vertices[triangles[:, 1]], vertices[triangles[:, 2]]
    fn = np.cross(b - a, c - a)
    vn = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(vn, triangles[:, k], fn)
    length = np.linalg.norm(vn, axis=1, keepdims=True)
    return (vn / np.where(length > 0, length, 1.0)).astype(np.float32)


def to_document(mesh: Mesh, name: str = "scan") -> Any:
    """AssetDocument with positions, normals, vertex colors and triangles."""
    try:
        from assets_pipeline import AssetDocument
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    return AssetDocument.from_mesh_arrays(
        mesh.vertices.astype(np.float32), mesh.triangles.astype(np.uint32),
        normals=vertex_normals(mesh.vertices, mesh.triangles),
        colors=None if mesh.colors is None else mesh.colors.astype(np.float32), name=name)


def write_product(mesh: Mesh, output: str | Path, name: str = "scan", options: Any = None) -> HandoffReport:
    """Optimize the mesh with the asset pipeline and write the GLB atomically.

    ``options`` is an ``assets_pipeline.OptimizeOptions`` (default: the pipeline's defaults).
    """
    try:
        from assets_pipeline import AssetError, OptimizeOptions, optimize_document, write_glb
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    doc = to_document(mesh, name)
    try:
        report = optimize_document(doc, options or OptimizeOptions())
        size = write_glb(doc, output)
    except AssetError as exc:
        raise HandoffError(f"asset pipeline: {exc}", file=output) from None
    rep = report.to_dict() if hasattr(report, "to_dict") else {}
    dims = [float(x) for x in rep.get("dimensions_m", [])] or [float(x) for x in mesh.extent]
    logger.info("wrote %s (%d bytes)", output, size)
    return HandoffReport(str(output), int(size), int(doc.triangle_count()), dims, rep)
