"""Publish a model as a new immutable product version, all or nothing.

Order: check the SKU -> optimize (GLB + LOD chain, in memory) -> USDZ per LOD and a PNG thumbnail from those
in-memory documents -> put every object into the store (content-addressed by sha256; bytes the store already
holds are not sent again) -> commit the catalog version last. A failure or a kill before the commit leaves at
most unreferenced objects in the store and no catalog row, so the catalog never points at a missing object;
running the same publish again reuses what was stored and completes. A model made in memory (a scan) is
published with :func:`optimize_for_publish` and :func:`publish_optimized`, without a file in between.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .catalog.models import CONTENT_TYPES, AssetFormat, Category, parse_category
from .catalog.repository import Catalog, NewAsset, NewVariant, NewVersion, find_usdz_for
from .document import AssetDocument
from .errors import InvalidAsset, LimitExceeded, MissingEncoder, NotFound
from .io.resources import check_input_file
from .limits import Limits
from .pipeline import OptimizedLod
from .report import OptimizeReport
from .store.base import AssetStore, file_sha256
from .transforms.ar_frame import size_warning

logger = logging.getLogger(__name__)
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_LODS = (0.5, 0.25, 0.1)
CATEGORY_SIZE_M = {Category.shoes: (0.05, 0.6), Category.apparel: (0.05, 3.0), Category.makeup: (0.01, 0.4),
                   Category.furniture: (0.1, 10.0), Category.accessory: (0.003, 2.0)}
"""Plausible largest dimension (meters) of a product of each category: a publish outside it is warned about."""


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """How a model is published: LOD ratios, thumbnail size, texture format, whether errors are measured."""
    lods: tuple[float, ...] = DEFAULT_LODS
    thumbnail_size: int = 512
    texture_format: str = "webp"
    """Passed to optimize: webp (default), keep, png or jpeg."""
    texture_max_size: int | None = None
    """Passed to optimize: textures larger than this many pixels are resized (None: not resized)."""
    lod_textures: bool = True
    """Passed to optimize: each LOD's textures are scaled down with its triangles (False: full size in every LOD)."""
    measure_error: bool = False
    """Measure each LOD's Hausdorff error (slower)."""
    units: str = "m"
    """Units of the source (m, cm, mm, in, ft); published models are in meters."""
    up: str = "y"
    """Up axis of the source (y or z); published models are Y-up."""


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """A model to publish: source file, SKU, category, name, variants, note."""
    source: Path
    sku: str
    category: Category
    name: str | None = None
    variants: Sequence[str] = ()
    """``NAME=VALUE`` strings; VALUE may name one of the model's KHR_materials_variants."""
    note: str | None = None
    source_name: str | None = None
    """Name to record for the source (the HTTP upload passes the client's file name)."""
    publish_key: str | None = None
    """Content address (batch publishing): if the product already has a version with this key, that version is
    returned and no new one is added."""


@dataclass(frozen=True, slots=True)
class PublishHooks:
    """Progress callbacks: optimization steps, then transfer (total bytes once, then increments)."""

    step: Callable[[str, int, int], None] | None = None
    transfer_start: Callable[[int], None] | None = None
    transfer: Callable[[int], None] | None = None
    before_put: Callable[[Path], None] | None = None
    """Called with each file just before it goes into the store (batch jobs journal the keys they may leave)."""


@dataclass(slots=True)
class PublishedObject:
    """One file a publish stored: format, LOD, key, sha256, bytes, whether it was new, variant shown alone."""
    format: str
    lod: int
    key: str
    sha256: str
    bytes: int
    created: bool
    triangles: int | None = None
    variant: int | None = None
    """KHR_materials_variants index of a USDZ that shows that variant alone (None: every variant)."""


@dataclass(slots=True)
class PublishReport:
    """What a publish did: SKU, new version, store, size in meters, files stored, variants, warnings, seconds."""
    sku: str
    version: int
    store: str
    dimensions_m: list[float]
    objects: list[PublishedObject] = field(default_factory=list)
    variants: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bytes_uploaded(self) -> int:
        """Return the bytes of the files this publish stored anew."""
        return sum(o.bytes for o in self.objects if o.created)

    @property
    def bytes_reused(self) -> int:
        """Return the bytes of the files the store already had."""
        return sum(o.bytes for o in self.objects if not o.created)


def check_sku(sku: str) -> str:
    """``sku`` when it is a valid SKU; InvalidAsset (field ``sku``) otherwise."""
    if not SKU.match(sku):
        raise InvalidAsset(f"{sku!r} is not a valid SKU (letters, digits, '.', '_', '-'; at most 64)", field="sku")
    return sku


def check_target(sku: str, category: str | None = None) -> Category | None:
    """Check where a publish will go before any work: a valid SKU and, when named, a known category (returned).
    InvalidAsset names the field (``sku`` or ``category``)."""
    check_sku(sku)
    return parse_category(category) if category is not None else None


def parse_variants(specs: Sequence[str], khr_names: Sequence[str]) -> list[NewVariant]:
    """``NAME=VALUE`` (or ``NAME``) -> variants, mapped to the model's KHR_materials_variants by name.

    Without ``--variant`` a model's own KHR variants are all published.
    """
    if not specs:
        return [NewVariant(n, None, i) for i, n in enumerate(khr_names)]
    out: list[NewVariant] = []
    seen: set[str] = set()
    for spec in specs:
        name, sep, value = spec.partition("=")
        name, value = name.strip(), value.strip()
        if not name or (sep and not value) or len(name) > 100 or len(value) > 200:
            raise InvalidAsset(f"{spec!r}: expected NAME=VALUE", field="variant")
        if name in seen:
            raise InvalidAsset(f"{name!r} is given twice", field="variant")
        seen.add(name)
        index = next((i for i, n in enumerate(khr_names) if n in (value, name)), None)
        out.append(NewVariant(name, value or None, index))
    return out


def _khr_variant_names(gltf: dict[str, object]) -> list[str]:
    ext = gltf.get("extensions")
    variants = ext.get("KHR_materials_variants", {}).get("variants", []) if isinstance(ext, dict) else []
    return [str(v.get("name", f"variant{i}")) for i, v in enumerate(variants) if isinstance(v, dict)]


@dataclass(frozen=True, slots=True)
class OptimizedModel:
    """A model optimized for publishing, in memory: the optimize report, the main output then each LOD (document
    and GLB bytes), and the sha256 of the source recorded in the catalog."""

    report: OptimizeReport
    lods: list[OptimizedLod]
    source_sha256: str


def optimize_for_publish(doc: AssetDocument, source_sha256: str | None = None,
                         options: PublishOptions = PublishOptions(),
                         progress: Callable[[str, int, int], None] | None = None,
                         steps_before: int = 0) -> OptimizedModel:
    """Optimize ``doc`` (read, not yet optimized; consumed) into the GLB and LOD chain ``options`` ask for, in
    memory. ``source_sha256`` names the source in the catalog; None: the main GLB's own (a model made in memory,
    such as a scan). ``progress`` counts on from ``steps_before``."""
    from .pipeline import OptimizeOptions, optimize_lods
    from .transforms.ar_frame import FrameOptions
    from .transforms.textures import TextureOptions

    opt = OptimizeOptions(lods=tuple(options.lods), measure_error=options.measure_error,
                          texture=TextureOptions(format=options.texture_format,  # type: ignore[arg-type]
                                                 max_size=options.texture_max_size,
                                                 lod_textures=options.lod_textures),
                          frame=FrameOptions(options.units, options.up))  # type: ignore[arg-type]
    report, lods = optimize_lods(doc, opt, progress, steps_before=steps_before)
    return OptimizedModel(report, lods, source_sha256 or hashlib.sha256(lods[0].glb).hexdigest())


def publish(request: PublishRequest, store: AssetStore, catalog: Catalog, *, limits: Limits,
            options: PublishOptions = PublishOptions(), hooks: PublishHooks = PublishHooks()) -> PublishReport:
    """Optimize ``request.source`` and publish it as the next version of ``request.sku``."""
    from .io.formats import read

    t0 = time.perf_counter()
    source = Path(request.source)
    check_sku(request.sku)
    if not source.exists():
        raise NotFound("file not found", path=source)
    check_input_file(source, "a model file")
    size = source.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitExceeded("file size", size, limits.max_file_bytes, path=source)
    parse_variants(request.variants, [])  # syntax errors before any work
    catalog.check_product(request.sku, request.category)
    _check_encoders()
    if hooks.step:
        hooks.step("reading", 1, 3 + len(options.lods) + int(options.measure_error))
    optimized = optimize_for_publish(read(source, limits), file_sha256(source), options, hooks.step, steps_before=1)
    report = publish_optimized(request, optimized, store, catalog, options=options, hooks=hooks)
    report.seconds = time.perf_counter() - t0
    return report


def _check_encoders() -> None:
    try:
        from .io.usdz import write_usdz  # noqa: F401
        from .thumbnail import render_thumbnail  # noqa: F401
    except ImportError as exc:
        raise MissingEncoder(f"the USDZ writer or thumbnail renderer is not available ({exc.name})") from None


def publish_optimized(request: PublishRequest, optimized: OptimizedModel, store: AssetStore, catalog: Catalog, *,
                      options: PublishOptions = PublishOptions(),
                      hooks: PublishHooks = PublishHooks()) -> PublishReport:
    """Publish a model optimized in memory (:func:`optimize_for_publish`) as the next version of ``request.sku``:
    USDZ per LOD and the thumbnail are made from the in-memory documents (nothing is read back), every object goes
    into the store, the catalog version is committed last. ``request.source`` only names the source.

    A model with KHR_materials_variants gets, per LOD, one USDZ holding every variant (a USD variant set) and one
    USDZ per published variant showing it alone: AR Quick Look has no UI for variant sets, so the manifest points
    each variant at its own file. What a USDZ cannot carry is added to the warnings."""
    from .io.usdz import write_usdz
    from .thumbnail import render_thumbnail

    t0 = time.perf_counter()
    check_sku(request.sku)
    parse_variants(request.variants, [])
    catalog.check_product(request.sku, request.category)
    _check_encoders()
    rep = optimized.report
    with tempfile.TemporaryDirectory(prefix="phygital-publish-") as tmp:
        work = Path(tmp)
        files: list[tuple[AssetFormat, int, Path, int | None, int | None]] = []
        reused: list[PublishedObject] = []
        khr_names = _khr_variant_names(optimized.lods[0].doc.gltf)
        variants = parse_variants(request.variants, khr_names)
        alone = sorted({v.khr_index for v in variants if v.khr_index is not None})
        usdz_warnings: list[str] = []
        converted: dict[str, tuple[bytes, str]] = {}  # WebP -> PNG/JPEG once for every LOD and variant
        n_steps = 2 * len(optimized.lods) + 1
        for i, (lod, out) in enumerate(zip(rep.lods, optimized.lods, strict=True)):
            glb = work / (f"model.lod{i}.glb" if i else "model.glb")
            glb.write_bytes(out.glb)  # the store takes files
            files.append((AssetFormat.glb, i, glb, lod.triangles, None))
            if hooks.step:
                hooks.step(f"USDZ LOD {i}", 2 * i + 1, n_steps)
            if i == 0:
                if hooks.step:
                    hooks.step("thumbnail", 2, n_steps)
                png = work / "thumbnail.png"
                png.write_bytes(render_thumbnail(out.doc, options.thumbnail_size))
                files.append((AssetFormat.png, 0, png, None, None))
            glb_sha = hashlib.sha256(out.glb).hexdigest()
            for variant in [None, *alone]:
                earlier = find_usdz_for(catalog, glb_sha, variant)
                if earlier is not None and store.exists(earlier.storage_key):
                    # the same GLB was converted before: reuse that USDZ (the writer's zip carries timestamps,
                    # so converting again would store new bytes for the same model)
                    reused.append(PublishedObject(AssetFormat.usdz.value, i, earlier.storage_key, earlier.sha256,
                                                  earlier.bytes, False, lod.triangles, variant))
                    continue
                usdz = work / (f"model.lod{i}.usdz" if variant is None else f"model.lod{i}.variant{variant}.usdz")
                before = len(out.doc.warnings)
                write_usdz(out.doc, usdz, variant, converted)
                usdz_warnings += [w for w in out.doc.warnings[before:] if w not in usdz_warnings]
                files.append((AssetFormat.usdz, i, usdz, lod.triangles, variant))

        if hooks.transfer_start:
            hooks.transfer_start(sum(p.stat().st_size for _, _, p, _, _ in files))
        objects: list[PublishedObject] = list(reused)
        for fmt, lod_index, path, tris, variant in files:
            if hooks.before_put:
                hooks.before_put(path)
            stored = store.put(path, content_type=CONTENT_TYPES[fmt], progress=hooks.transfer)
            objects.append(PublishedObject(fmt.value, lod_index, stored.key, stored.sha256, stored.bytes,
                                           stored.created, tris, variant))
            logger.debug("%s lod %d -> %s (%s)", fmt.value, lod_index, stored.key,
                         "new" if stored.created else "already stored")

        objects.sort(key=lambda o: (o.lod, o.format, -1 if o.variant is None else o.variant))
        dims = rep.dimensions_m or [0.0, 0.0, 0.0]
        warnings = list(rep.warnings) + [w for w in usdz_warnings if w not in rep.warnings]
        sized = size_warning(dims, options.units, CATEGORY_SIZE_M[request.category],
                             f"the category {request.category.value}")
        if sized and not any("implausibly" in w for w in warnings):
            warnings.append(sized)
        new = NewVersion(
            source_name=request.source_name or Path(request.source).name, source_sha256=optimized.source_sha256,
            dimensions_m=(float(dims[0]), float(dims[1]), float(dims[2])),
            assets=[NewAsset(AssetFormat(o.format), o.lod, o.bytes, o.sha256, o.key, o.triangles, o.variant)
                    for o in objects],
            variants=variants, warnings=warnings, note=request.note, publish_key=request.publish_key)
        version = catalog.add_version(request.sku, request.name, request.category, new)  # the commit point
    return PublishReport(
        sku=request.sku, version=version.number, store=store.describe(), dimensions_m=[float(d) for d in dims],
        objects=objects, warnings=warnings,
        variants=[{"name": v.name, "value": v.value, "khr_index": v.khr_index} for v in variants],
        seconds=rep.seconds + time.perf_counter() - t0)


def delete_product(sku: str, store: AssetStore, catalog: Catalog) -> int:
    """Remove a product from the catalog first, then the objects nothing else references; returns that count."""
    orphans = catalog.delete(sku)
    for key in sorted(orphans):
        store.delete(key)
    return len(orphans)
