"""``optimize``: options -> a list of transforms, run on a document; LOD chain; file in, GLBs out.

Order of steps: attributes -> [flat normals] -> weld -> join -> prune -> [normals] -> [tangents] -> ar_frame ->
(reference copy taken) -> [simplify] -> quantize -> weld -> reorder -> textures -> prune; compression
happens in the writer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .document import AssetDocument
from .errors import AssetError, PipelineFailure
from .io.atomic import check_target, write_files_atomic
from .io.glb import Compression, WriteOptions, encode_glb, glb_json
from .limits import DEFAULT_LIMITS, Limits
from .report import AnimationReport, LodReport, OptimizeReport, StepReport
from .scene import world_triangles
from .transforms.animation import AnimationOptions, compress_animation
from .transforms.ar_frame import FrameOptions, ar_frame, dimensions, size_warning
from .transforms.attributes import drop_unused_attributes, drop_zero_deltas
from .transforms.base import Transform
from .transforms.join import join
from .transforms.normals import drop_flat_normals, normals
from .transforms.prune import prune
from .transforms.quantize import QuantizeOptions, quantize
from .transforms.reorder import reorder
from .transforms.simplify import SimplifyOptions, simplify
from .transforms.tangents import tangents
from .transforms.textures import Encoder, TextureOptions, image_size, needs_textures, textures
from .transforms.weld import weld

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class OptimizeOptions:
    """What ``optimize`` does: each transform's switches and options, LODs, output and texture settings."""
    weld: bool = True
    prune: bool = True
    join: bool = True
    """Merge materials that differ only in name and join primitives that share a material."""
    keep_attributes: bool = False
    """Keep texture coordinates no texture reads (and tangents without a normal map)."""
    generate_normals: bool = False
    generate_tangents: bool = False
    ratio: float | None = None
    """Simplify the main output to this fraction of triangles (None: keep every triangle)."""
    error: float = 0.01
    lock_border: bool = False
    lods: tuple[float, ...] = ()
    """Extra LOD ratios written next to the output (for example 0.5, 0.25, 0.1)."""
    reorder: bool = True
    quantize: bool = True
    quantization: QuantizeOptions = field(default_factory=QuantizeOptions)
    compression: Compression = "meshopt"
    texture: TextureOptions = field(default_factory=TextureOptions)
    frame: FrameOptions = field(default_factory=FrameOptions)
    animation: AnimationOptions | None = field(default_factory=AnimationOptions)
    """Error bounds for dropping and quantizing animation keys (None: keyframes are kept as they are)."""
    measure_error: bool | None = None
    """Measure each output's symmetric Hausdorff error against the input. None: only when simplifying (a ratio or
    LODs are asked for)."""

    def measures(self) -> bool:
        """True when the geometric error is measured (asked for, or by default when simplifying)."""
        if self.measure_error is None:
            return self.ratio is not None or bool(self.lods)
        return self.measure_error


DEFAULTS = OptimizeOptions()


def base_transforms(options: OptimizeOptions, report: OptimizeReport | None = None) -> list[Transform]:
    """Return the transforms run on every output (attributes, flat normals, weld, join, prune, normals, tangents,
    AR frame, animation; the animation's errors and the flat normals dropped go to ``report``)."""
    steps: list[Transform] = []
    steps.append(drop_zero_deltas() if options.keep_attributes else drop_unused_attributes())
    if not (options.keep_attributes or options.generate_normals or options.generate_tangents):
        def flat(count: int) -> None:
            if report is not None:
                report.flat_normals_dropped += count

        steps.append(drop_flat_normals(flat))
    if options.weld:
        steps.append(weld())
    if options.join:
        steps.append(join())
    if options.prune:
        steps.append(prune())
    if options.generate_normals:
        steps.append(normals())
    if options.generate_tangents:
        steps.append(tangents())
    steps.append(ar_frame(options.frame))
    if options.animation is not None:
        def keep(result: AnimationReport) -> None:
            if report is not None:
                report.animation = result

        steps.append(compress_animation(options.animation, keep))
    return steps


def simplify_transform(options: OptimizeOptions, ratio: float, reference: AssetDocument | None = None,
                       surfaces: dict[tuple[tuple[int, int], ...], object] | None = None) -> Transform:
    """Return the simplify step to ``ratio`` of ``reference``'s triangles (default: the document's), its error
    measured against the reference; ``surfaces`` keeps each primitive's measuring surface across LODs."""
    from .codecs import simplifier as node_simplifier
    from .metrics import PartsReference

    cache: dict[tuple[tuple[int, int], ...], object] = {} if surfaces is None else surfaces

    def reference_of(parts: list[tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]],
                     background: bool = False) -> PartsReference:
        # every round, candidate and LOD is measured against the same reference: sample it and build its distance
        # scene once
        key = tuple(k for k, _, _, _ in parts)
        ref = cache.get(key)
        pairs = [(v, f) for _, v, f, _ in parts]
        if not isinstance(ref, PartsReference) or not ref.same(pairs):
            ref = cache[key] = PartsReference(pairs, background=background)
        return ref

    def measure(parts: list[tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]],
                stop: float = np.inf) -> list[float]:
        return [float(d) for d in reference_of(parts).distances([t for _, _, _, t in parts], stop)]

    def prepare(parts: list[tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]]) -> None:
        reference_of(parts, background=True)  # made while node simplifies

    chosen = node_simplifier.best_simplifier()
    batch = node_simplifier.simplify_many if chosen is node_simplifier.simplify else None
    settings = SimplifyOptions(ratio, options.error, options.lock_border, permissive=batch is not None)
    return simplify(settings, chosen, measure, reference, batch, prepare)  # type: ignore[arg-type]


def finishing_transforms(options: OptimizeOptions, ratio: float | None,
                         simplify_step: Transform | None = None, *, texture_ratio: float = 1.0,
                         encoder: Encoder | None = None) -> list[Transform]:
    """Return the transforms of one output at ``ratio`` (simplify, quantize, reorder, textures); ``simplify_step``
    replaces the default simplify step (LODs simplified from the previous one); ``texture_ratio``: the output's
    triangles as a fraction of the main output's (a LOD's textures are scaled down with it); ``encoder`` replaces
    the image encoder (one that remembers what it encoded for every output)."""
    from .codecs import images, meshopt

    steps: list[Transform] = []
    if ratio is not None and ratio < 1.0:
        steps.append(simplify_step or simplify_transform(options, ratio))
    if options.quantize and options.compression != "draco":  # Draco quantizes on its own
        steps.append(quantize(options.quantization))
        if options.weld:
            steps.append(weld())  # vertices that became equal on the integer grid
    if options.reorder:
        cache = (meshopt.optimize_vertex_cache_strip if options.compression == "meshopt"
                 else meshopt.optimize_vertex_cache)
        steps.append(reorder(cache, meshopt.vertex_fetch_remap))
    if needs_textures(options.texture, texture_ratio):
        steps.append(textures(options.texture, encoder or images.reencode, texture_ratio))
    if options.prune:
        steps.append(prune())
    return steps


def run(doc: AssetDocument, steps: list[Transform], report: list[StepReport] | None = None) -> None:
    """Apply ``steps`` to ``doc`` in order, appending each step's time and triangles to ``report``."""
    for step in steps:
        t0 = time.perf_counter()
        try:
            step(doc)
        except AssetError as exc:
            raise (exc.at(doc.source) if doc.source else exc) from None
        except Exception as exc:  # a transform failing on valid input is our bug: say which step
            logger.debug("transform %s failed", step.name, exc_info=True)
            raise PipelineFailure(f"{step.name}: internal error ({type(exc).__name__}: {exc})",
                                  path=doc.source) from exc
        if report is not None:
            report.append(StepReport(step.name, time.perf_counter() - t0, doc.triangle_count()))


def optimize_document(doc: AssetDocument, options: OptimizeOptions = DEFAULTS) -> OptimizeReport:
    """Optimize ``doc`` in place (main output only, no LODs); returns the report."""
    report = OptimizeReport(doc.source or "", None, 0, triangles_in=doc.triangle_count())
    run(doc, base_transforms(options, report), report.steps)
    report.dimensions_m = dimensions(doc)
    _check_size(doc, report.dimensions_m, options)
    run(doc, finishing_transforms(options, options.ratio), report.steps)
    report.warnings = list(doc.warnings)
    report.extensions_used = list(doc.gltf.get("extensionsUsed", []))
    return report


def _check_size(doc: AssetDocument, dims: list[float], options: OptimizeOptions) -> None:
    """Warn when the model, in meters, is implausibly small or large for a product (wrong ``--units``)."""
    warning = size_warning(dims, options.frame.units)
    if warning:
        doc.warn(warning)


def lod_path(output: Path, index: int) -> Path:
    """Where LOD ``index`` of ``output`` is written: ``<name>.lod<index>.glb`` beside it."""
    return output.with_name(f"{output.stem}.lod{index}{output.suffix}")


@dataclass(frozen=True, slots=True)
class OptimizedLod:
    """One output of the LOD chain, in memory: its optimized document and the GLB bytes encoded from it."""

    doc: AssetDocument
    glb: bytes


def _warnings(doc: AssetDocument, outputs: list[OptimizedLod]) -> list[str]:
    """Each warning once, a could-not-reduce repeated per LOD as one line naming them (a LOD chained from the
    one before carries that one's warnings too: each belongs to the first output that has it)."""
    from .transforms.simplify import merge_stuck_warnings

    first: dict[str, int] = {}
    for i, out in enumerate(outputs):
        for w in out.doc.warnings:
            first.setdefault(w, i)
    every = dict.fromkeys([*doc.warnings, *(w for out in outputs for w in out.doc.warnings)])
    labels = {i: "the output" if i == 0 else f"LOD {i}" for i in range(len(outputs))}
    return merge_stuck_warnings([(labels.get(first.get(w, 0), ""), w) for w in every])


def optimize_lods(
    doc: AssetDocument,
    options: OptimizeOptions = DEFAULTS,
    progress: Progress | None = None,
    *,
    report: OptimizeReport | None = None,
    output: Path | None = None,
    steps_before: int = 0,
) -> tuple[OptimizeReport, list[OptimizedLod]]:
    """Optimize ``doc`` (consumed: it becomes the last output) into the main output and one output per LOD ratio,
    in memory; returns the report (LOD paths only when ``output`` names where they will be written) and the
    outputs, main first. Nothing is read or written. ``progress`` counts on from ``steps_before`` (steps the
    caller reported, such as reading), with one last "writing" step when ``output`` is given."""
    t_start = time.perf_counter()
    ratios: list[float | None] = [options.ratio, *options.lods]
    if any(r is not None and r < 1.0 for r in ratios):  # node starts while the base transforms run
        from .codecs import simplifier as node_simplifier

        node_simplifier.start()
    measure = options.measures()
    report = report or OptimizeReport(doc.source or "", None, 0, triangles_in=doc.triangle_count())
    total = steps_before + 1 + len(ratios) + (1 if measure else 0) + (1 if output is not None else 0)
    step = steps_before

    def tick(what: str) -> None:
        nonlocal step
        step += 1
        if progress:
            progress(what, step, total)

    tick("preparing")
    run(doc, base_transforms(options, report), report.steps)
    report.dimensions_m = dimensions(doc)
    _check_size(doc, report.dimensions_m, options)
    reference = doc.clone()
    outputs: list[OptimizedLod] = []
    write_opts = WriteOptions(compression=options.compression)
    surfaces: dict[tuple[tuple[int, int], ...], object] = {}
    chain: tuple[float, AssetDocument] | None = None  # the last simplified output, before quantizing
    encoder = _remembering_encoder()
    for i, ratio in enumerate(ratios):
        tick(f"LOD {i}" if i else "optimizing")
        simplified = ratio is not None and ratio < 1.0
        # each LOD is simplified from the previous one when that one kept more: chains only ever lose triangles,
        # and each step has fewer to work on; the ratio and the error stay relative to the reference
        source = chain[1] if simplified and chain is not None and ratio is not None and ratio <= chain[0] else doc
        lod = source if source is not doc else doc.clone() if i < len(ratios) - 1 else doc
        # a LOD's textures are scaled down with its triangles relative to the main output's; an image at the main
        # output's size is encoded once and shared (the encoder remembers)
        texture_ratio = 1.0 if i == 0 else (ratio or 1.0) / (ratios[0] or 1.0)
        steps = finishing_transforms(options, ratio, None if not simplified or ratio is None else
                                     simplify_transform(options, ratio, reference, surfaces),
                                     texture_ratio=texture_ratio, encoder=encoder)
        if simplified and ratio is not None:
            run(lod, steps[:1], report.steps if i == 0 else None)
            if i < len(ratios) - 1:
                chain = (ratio, lod.clone())
            steps = steps[1:]
        run(lod, steps, report.steps if i == 0 else None)
        outputs.append(OptimizedLod(lod, encode_glb(lod, write_opts)))
    surface = None
    if measure:
        tick("measuring error")
        from .metrics import SurfaceReference

        # one reference for every LOD (its samples and index made once): the same numbers as one each
        surface = SurfaceReference(*world_triangles(reference), samples=100_000)
    for i, out in enumerate(outputs):
        err = surface.hausdorff(*world_triangles(out.doc)) if surface is not None else None
        path = None if output is None else str(output if i == 0 else lod_path(output, i))
        report.lods.append(LodReport(ratios[i] or 1.0, path, out.doc.triangle_count(), len(out.glb), err,
                                     texture_sizes(out.doc)))
    if output is not None:
        tick("writing")
    report.bytes_out = len(outputs[0].glb)
    report.warnings = _warnings(doc, outputs)
    report.extensions_used = list(glb_json(outputs[0].glb).get("extensionsUsed", []))
    report.seconds += time.perf_counter() - t_start
    return report, outputs


def _remembering_encoder() -> Encoder:
    """The image encoder, remembering each result by the image's sha256 and the encoding asked for: outputs that
    carry an image at the same size share its bytes and it is encoded once."""
    import hashlib
    import threading

    from .codecs import images

    done: dict[tuple[str, str, int | None, int], bytes] = {}
    lock = threading.Lock()

    def encode(data: bytes, fmt: str, max_size: int | None, quality: int, name: str | None = None) -> bytes:
        key = (hashlib.sha256(data).hexdigest(), fmt, max_size, quality)
        with lock:
            known = done.get(key)
        if known is None:
            known = images.reencode(data, fmt, max_size, quality, name=name)
            with lock:
                known = done.setdefault(key, known)
        return known

    return encode


def texture_sizes(doc: AssetDocument) -> list[list[int]]:
    """[width, height] of each of ``doc``'s images, in order ([0, 0] for one whose header is not read: KTX2)."""
    return [list(size or (0, 0)) for size in (image_size(img) for img in doc.images)]


def optimize_file(
    source: str | Path,
    output: str | Path,
    options: OptimizeOptions = DEFAULTS,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
    validate: bool = False,
) -> OptimizeReport:
    """Read ``source``, write the optimized GLB to ``output`` (and ``<name>.lodN.glb`` for each LOD).

    All files are written to temporary names first and renamed only when every one is ready, so a
    failure leaves nothing behind. With ``validate``, the Khronos validator checks every file before the
    rename: an error raises PipelineFailure and nothing is written.
    """
    from .io.formats import read

    t_start = time.perf_counter()
    source, output = Path(source), Path(output)
    check_target(output)  # before the work, not after it
    total = 3 + 1 + len(options.lods) + (1 if options.measures() else 0)
    if progress:
        progress("reading", 1, total)
    doc = read(source, limits)
    report = OptimizeReport(str(source), str(output), source.stat().st_size, triangles_in=doc.triangle_count())
    report, outputs = optimize_lods(doc, options, progress, report=report, output=output, steps_before=1)
    write_files_atomic([(Path(lod.path or ""), out.glb) for lod, out in zip(report.lods, outputs, strict=True)],
                       _validated if validate else None)
    report.seconds = time.perf_counter() - t_start
    return report


def _validated(files: list[tuple[Path, Path]]) -> None:
    """Raise PipelineFailure naming the first written file the Khronos validator finds errors in."""
    from .validation import validate

    for (_, target), rep in zip(files, validate([tmp for tmp, _ in files]), strict=True):
        if rep.errors:
            codes = list(dict.fromkeys(str(m.get("code")) for m in rep.messages if m.get("severity") == 0))
            raise PipelineFailure(f"validator found {rep.errors} errors ({', '.join(codes[:5])}); nothing was written",
                                  path=target)


__all__ = ["DEFAULTS", "OptimizeOptions", "OptimizedLod", "optimize_document", "optimize_file", "optimize_lods", "run"]
