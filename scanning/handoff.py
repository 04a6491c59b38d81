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
    """The GLB handed to the asset pipeline: path, bytes, triangles, size in meters, optimize report."""
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


def to_document(mesh: Mesh, name: str = "scan", texture_size: int | None = None) -> Any:
    """AssetDocument with positions, normals, vertex colors and triangles; with ``texture_size``, the colors are
    baked into a texture atlas of that size instead (see :mod:`scanning.atlas`)."""
    try:
        from assets_pipeline import AssetDocument
        from assets_pipeline.document import Image
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    normals = vertex_normals(mesh.vertices, mesh.triangles)
    if texture_size:
        import io

        from PIL import Image as PILImage

        from scanning.atlas import bake_atlas

        tex = bake_atlas(mesh, normals, texture_size)
        material = {
            "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0, "roughnessFactor": 0.8}
        }
        doc = AssetDocument.from_mesh_arrays(
            tex.vertices.astype(np.float32),
            tex.triangles.astype(np.uint32),
            normals=tex.normals,
            texcoords=tex.uvs.astype(np.float32),
            name=name,
            material=material,
        )
        png = io.BytesIO()
        PILImage.fromarray(tex.image).save(png, format="PNG")
        doc.images.append(Image(png.getvalue(), "image/png", f"{name}_atlas"))
        doc.gltf["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}]
        doc.gltf["textures"] = [{"source": 0, "sampler": 0}]
        return doc
    return AssetDocument.from_mesh_arrays(
        mesh.vertices.astype(np.float32),
        mesh.triangles.astype(np.uint32),
        normals=normals,
        colors=None if mesh.colors is None else mesh.colors.astype(np.float32),
        name=name,
    )


def write_product(
    mesh: Mesh, output: str | Path, name: str = "scan", options: Any = None, texture_size: int | None = None
) -> HandoffReport:
    """Optimize the mesh with the asset pipeline and write the GLB atomically.

    ``options`` is an ``assets_pipeline.OptimizeOptions`` (default: the pipeline's defaults). With
    ``texture_size``, the vertex colors are baked into a texture atlas of that many pixels a side.
    """
    try:
        from assets_pipeline import AssetError, OptimizeOptions, optimize_document, write_glb
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    doc = to_document(mesh, name, texture_size)
    try:
        report = optimize_document(doc, options or OptimizeOptions())
        size = write_glb(doc, output)
    except AssetError as exc:
        raise HandoffError(f"asset pipeline: {exc}", file=output) from None
    rep = report.to_dict() if hasattr(report, "to_dict") else {}
    dims = [float(x) for x in rep.get("dimensions_m", [])] or [float(x) for x in mesh.extent]
    logger.info("wrote %s (%d bytes)", output, size)
    return HandoffReport(str(output), int(size), int(doc.triangle_count()), dims, rep)


DEFAULT_CATEGORY = "accessory"


def check_publish_target(sku: str, category: str | None = None) -> None:
    """Refuse a bad SKU or category before any work (the asset pipeline's own rules)."""
    try:
        from assets_pipeline import AssetError
        from assets_pipeline.catalog.repository import parse_category
        from assets_pipeline.publish import check_sku
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    try:
        check_sku(sku)
        if category is not None:
            parse_category(category)
    except AssetError as exc:
        raise HandoffError(exc.problem, field=f"--{exc.field or 'sku'}") from None


def publish_product(
    glb: str | Path,
    sku: str,
    category: str | None = None,
    name: str | None = None,
    note: str | None = None,
    settings: Any = None,
    options: Any = None,
) -> Any:
    """Publish a written product GLB as the next version of ``sku`` with ``assets_pipeline.publish`` (LOD chain,
    USDZ per LOD, thumbnail, store + catalog) and return its ``PublishReport``.

    ``options`` is an ``assets_pipeline.publish.PublishOptions`` (default: publish's own, LODs 0.5, 0.25, 0.1).
    ``settings`` is an ``assets_pipeline.settings.AssetSettings`` (default: read from ``PHYGITAL_ASSETS_*``, i.e.
    the local store folder and SQLite catalog unless configured otherwise). Without ``category`` an existing
    product keeps its own and a new one is filed under ``accessory``. Asset-pipeline errors (bad SKU, a
    category conflict, an unreachable store) become :class:`HandoffError` with the pipeline's message.
    """
    check_publish_target(sku, category)
    from pydantic import ValidationError

    from assets_pipeline import AssetError
    from assets_pipeline.catalog.repository import parse_category
    from assets_pipeline.publish import PublishOptions, PublishRequest, publish
    from assets_pipeline.service import AssetService
    from assets_pipeline.settings import AssetSettings

    try:
        settings = settings if settings is not None else AssetSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        setting = "PHYGITAL_ASSETS_" + "_".join(str(p) for p in first["loc"]).upper()
        raise HandoffError(first["msg"], field=setting) from None
    try:
        service = AssetService.open(settings)
        try:
            existing = service.catalog.find(sku) if category is None else None
            cat = existing.category if existing is not None else parse_category(category or DEFAULT_CATEGORY)
            request = PublishRequest(Path(glb), sku, cat, name, (), note)
            report = publish(
                request, service.store, service.catalog, limits=settings.limits(), options=options or PublishOptions()
            )
        finally:
            service.close()
    except AssetError as exc:
        raise HandoffError(f"publishing {sku}: {exc}") from None
    except OSError as exc:  # e.g. the catalog's folder cannot be created (assets_pipeline lets this through)
        raise HandoffError(f"publishing {sku}: {exc.strerror or exc}", file=exc.filename) from None
    logger.info("published %s version %d to %s", sku, report.version, report.store)
    return report
