"""Hand-off to the asset pipeline: a cleaned mesh (Y-up, meters) becomes an optimized GLB with vertex colors.

Everything goes through the asset pipeline's public API: the mesh becomes an ``AssetDocument`` in memory, is
optimized there, and is written once. Publishing (``--sku``) optimizes the same in-memory document into the GLB
and LOD chain, writes the GLB, and hands the in-memory LODs to ``assets_pipeline.publish`` for the USDZ files,
thumbnail, store and catalog: no file is read back.
"""

from __future__ import annotations

import logging
import time
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
    from scanning.reconstruct import Progress

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
    seconds: dict[str, float] = field(default_factory=dict)
    """Time of the hand-off's stages: ``texture`` (atlas, when asked for) and ``total``."""


def to_document(mesh: Mesh, name: str = "scan", texture_size: int | None = None,
                progress: Progress | None = None, seconds: dict[str, float] | None = None) -> AssetDocument:
    """AssetDocument with positions, normals, vertex colors and triangles; with ``texture_size``, the colors are
    baked into a texture atlas of that size instead (see :mod:`scanning.atlas`; its stages go to ``progress``
    and its time to ``seconds["texture"]``)."""
    try:
        from assets_pipeline import AssetDocument
        from assets_pipeline.document import CLAMP_TO_EDGE, Image
        from assets_pipeline.geometry import vertex_normals
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    normals = vertex_normals(mesh.vertices, mesh.triangles)
    if texture_size and mesh.colors is None:
        logger.warning("the scan has no colours (a range scan): no texture atlas is baked, the model keeps its "
                       "neutral material")
        texture_size = None
    if texture_size:
        import io

        from PIL import Image as PILImage

        from scanning.atlas import bake_atlas

        t0 = time.perf_counter()
        tex = bake_atlas(mesh, normals, texture_size, progress)
        if seconds is not None:
            seconds["texture"] = round(time.perf_counter() - t0, 3)
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


def _report(output: str | Path, size: int, doc: AssetDocument, report: OptimizeReport, mesh: Mesh,
            seconds: dict[str, float], t0: float) -> HandoffReport:
    rep = report.to_dict()
    dims = [float(x) for x in rep.get("dimensions_m", [])] or [float(x) for x in mesh.extent]
    seconds["total"] = round(time.perf_counter() - t0, 3)
    return HandoffReport(str(output), size, int(doc.triangle_count()), dims, rep, seconds)


def write_product(
    mesh: Mesh, output: str | Path, name: str = "scan", options: OptimizeOptions | None = None,
    texture_size: int | None = None, progress: Progress | None = None,
) -> HandoffReport:
    """Optimize the mesh with the asset pipeline and write the GLB atomically.

    ``options`` is an ``assets_pipeline.OptimizeOptions`` (default: the pipeline's defaults). With
    ``texture_size``, the vertex colors are baked into a texture atlas of that many pixels a side. ``progress``
    sees the atlas stages and ``optimizing``; the report's ``seconds`` time them.
    """
    try:
        from assets_pipeline import AssetError, OptimizeOptions, optimize_document, write_glb
    except ImportError as exc:
        raise HandoffError(f"the asset pipeline is not available ({exc})") from None
    t0, seconds = time.perf_counter(), {}
    doc = to_document(mesh, name, texture_size, progress, seconds)
    if progress is not None:
        progress.start("optimizing", None)
    try:
        report = optimize_document(doc, options or OptimizeOptions())
        size = write_glb(doc, output)
    except AssetError as exc:
        raise HandoffError(f"asset pipeline: {exc}", file=output) from None
    logger.info("wrote %s (%d bytes)", output, size)
    return _report(output, size, doc, report, mesh, seconds, t0)


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
    progress: Progress | None = None,
) -> tuple[HandoffReport, PublishReport]:
    """Optimize the mesh in memory into the GLB and LOD chain of ``options``, write the GLB at ``output``, and
    publish the in-memory model as the next version of ``sku`` (USDZ per LOD, thumbnail, store + catalog of
    ``settings``); returns the hand-off and publish reports.

    ``options`` is an ``assets_pipeline.publish.PublishOptions`` (default: publish's own, LODs 0.5, 0.25, 0.1); the
    GLB written is the one the pipeline's defaults give (as :func:`write_product`). Without ``category`` an
    existing product keeps its own and a new one is filed under ``accessory``. Asset-pipeline errors become
    :class:`HandoffError` with the pipeline's message; after the GLB is written, they say
    ``written, but not published`` and the GLB stays. ``progress`` sees the atlas stages, ``optimizing and
    LODs`` and ``publishing``; the hand-off report's ``seconds`` time the first two.
    """
    check_publish_target(sku, category)
    from assets_pipeline import AssetError, write_bytes_atomic
    from assets_pipeline.catalog.models import parse_category
    from assets_pipeline.publish import PublishOptions, PublishRequest, optimize_for_publish, publish_optimized
    from assets_pipeline.service import AssetService

    options = options or PublishOptions()
    t0, seconds = time.perf_counter(), {}
    doc = to_document(mesh, name, texture_size, progress, seconds)
    if progress is not None:
        progress.start("optimizing and LODs", None)
    try:
        optimized: OptimizedModel = optimize_for_publish(doc, None, options)
        main = optimized.lods[0]
        write_bytes_atomic(Path(output), main.glb)
    except AssetError as exc:
        raise HandoffError(f"asset pipeline: {exc}", file=output) from None
    logger.info("wrote %s (%d bytes)", output, len(main.glb))
    handoff = _report(output, len(main.glb), main.doc, optimized.report, mesh, seconds, t0)
    if progress is not None:
        progress.start("publishing", None)
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
