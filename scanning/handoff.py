"""Hand-off to the asset pipeline: a cleaned mesh (Y-up, meters) becomes an optimized GLB with vertex colors.

Everything goes through the asset pipeline's public API: the mesh becomes an ``AssetDocument`` in memory, is
optimized there, and is written once. Publishing (``--sku``) optimizes the same in-memory document into the GLB
and LOD chain, writes the GLB, and hands the in-memory LODs to ``assets_pipeline.publish`` for the USDZ files,
thumbnail, store and catalog: no file is read back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scanning.errors import HandoffError
from scanning.mesh import Mesh

if TYPE_CHECKING:
    from assets_pipeline import AssetDocument, OptimizeOptions
    from assets_pipeline.publish import OptimizedModel, PublishOptions, PublishReport
    from assets_pipeline.report import OptimizeReport
    from assets_pipeline.settings import AssetSettings

logger = logging.getLogger(__name__)

DEFAULT_CATEGORY = "accessory"


@dataclass(frozen=True, slots=True)
class HandoffReport:
    """The GLB handed to the asset pipeline: path, bytes, triangles, size in meters, optimize report."""
    output: str
    bytes: int
    triangles: int
    dimensions_m: list[float]
    optimize: dict[str, Any] = field(default_factory=dict)


def to_document(mesh: Mesh, name: str = "scan", texture_size: int | None = None) -> AssetDocument:
    """AssetDocument with positions, normals, vertex colors and triangles; with ``texture_size``, the colors are
    baked into a texture atlas of that size instead (see :mod:`scanning.atlas`)."""
    try:
        from assets_pipeline import AssetDocument
        from assets_pipeline.document import CLAMP_TO_EDGE, Image
        from assets_pipeline.geometry import vertex_normals
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    normals = vertex_normals(mesh.vertices, mesh.triangles)
    if texture_size:
        import io

        from PIL import Image as PILImage

        from scanning.atlas import bake_atlas

        tex = bake_atlas(mesh, normals, texture_size)
        png = io.BytesIO()
        PILImage.fromarray(tex.image).save(png, format="PNG")
        return AssetDocument.from_mesh_arrays(
            tex.vertices.astype(np.float32),
            tex.triangles.astype(np.uint32),
            normals=tex.normals,
            texcoords=tex.uvs.astype(np.float32),
            name=name,
            texture=Image(png.getvalue(), "image/png", f"{name}_atlas"),
            texture_wrap=CLAMP_TO_EDGE,  # an atlas: charts must not bleed in from the opposite edge
        )
    return AssetDocument.from_mesh_arrays(
        mesh.vertices.astype(np.float32),
        mesh.triangles.astype(np.uint32),
        normals=normals,
        colors=None if mesh.colors is None else mesh.colors.astype(np.float32),
        name=name,
    )


def _report(output: str | Path, size: int, doc: AssetDocument, report: OptimizeReport, mesh: Mesh) -> HandoffReport:
    rep = report.to_dict()
    dims = [float(x) for x in rep.get("dimensions_m", [])] or [float(x) for x in mesh.extent]
    return HandoffReport(str(output), size, int(doc.triangle_count()), dims, rep)


def write_product(
    mesh: Mesh, output: str | Path, name: str = "scan", options: OptimizeOptions | None = None,
    texture_size: int | None = None,
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
    logger.info("wrote %s (%d bytes)", output, size)
    return _report(output, size, doc, report, mesh)


def check_publish_target(sku: str, category: str | None = None) -> None:
    """Refuse a bad SKU or category before any work (the asset pipeline's own rules)."""
    try:
        from assets_pipeline import AssetError
        from assets_pipeline.publish import check_target
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    try:
        check_target(sku, category)
    except AssetError as exc:
        raise HandoffError(exc.problem, field=f"--{exc.field or 'sku'}") from None


def publish_product(
    mesh: Mesh,
    output: str | Path,
    sku: str,
    category: str | None = None,
    *,
    settings: AssetSettings,
    name: str = "scan",
    product_name: str | None = None,
    note: str | None = None,
    texture_size: int | None = None,
    options: PublishOptions | None = None,
) -> tuple[HandoffReport, PublishReport]:
    """Optimize the mesh in memory into the GLB and LOD chain of ``options``, write the GLB at ``output``, and
    publish the in-memory model as the next version of ``sku`` (USDZ per LOD, thumbnail, store + catalog of
    ``settings``); returns the hand-off and publish reports.

    ``options`` is an ``assets_pipeline.publish.PublishOptions`` (default: publish's own, LODs 0.5, 0.25, 0.1); the
    GLB written is the one the pipeline's defaults give (as :func:`write_product`). Without ``category`` an
    existing product keeps its own and a new one is filed under ``accessory``. Asset-pipeline errors become
    :class:`HandoffError` with the pipeline's message; after the GLB is written, they say
    ``written, but not published`` and the GLB stays.
    """
    check_publish_target(sku, category)
    from assets_pipeline import AssetError, write_bytes_atomic
    from assets_pipeline.catalog.models import parse_category
    from assets_pipeline.publish import PublishOptions, PublishRequest, optimize_for_publish, publish_optimized
    from assets_pipeline.service import AssetService

    options = options or PublishOptions()
    doc = to_document(mesh, name, texture_size)
    try:
        optimized: OptimizedModel = optimize_for_publish(doc, None, options)
        main = optimized.lods[0]
        write_bytes_atomic(Path(output), main.glb)
    except AssetError as exc:
        raise HandoffError(f"asset pipeline: {exc}", file=output) from None
    logger.info("wrote %s (%d bytes)", output, len(main.glb))
    handoff = _report(output, len(main.glb), main.doc, optimized.report, mesh)
    try:
        service = AssetService.open(settings)
        try:
            existing = service.catalog.find(sku) if category is None else None
            cat = existing.category if existing is not None else parse_category(category or DEFAULT_CATEGORY)
            request = PublishRequest(Path(output), sku, cat, product_name, (), note)
            report = publish_optimized(request, optimized, service.store, service.catalog, options=options)
        finally:
            service.close()
    except AssetError as exc:
        raise HandoffError(f"written, but not published: publishing {sku}: {exc}", file=output) from None
    except OSError as exc:  # e.g. the catalog's folder cannot be created (assets_pipeline lets this through)
        raise HandoffError(f"written, but not published: publishing {sku}: {exc.strerror or exc}",
                           file=output) from None  # fmt: skip
    logger.info("published %s version %d to %s", sku, report.version, report.store)
    return handoff, report
